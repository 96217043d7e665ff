// Testvault's small progressive enhancements. Everything works without this file, except the
// proof of work the public sign-in forms ask for (at the end).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Ask before destructive actions that carry data-confirm.
  document.querySelectorAll("[data-confirm]").forEach((button) => {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
  // Copy buttons: data-copy names the input whose value to copy.
  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const input = document.querySelector(button.getAttribute("data-copy"));
      if (!input) return;
      try {
        await navigator.clipboard.writeText(input.value);
        button.textContent = "Copied";
      } catch {
        input.select();
      }
    });
  });
  // Selects that submit their form on change (the org switcher).
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form && select.form.submit());
  });
  // A file input that reads its text file into a textarea (case import).
  document.querySelectorAll("input[type=file][data-read-into]").forEach((input) => {
    input.addEventListener("change", async () => {
      const target = document.querySelector(input.getAttribute("data-read-into"));
      const file = input.files && input.files[0];
      if (target && file) target.value = await file.text();
    });
  });
  // Case editor: add, remove and reorder steps; Ctrl+Enter saves.
  document.querySelectorAll("[data-steps]").forEach((box) => {
    const list = box.querySelector(".step-list");
    const renumber = () => list.querySelectorAll("[data-step]").forEach((li, i) => {
      li.querySelectorAll("label").forEach((label, j) => {
        label.textContent = `Step ${i + 1}: ${j === 0 ? "action" : "expected result"}`;
      });
    });
    box.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      const step = button.closest("[data-step]");
      if (button.hasAttribute("data-step-add")) {
        const last = list.querySelector("[data-step]:last-child");
        if (!last) return;
        const copy = last.cloneNode(true);
        copy.querySelectorAll("textarea").forEach((t, j) => { t.value = ""; t.id = `${j === 0 ? "action" : "expected"}-${Date.now()}`; });
        copy.querySelectorAll("select").forEach((s) => { s.value = ""; s.id = `shared-${Date.now()}`; });
        const inputs = copy.querySelectorAll("textarea, select");
        copy.querySelectorAll("label").forEach((l, j) => { if (inputs[j]) l.setAttribute("for", inputs[j].id); });
        list.appendChild(copy);
        copy.querySelector("textarea").focus();
      } else if (step && button.hasAttribute("data-step-remove")) {
        if (list.querySelectorAll("[data-step]").length > 1) step.remove();
        else step.querySelectorAll("textarea").forEach((t) => { t.value = ""; });
      } else if (step && button.hasAttribute("data-step-up") && step.previousElementSibling) {
        list.insertBefore(step, step.previousElementSibling);
      } else if (step && button.hasAttribute("data-step-down") && step.nextElementSibling) {
        list.insertBefore(step.nextElementSibling, step);
      }
      renumber();
    });
  });
  document.querySelectorAll("form[data-shortcut-save]").forEach((form) => {
    form.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
  });
  // Manual execution: time spent on the case is sent with its verdict; p/f/b/s record it.
  document.querySelectorAll("form[data-execute]").forEach((form) => {
    const opened = Date.now();
    form.addEventListener("submit", () => {
      const elapsed = form.querySelector("[data-elapsed]");
      if (elapsed) elapsed.value = String(Date.now() - opened);
    });
    document.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const typing = event.target.closest("input, textarea, select");
      if (typing) return;
      const button = form.querySelector(`button[data-shortcut="${event.key}"]`);
      if (button) {
        event.preventDefault();
        form.requestSubmit(button);
      }
    });
  });
  // Case list: drag a row onto another to put it there (same as the ↑/↓ buttons, which post
  // the row's place form; here the position is the target's).
  document.querySelectorAll("table.cases").forEach((table) => {
    let dragged = null;
    table.addEventListener("dragstart", (event) => {
      dragged = event.target.closest("tr[data-key]");
      if (event.dataTransfer) event.dataTransfer.effectAllowed = "move";
    });
    table.addEventListener("dragover", (event) => {
      const row = event.target.closest("tr[data-key]");
      if (!dragged || !row || row === dragged) return;
      event.preventDefault();
      table.querySelectorAll(".drop-target").forEach((r) => r.classList.remove("drop-target"));
      row.classList.add("drop-target");
    });
    table.addEventListener("drop", (event) => {
      const row = event.target.closest("tr[data-key]");
      if (!dragged || !row || row === dragged) return;
      event.preventDefault();
      const form = dragged.querySelector("form.place-form");
      if (!form) return;
      form.querySelector("input[name=suite]").value = row.getAttribute("data-suite");
      form.querySelector("input[name=position]").value = row.getAttribute("data-position");
      form.submit();
    });
    table.addEventListener("dragend", () => {
      dragged = null;
      table.querySelectorAll(".drop-target").forEach((r) => r.classList.remove("drop-target"));
    });
  });
});

