// Walks Testvault in a real headless Chromium: setup -> projects -> create project -> invite ->
// sign out -> member accepts the invitation -> owner signs in again -> sessions. Saves a screenshot
// of each step and fails on any console error (a CSP violation shows up as one).
//
// Env: TV_URL (https://127.0.0.1:port), TV_SETUP_LINK, TV_CERT (PEM path), TV_SCREENSHOTS (dir).
import { chromium } from "playwright-core";
import { X509Certificate, createHash, createHmac } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const base = process.env.TV_URL;
const setupLink = process.env.TV_SETUP_LINK;
const shots = process.env.TV_SCREENSHOTS || "screenshots";
mkdirSync(shots, { recursive: true });

// Trust exactly the server's certificate (by its public-key hash), not "any certificate".
const cert = new X509Certificate(readFileSync(process.env.TV_CERT));
const spki = createHash("sha256")
  .update(cert.publicKey.export({ type: "spki", format: "der" }))
  .digest("base64");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    `--ignore-certificate-errors-spki-list=${spki}`,
  ],
});

const problems = [];
async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    // The one expected failure: step 7 posts a wrong password and the page answers 401.
    const expected = page.url().endsWith("/sign-in") && msg.text().includes("status of 401");
    if (!expected) problems.push(`console error on ${page.url()}: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page error on ${page.url()}: ${err.message}`));
  return page;
}

let step = 0;
async function shot(page, name) {
  step += 1;
  await page.screenshot({ path: join(shots, `${String(step).padStart(2, "0")}-${name}.png`), fullPage: true });
}

function expect(cond, message) {
  if (!cond) throw new Error(message);
}

// What an authenticator app shows (RFC 6238: HMAC-SHA1, 30 s, 6 digits), `offset` steps away.
function totp(base32, offset = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const bytes = [];
  for (const ch of base32.replace(/=+$/, "").toUpperCase()) {
    const i = alphabet.indexOf(ch);
    if (i < 0) continue;
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30) + offset));
  const h = createHmac("sha1", Buffer.from(bytes)).update(msg).digest();
  const o = h[h.length - 1] & 0xf;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, "0");
}

const ownerPassword = "walkthrough owner passphrase";
const memberPassword = "walkthrough member passphrase";