// Proof of work on public forms (ALTCHA's format, solved here; no third party): before a
// `form[data-pow]` is sent, fetch a challenge, find the number whose SHA-256 with the salt is
// the challenge, and put the solution in the form's `altcha` field.
document.addEventListener("DOMContentLoaded", () => {
  const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
  async function solve() {
    const resp = await fetch("/altcha/challenge", { credentials: "same-origin", cache: "no-store" });
    if (!resp.ok) throw new Error("no challenge");
    const c = await resp.json();
    const encoder = new TextEncoder();
    for (let n = 0; n <= c.maxnumber; n++) {
      const digest = await crypto.subtle.digest("SHA-256", encoder.encode(c.salt + n));
      if (hex(digest) === c.challenge) {
        const payload = { algorithm: c.algorithm, challenge: c.challenge, number: n, salt: c.salt, signature: c.signature };
        return btoa(JSON.stringify(payload));
      }
    }
    throw new Error("unsolved challenge");
  }
  document.querySelectorAll("form[data-pow]").forEach((form) => {
    const field = form.querySelector("input[name=altcha]");
    if (!field) return;
    form.addEventListener("submit", async (event) => {
      if (field.value) return;
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      try {
        field.value = await solve();
      } finally {
        if (button) button.disabled = false;
      }
      form.submit();
    });
  });
});

// Passkeys (WebAuthn): buttons marked `data-passkey="register|sign-in|second-factor"` run one
// ceremony against the JSON API — options from the server, the authenticator through
// `navigator.credentials`, its answer back — then go on to `data-next`. Binary fields travel as
// base64url. Errors land in the page's `[data-passkey-error]` element.
document.addEventListener("DOMContentLoaded", () => {
  const buttons = document.querySelectorAll("[data-passkey]");
  if (!buttons.length) return;
  const supported = !!(window.PublicKeyCredential && navigator.credentials);
  const toBytes = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const toText = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const withIds = (list) => (list || []).map((c) => ({ ...c, id: toBytes(c.id) }));
  function creationOptions(o) {
    return { ...o, challenge: toBytes(o.challenge), user: { ...o.user, id: toBytes(o.user.id) }, excludeCredentials: withIds(o.excludeCredentials) };
  }
  function requestOptions(o) {
    return { ...o, challenge: toBytes(o.challenge), allowCredentials: withIds(o.allowCredentials) };
  }
  function answer(cred) {
    const r = cred.response;
    const response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      if (r.getTransports) response.transports = r.getTransports();
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      if (r.userHandle) response.userHandle = toText(r.userHandle);
    }
    return { id: cred.id, rawId: toText(cred.rawId), type: cred.type, response, extensions: cred.getClientExtensionResults() };
  }
  async function call(path, body) {
    const resp = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body || {}),
    });
    const json = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error((json.error && json.error.message) || `the server answered ${resp.status}`);
    return json.data;
  }
  const routes = {
    register: ["/api/v1/me/passkeys/register", "/api/v1/me/passkeys", true],
    "sign-in": ["/api/v1/auth/passkey/start", "/api/v1/auth/passkey", false],
    "second-factor": ["/api/v1/auth/second-factor/passkey/start", "/api/v1/auth/second-factor/passkey", false],
  };
  const errorBox = document.querySelector("[data-passkey-error]");
  buttons.forEach((button) => {
    if (!supported) {
      button.hidden = true;
      return;
    }
    button.addEventListener("click", async (event) => {
      event.preventDefault();
      const [start, finish, creating] = routes[button.dataset.passkey] || [];
      if (!start) return;
      if (errorBox) errorBox.hidden = true;
      button.disabled = true;
      try {
        const ceremony = await call(start);
        const cred = creating
          ? await navigator.credentials.create({ publicKey: creationOptions(ceremony.options) })
          : await navigator.credentials.get({ publicKey: requestOptions(ceremony.options) });
        const nameField = document.getElementById(button.dataset.nameField || "");
        await call(finish, { ceremony: ceremony.ceremony, credential: answer(cred), name: nameField ? nameField.value : "" });
        window.location.assign(button.dataset.next || "/projects");
      } catch (err) {
        if (errorBox) {
          errorBox.textContent = err && err.name === "NotAllowedError" ? "The passkey request was cancelled or timed out." : String(err.message || err);
          errorBox.hidden = false;
        }
      } finally {
        button.disabled = false;
      }
    });
  });
});

// A page with one `a[data-autofollow]` (the way on to an identity provider) follows it at once;
// without the script, it is a button to press.
document.addEventListener("DOMContentLoaded", () => {
  const links = document.querySelectorAll("a[data-autofollow]");
  if (links.length === 1) window.location.replace(links[0].href);
});