try {
  // 1. First-run setup through the one-time link.
  const owner = await newPage();
  await owner.goto(setupLink);
  await shot(owner, "setup");
  await owner.fill("#org_name", "Acme");
  await owner.fill("#display_name", "Olive Owner");
  await owner.fill("#email", "owner@acme.test");
  await owner.fill("#password", ownerPassword);
  await owner.click("button[type=submit]");
  await owner.waitForURL(`${base}/projects`);
  expect(await owner.isVisible("text=No projects yet"), "empty state shown");
  await shot(owner, "projects-empty");

  // 2. Create a project.
  await owner.fill("#name", "Web shop");
  await owner.fill("#slug", "web-shop");
  await owner.fill("#description", "Checkout and catalogue");
  await owner.click("text=Create project");
  await owner.waitForURL(`${base}/projects/web-shop`);
  expect(await owner.isVisible("h1:has-text('Web shop')"), "project page shows its name");
  await shot(owner, "project");

  // 3. Invite a member; the link is shown because no mail server is configured.
  await owner.click("nav >> text=Members");
  await owner.waitForURL(`${base}/members`);
  await owner.fill("#email", "max@acme.test");
  await owner.click("text=Create invitation");
  await owner.waitForSelector("#invite-link");
  const inviteLink = await owner.inputValue("#invite-link");
  expect(inviteLink.startsWith(`${base}/invite/`), `invitation link shown: ${inviteLink}`);
  await shot(owner, "invitation");

  // 4. Sign out.
  await owner.click("text=Sign out");
  await owner.waitForURL(`${base}/sign-in`);
  await shot(owner, "signed-out");

  // 5. The invitee accepts in another browser and lands on the projects list.
  const member = await newPage();
  await member.goto(inviteLink);
  expect(await member.isVisible("text=Join Acme"), "invitation page names the org");
  await shot(member, "invitation-accept");
  await member.fill("#display_name", "Max Member");
  await member.fill("#password", memberPassword);
  await member.click("button[type=submit]");
  await member.waitForURL(`${base}/projects`);
  expect(await member.isVisible("text=No projects for you yet"), "a new viewer sees no project until granted one");
  expect(!(await member.isVisible("text=Web shop")), "ungranted projects stay hidden");
  expect(!(await member.isVisible("text=New project")), "a viewer cannot create projects");
  await shot(member, "member-no-projects");
  await member.click("text=Sign out");
  await member.waitForURL(`${base}/sign-in`);

  // 6. The owner signs in again (keyboard only) and sees the sessions page.
  await owner.goto(`${base}/sign-in`);
  await owner.focus("#email");
  await owner.keyboard.type("owner@acme.test");
  await owner.keyboard.press("Tab");
  await owner.keyboard.type(ownerPassword);
  await owner.keyboard.press("Enter");
  await owner.waitForURL(`${base}/projects`);
  await owner.click("nav >> text=Sessions");
  await owner.waitForURL(`${base}/sessions`);
  expect(await owner.isVisible("text=this session"), "current session marked");
  await shot(owner, "sessions");

  // 6a. The owner grants the member access to the project from its page.
  await owner.goto(`${base}/projects/web-shop`);
  await owner.selectOption("#grant-user", { label: "Max Member (max@acme.test)" });
  await owner.selectOption("#grant-role", "tester");
  await owner.click("button:has-text('Grant')");
  await owner.waitForURL(`${base}/projects/web-shop#access`);
  expect(await owner.isVisible("#access >> text=max@acme.test"), "grant listed");
  await shot(owner, "project-access");

  // 6b. A custom role, built from checkboxes, assigned on the members page.
  await owner.click("nav >> text=Roles");
  await owner.waitForURL(`${base}/roles`);
  await owner.fill("#new-role-name", "QA lead");
  for (const perm of ["read_projects", "all_projects", "execute_runs", "comment"]) {
    await owner.check(`form[action='/roles'] input[value=${perm}]`);
  }
  await owner.click("text=Create role");
  await owner.waitForURL(`${base}/roles`);
  expect(await owner.isVisible("summary >> text=QA lead"), "custom role listed");
  await shot(owner, "roles");
  await owner.click("nav >> text=Members");
  await owner.waitForURL(`${base}/members`);
  const maxRow = owner.locator("tr", { hasText: "max@acme.test" });
  await maxRow.locator("select").selectOption({ label: "QA lead (custom)" });
  await maxRow.locator("button:has-text('Change')").click();
  await owner.waitForURL(`${base}/members`);
  await shot(owner, "members-roles");

  // 6c. The member signs in again: the role and the grant apply.
  await member.goto(`${base}/sign-in`);
  await member.fill("#email", "max@acme.test");
  await member.fill("#password", memberPassword);
  await member.click("button[type=submit]");
  await member.waitForURL(`${base}/projects`);
  expect(await member.isVisible("text=Web shop"), "member sees the granted project");
  expect(await member.isVisible("text=QA lead"), "member's role shown");
  await shot(member, "member-projects");

  // 6d. A CI token for the project, shown once.
  await owner.click("nav >> text=Tokens");
  await owner.waitForURL(`${base}/tokens`);
  await owner.fill("#name", "GitHub Actions");
  await owner.selectOption("#project", "web-shop");
  await owner.check("input[name=scope_results_write]");
  await owner.click("text=Create token");
  await owner.waitForSelector("#new-token");
  const ciToken = await owner.inputValue("#new-token");
  expect(ciToken.startsWith("tvt_"), "token shown once");
  await shot(owner, "tokens");

  // 6d'. CI reports a JUnit file with that token; the run shows on the project and its own page.
  const junit = `<testsuite name="checkout">
  <testcase classname="shop.CheckoutTest" name="pays_with_card" time="0.12"/>
  <testcase classname="shop.CheckoutTest" name="refuses_expired_card" time="0.05"><failure message="expected 402 but got 200">AssertionError: expected 402 but got 200
    at CheckoutTest.java:42</failure></testcase>
  <testcase classname="shop.CartTest" name="applies_coupon"><skipped/></testcase>
</testsuite>`;
  const status = await owner.evaluate(async ([token, body]) => {
    const r = await fetch("/api/v1/projects/web-shop/uploads?branch=main&title=CI%20build", {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/xml" },
      body,
    });
    return r.status;
  }, [ciToken, junit]);
  expect(status === 201, `upload answered ${status}`);
  await owner.goto(`${base}/projects/web-shop`);
  expect(await owner.isVisible("text=#1"), "the run is listed on the project");
  await owner.click("a:has-text('CI build')");
  await owner.waitForURL(`${base}/projects/web-shop/runs/1`);
  expect(await owner.isVisible("text=refuses_expired_card"), "the failure is listed");
  await owner.click("a:has-text('refuses_expired_card')");
  await owner.waitForSelector("#drawer");
  expect(await owner.isVisible("#drawer >> text=CheckoutTest.java:42"), "the result opens with its trace");
  expect(await owner.isVisible("#drawer svg.strip"), "with its history strip");
  await shot(owner, "run-result");
  await owner.click("#drawer >> a:has-text('Close')");
  await owner.click("a:has-text('By suite')");
  await owner.waitForURL(/group=suite/);
  expect(await owner.isVisible("td >> text=checkout"), "the run by suite");
  await owner.click("a:has-text('By error')");
  await owner.waitForURL(/group=error/);
  expect(await owner.isVisible("text=expected 402 but got 200"), "the run by error");
  await shot(owner, "run");

  // 6d''. A branch breaks a test (and brings a hostile test name): the comparison with main
  // shows the new failure, and the name renders as text, never as markup.
  const broken = `<testsuite name="checkout">
  <testcase classname="shop.CheckoutTest" name="pays_with_card" time="0.12"><failure message="card declined">at CheckoutTest.java:17</failure></testcase>
  <testcase classname="shop.CheckoutTest" name="refuses_expired_card" time="0.05"/>
  <testcase classname="shop.CartTest" name="&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;"/>
</testsuite>`;
  const second = await owner.evaluate(async ([token, body]) => {
    const r = await fetch("/api/v1/projects/web-shop/uploads?branch=feature%2Fpay&title=Feature", {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/xml" },
      body,
    });
    return r.status;
  }, [ciToken, broken]);
  expect(second === 201, `second upload answered ${second}`);
  await owner.goto(`${base}/projects/web-shop/runs/2`);
  await owner.click("a:has-text('compare with main')");
  await owner.waitForURL(`${base}/projects/web-shop/runs/2/compare`);
  expect(await owner.isVisible("text=no new failures") === false, "the gate shows new failures");
  expect(await owner.isVisible("#new-failures >> text=pays_with_card"), "the new failure is listed");
  expect(await owner.isVisible("#fixed >> text=refuses_expired_card"), "the fix is listed");
  expect(await owner.isVisible("text=<img src=x"), "the hostile name shows as text");
  expect((await owner.evaluate(() => window.__xss)) === undefined, "no script ran");
  await shot(owner, "compare");
  await owner.click("#new-failures >> a:has-text('pays_with_card')");
  await owner.waitForURL(/\/projects\/web-shop\/tests\/\d+$/);
  expect(await owner.isVisible("text=failing since"), "the test page dates the failure");
  expect(await owner.isVisible("svg.strip >> nth=1"), "a status strip per branch");
  await shot(owner, "test-history");
  await owner.goto(`${base}/projects/web-shop`);
  await owner.click("a:has-text('Flaky tests')");
  await owner.waitForURL(`${base}/projects/web-shop/flaky`);
  expect(await owner.isVisible("text=pays_with_card"), "the flipping test is listed as flaky");
  await shot(owner, "flaky");
  await owner.goto(`${base}/projects/web-shop`);
  await owner.click("a:has-text('Failure clusters')");
  await owner.waitForURL(`${base}/projects/web-shop/clusters`);
  expect(await owner.isVisible("text=card declined"), "the new failure is a cluster");
  expect(await owner.isVisible("text=expected 402 but got 200"), "so is the first run's");
  const declined = owner.locator("tr", { hasText: "card declined" });
  await declined.locator("select").selectOption("product_bug");
  await declined.locator("input[name=note]").fill("PAY-7");
  await declined.locator("button:has-text('Save')").click();
  await owner.waitForURL(`${base}/projects/web-shop/clusters`);
  expect(await owner.isVisible("tr:has-text('card declined') >> .badge:has-text('product bug')"), "the cluster is labelled");
  await shot(owner, "clusters");
  await owner.goto(`${base}/projects/web-shop`);
  await owner.fill("#branch", "main");
  await owner.click("button:has-text('Filter')");
  await owner.waitForURL(/branch=main/);
  expect(await owner.isVisible("a:has-text('CI build')"), "the main run stays");
  expect(!(await owner.isVisible("a:has-text('Feature')")), "the branch run is filtered out");
  await shot(owner, "runs-filtered");
  await owner.click("a:has-text('Dashboard')");
  await owner.waitForURL(`${base}/projects/web-shop/dashboard`);
  expect(await owner.isVisible("text=Heat map"), "the dashboard shows its heat map");
  await shot(owner, "dashboard");
  await owner.click("a:has-text('tests × runs')");
  await owner.waitForURL(`${base}/projects/web-shop/heatmap?by=test`);
  expect(await owner.isVisible(".heat-label >> text=pays_with_card"), "the heat map by test");
  await shot(owner, "heat-map");

  // 6d'''. Stored XSS: hostile text in every field a result shows (message, trace, output,
  // properties, file, suite) renders as text in the run page and its drawer; no script runs.
  const payloads = [
    "<script>window.__xss=2</script>",
    "<svg onload=\"window.__xss=3\"></svg>",
    "\" onmouseover=\"window.__xss=4\" x=\"",
    "<img src=x onerror=\"window.__xss=5\">",
  ];
  const hostile = await owner.evaluate(async ([token, payloads]) => {
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    let r = await fetch("/api/v1/projects/web-shop/runs", { method: "POST", headers, body: JSON.stringify({ branch: "xss" }) });
    const run = (await r.json()).data;
    r = await fetch(`/api/v1/projects/web-shop/runs/${run.id}/results`, {
      method: "POST", headers, body: JSON.stringify({ results: [{
        suite: [payloads[1]], name: "hostile_result", outcome: "failed",
        message: payloads.join(" "), trace: payloads.join("\n"), stdout: payloads[0], stderr: payloads[3],
        file: payloads[2], line: 1, labels: { [payloads[3]]: payloads[2], note: payloads[0] },
        attempts: [{ outcome: "failed", message: payloads[1], trace: payloads[0] }],
      }] }),
    });
    if (r.status !== 201) return `results answered ${r.status}`;
    r = await fetch(`/api/v1/projects/web-shop/runs/${run.id}/finish`, { method: "POST", headers, body: "{}" });
    return r.status === 200 ? run.number : `finish answered ${r.status}`;
  }, [ciToken, payloads]);
  expect(typeof hostile === "number", `hostile upload: ${hostile}`);
  await owner.goto(`${base}/projects/web-shop/runs/${hostile}`);
  await owner.click("a:has-text('hostile_result')");
  await owner.waitForSelector("#drawer");
  expect(await owner.isVisible("#drawer pre >> text=window.__xss=2 >> nth=0"), "the payload shows as text");
  await owner.hover("#drawer");
  await shot(owner, "run-xss");
  await owner.click("a:has-text('By suite')");
  await owner.waitForURL(/group=suite/);
  await owner.click("a:has-text('By error')");
  await owner.waitForURL(/group=error/);
  expect((await owner.evaluate(() => window.__xss)) === undefined, "no script ran in the run page or the drawer");

  // 6f. The test repository: a suite, a custom field, a case written in the editor (a step
  // added and moved with the page's buttons, saved with Ctrl+Enter), hostile Markdown shown as
  // text, an edit and its history with a restore, reorder by button and by drag, bulk edit.
  await owner.goto(`${base}/projects/web-shop`);
  await owner.click("a:has-text('Test cases')");
  await owner.waitForURL(`${base}/projects/web-shop/cases`);
  await owner.fill("#suite-name", "Checkout");
  await owner.click("button:has-text('Add suite')");
  await owner.waitForURL(/notice=/);
  expect(await owner.isVisible(".tree >> text=Checkout"), "the suite is in the tree");
  await owner.click("a:has-text('Custom fields')");
  await owner.waitForURL(`${base}/projects/web-shop/fields`);
  await owner.fill("#fname", "Browser");
  await owner.selectOption("#fkind", "select");
  await owner.fill("#foptions", "chrome\nfirefox");
  await owner.click("button:has-text('Add field')");
  await owner.waitForURL(`${base}/projects/web-shop/fields`);
  expect(await owner.isVisible("td:has-text('chrome, firefox')"), "the field and its choices");
  await owner.goto(`${base}/projects/web-shop/cases`);
  await owner.click(".tree >> text=Checkout");
  await owner.waitForURL(/suite=/);
  const suiteId = new URL(owner.url()).searchParams.get("suite");
  await owner.click("a:has-text('New case')");
  await owner.waitForURL(/\/cases\/new/);
  await owner.fill("#title", "Pay by card");
  await owner.selectOption("#priority", "high");
  await owner.fill("#tags", "smoke, payments");
  await owner.selectOption("select[name^='field:']", "firefox");
  await owner.fill("#description", `Use a **test** card. ${payloads[0]} [docs](javascript:window.__xss=6)`);
  const steps = owner.locator("[data-step]");
  await steps.nth(0).locator("textarea").nth(0).fill("Open the cart");
  await steps.nth(0).locator("textarea").nth(1).fill("The items are listed");
  await steps.nth(1).locator("textarea").nth(0).fill("Pay");
  await steps.nth(1).locator("textarea").nth(1).fill("A receipt shows");
  await owner.click("button:has-text('Add step')");
  expect(await steps.count() === 4, "a step was added");
  await steps.nth(3).locator("textarea").nth(0).fill("Check the email");
  await steps.nth(1).locator("[data-step-up]").click();
  await owner.focus("#title");
  await owner.keyboard.press("Control+Enter");
  await owner.waitForURL(/\/cases\/T[0-9a-f]{8}\?notice=/);
  const caseUrl = owner.url().split("?")[0];
  expect(await owner.isVisible(".prose strong:has-text('test')"), "the Markdown renders");
  expect(await owner.isVisible("text=<script>window.__xss=2</script>"), "raw HTML shows as text");
  const firstStep = await owner.textContent("table tbody tr:first-child");
  expect(firstStep.includes("Pay") && firstStep.includes("A receipt shows"), `the moved step is first: ${firstStep}`);
  expect(await owner.isVisible("dd:has-text('firefox')"), "the custom field shows");
  await owner.click(".prose a:has-text('docs')");
  expect((await owner.evaluate(() => window.__xss)) === undefined, "no script ran from the case");
  await owner.goto(caseUrl);
  await owner.setInputFiles("#file", {
    name: "<img src=x onerror=window.__xss=7>.png",
    mimeType: "image/png",
    buffer: Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64)]),
  });
  await owner.click("button:has-text('Attach')");
  await owner.waitForURL(/notice=File%20attached/);
  expect(await owner.isVisible("#files >> text=<img src=x onerror=window.__xss=7>.png"), "the file name shows as text");
  expect(await owner.isVisible("#files img.thumb"), "the image is previewed");
  expect((await owner.evaluate(() => window.__xss)) === undefined, "no script ran from a file name");
  await shot(owner, "case");
  await owner.click("a:has-text('Edit')");
  await owner.fill("#title", "Pay by credit card");
  await owner.click("button:has-text('Save')");
  await owner.waitForURL(/notice=Saved%20as%20version%202/);
  await owner.click("a:has-text('history')");
  await owner.waitForURL(/\/history$/);
  expect(await owner.isVisible(".d-added:has-text('Title: Pay by credit card')"), "the diff shows the new title");
  expect(await owner.isVisible(".d-removed:has-text('Title: Pay by card')"), "and the old one");
  await shot(owner, "case-history");
  owner.once("dialog", (d) => d.accept());
  await owner.click("tr:has-text('created') >> button:has-text('Restore')");
  await owner.waitForURL(/notice=Restored%20as%20version%203/);
  expect(await owner.isVisible("h1:has-text('Pay by card')"), "version 1 is back as version 3");
  const made = await owner.evaluate(async (suite) => {
    const out = [];
    for (const title of ["Refund", "Pay by invoice"]) {
      const r = await fetch("/api/v1/projects/web-shop/cases", {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ title, suite }),
      });
      out.push(r.status);
    }
    return out;
  }, suiteId);
  expect(made.join() === "201,201", `cases made over the API with the session: ${made}`);
  const order = async () => (await owner.locator("table.cases tbody tr td:nth-child(2)").allTextContents()).map((t) => t.replace(/\s+/g, " ").trim());
  await owner.goto(`${base}/projects/web-shop/cases?suite=${suiteId}`);
  await owner.locator("tr", { hasText: "Pay by invoice" }).locator("button[aria-label$=' up']").click();
  await owner.waitForURL(/notice=Case\+moved/);
  let titles = await order();
  expect(titles[1].includes("Pay by invoice") && titles[2].includes("Refund"), `moved up: ${titles}`);
  await owner.goto(`${base}/projects/web-shop/cases?suite=${suiteId}`);
  await owner.dragAndDrop("table.cases tr:has-text('Refund')", "table.cases tr:has-text('Pay by card')");
  await owner.waitForURL(/notice=Case\+moved/);
  titles = await order();
  expect(titles[0].includes("Refund"), `dragged to the top: ${titles}`);
  await owner.locator("tr", { hasText: "Refund" }).locator("input[type=checkbox]").check();
  await owner.locator("tr", { hasText: "Pay by invoice" }).locator("input[type=checkbox]").check();
  await owner.fill("#add_tags", "regression");
  await owner.click("button:has-text('Apply to selected')");
  await owner.waitForURL(/notice=2\+case/);
  await owner.goto(`${base}/projects/web-shop/cases?tags=regression`);
  titles = await order();
  expect(titles.length === 2, `bulk tagged: ${titles}`);
  expect((await owner.evaluate(() => window.__xss)) === undefined, "no script ran in the repository");
  await shot(owner, "cases");

  // 6g. Plans and manual execution: a milestone, a plan of the smoke cases, a manual run started
  // from it, a case executed step by step (a step verdict, a note, then the "f" key), the run
  // completed and frozen, its verdicts counted like any run's.
  await owner.goto(`${base}/projects/web-shop`);
  await owner.click("a:has-text('Plans and milestones')");
  await owner.waitForURL(`${base}/projects/web-shop/plans`);
  await owner.fill("#m-name", "Release 1");
  await owner.fill("#m-due", "2030-01-31");
  await owner.click("button:has-text('Add milestone')");
  await owner.waitForURL(`${base}/projects/web-shop/plans`);
  await owner.fill("#p-name", "Smoke");
  await owner.selectOption("#p-milestone", { label: "Release 1" });
  await owner.fill("#p-tags", "smoke");
  await owner.click("button:has-text('Save plan')");
  await owner.waitForURL(`${base}/projects/web-shop/plans`);
  expect(await owner.isVisible("tr:has-text('Smoke') >> td:has-text('Release 1')"), "the plan belongs to the milestone");
  await owner.locator("tr", { hasText: "tags smoke" }).locator("input[name=title]").fill("Smoke before release");
  await owner.locator("tr", { hasText: "tags smoke" }).locator("button:has-text('Start manual run')").click();
  await owner.waitForURL(/\/runs\/\d+\/execute$/);
  const execUrl = owner.url();
  expect(await owner.isVisible("h2:has-text('Pay by card')"), "the first case is in focus");
  await owner.check("input[name=step_outcome_0][value=passed]");
  await owner.check("input[name=step_outcome_1][value=failed]");
  await owner.fill("#note", `Card declined ${payloads[0]}`);
  await owner.click("h2:has-text('Pay by card')");
  await owner.keyboard.press("f");
  await owner.waitForURL(/execute\?case=/);
  expect(await owner.isVisible(".exec-list >> .outcome-failed"), "the verdict is recorded");
  await shot(owner, "manual-run");
  owner.once("dialog", (d) => d.accept());
  await owner.click("button:has-text('Complete run')");
  await owner.waitForURL(/\/runs\/\d+$/);
  expect(await owner.isVisible("text=Pay by card"), "the verdicts are the run's results");
  await owner.goto(execUrl);
  expect(await owner.isVisible("text=its results are frozen"), "a completed run is frozen");
  expect(!(await owner.isVisible("button:has-text('Complete run')")), "nothing left to record");
  expect((await owner.evaluate(() => window.__xss)) === undefined, "no script ran in the manual run");
  await owner.goto(caseUrl);
  expect(await owner.isVisible("section:has-text('Manual runs') >> .outcome-failed"), "the case shows its manual verdict");
  await shot(owner, "case-after-run");

  // 6e. The audit trail records all of the above.
  await owner.click("nav >> text=Audit");
  await owner.waitForURL(`${base}/audit`);
  expect(await owner.isVisible("text=token.created"), "audit trail lists the token");
  await shot(owner, "audit");

  // 7. A wrong password shows one calm message.
  const stranger = await newPage();
  await stranger.goto(`${base}/sign-in`);
  await stranger.fill("#email", "owner@acme.test");
  await stranger.fill("#password", "not the password at all");
  await stranger.click("button[type=submit]");
  await stranger.waitForSelector(".alert-error");
  expect((await stranger.textContent(".alert-error")).includes("wrong email or password"), "sign-in error");
  await shot(stranger, "sign-in-error");

  // 7b. The member turns on two-factor authentication: a QR code drawn by the server, the key
  // as text, a code from "the app", recovery codes shown once; then signing in asks for a code.
  await member.click("nav >> text=Two-factor");
  await member.waitForURL(`${base}/account/two-factor`);
  await member.click("text=Set up two-factor authentication");
  await member.waitForSelector(".qr svg");
  const key = (await member.textContent("p:has-text('Key:') code")).trim();
  await shot(member, "two-factor-setup");
  await member.fill("#code", totp(key));
  await member.click("text=Turn it on");
  await member.waitForSelector("text=Your recovery codes");
  await shot(member, "two-factor-recovery-codes");
  await member.click("text=Sign out");
  await member.waitForURL(`${base}/sign-in`);
  await member.fill("#email", "max@acme.test");
  await member.fill("#password", memberPassword);
  await member.click("button[type=submit]");
  await member.waitForURL(`${base}/sign-in/code`);
  await shot(member, "two-factor-code");
  await member.fill("#code", totp(key, 1));
  await member.click("text=Continue");
  await member.waitForURL(`${base}/projects`);

  // 7c. Sign-in by email link: the same calm answer whatever the address.
  await stranger.goto(`${base}/sign-in`);
  await stranger.click("text=Email me a sign-in link instead");
  await stranger.waitForURL(`${base}/sign-in/link`);
  await stranger.fill("#email", "someone@acme.test");
  await stranger.click("button[type=submit]");
  await stranger.waitForSelector("text=a sign-in link is on its way");
  await shot(stranger, "sign-in-link-sent");

  // 8. Narrow screens: the layout reflows.
  await owner.setViewportSize({ width: 390, height: 800 });
  await owner.goto(`${base}/projects`);
  await shot(owner, "projects-mobile");
} catch (err) {
  problems.push(err.stack || String(err));
} finally {
  await browser.close();
}

if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log(`walkthrough passed; ${step} screenshots in ${shots}`);
