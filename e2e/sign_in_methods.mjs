// Single sign-on and passkeys in a real headless Chromium: the owner adds an OpenID Connect
// connection and a SAML connection on the Single sign-on settings page; a new person signs in
// through each from the sign-in page (the providers are npm oidc-provider and pysaml2 on
// loopback); the owner adds a passkey with
// Chromium's virtual authenticator (DevTools WebAuthn domain), signs in with it alone, and then
// gives it as the second factor of a password sign-in. Fails on any console error (a CSP
// violation shows up as one) and saves a screenshot of each step.
//
// Env: TV_URL (https://127.0.0.1:port), TV_SETUP_LINK, TV_CERT (the server's PEM), IDP_CERT (the
// provider's PEM), IDP_ISSUER, IDP_CLIENT_ID, IDP_CLIENT_SECRET, SAML_IDP (the SAML IdP's base
// URL), SAML_CERT (its PEM), TV_SCREENSHOTS (dir).
import { chromium, request } from "playwright-core";
import { X509Certificate, createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const base = process.env.TV_URL;
// Passkeys need a domain: the same server, as localhost.
const local = base.replace("127.0.0.1", "localhost");
const setupLink = process.env.TV_SETUP_LINK;
const shots = process.env.TV_SCREENSHOTS || "screenshots";
mkdirSync(shots, { recursive: true });

// Trust exactly the two servers' certificates (by public-key hash), not "any certificate".
const spki = (path) =>
  createHash("sha256")
    .update(new X509Certificate(readFileSync(path)).publicKey.export({ type: "spki", format: "der" }))
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
    `--ignore-certificate-errors-spki-list=${[process.env.TV_CERT, process.env.IDP_CERT, process.env.SAML_CERT].map(spki).join(",")}`,
  ],
});

const problems = [];
async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  page.on("console", (msg) => {
    // Only Testvault's pages are judged (the providers' test pages have no favicon, say).
    const ours = page.url().startsWith(base) || page.url().startsWith(local);
    if (msg.type() === "error" && ours) problems.push(`console error on ${page.url()}: ${msg.text()}`);
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

const ownerEmail = "owner@acme.test";
const ownerPassword = "sign-in methods owner passphrase";

// Waits for a passkey button's page to move on to `url`; a message in the page's error box
// fails at once, with that message.
async function settled(page, url) {
  const box = page.locator("[data-passkey-error]");
  await Promise.race([
    page.waitForURL(url),
    box.waitFor({ state: "visible" }).then(async () => {
      throw new Error(`passkey step failed on ${page.url()}: ${await box.textContent()}`);
    }),
  ]);
}

async function passwordSignIn(page, origin) {
  await page.goto(`${origin}/sign-in`);
  await page.fill("#email", ownerEmail);
  await page.fill("#password", ownerPassword);
  await page.click("button[type=submit]");
}

try {
  // 1. Setup, then an OpenID Connect connection from the settings page.
  const owner = await newPage();
  await owner.goto(setupLink);
  await owner.fill("#org_name", "Acme");
  await owner.fill("#display_name", "Olive Owner");
  await owner.fill("#email", ownerEmail);
  await owner.fill("#password", ownerPassword);
  await owner.click("button[type=submit]");
  await owner.waitForURL(`${base}/projects`);
  await owner.goto(`${base}/settings/sso`);
  await owner.selectOption("#preset", "generic");
  await owner.fill("#name", "Acme SSO");
  await owner.fill("#allowed_domains", "example.test");
  await owner.fill("#issuer", process.env.IDP_ISSUER);
  await owner.fill("#client_id", process.env.IDP_CLIENT_ID);
  await owner.fill("#client_secret", process.env.IDP_CLIENT_SECRET);
  await owner.click("text=Add connection");
  await owner.waitForSelector("text=Connection added.");
  expect(await owner.isVisible(`text=${base}/sso/oidc/callback`), "the redirect URI to register is shown");
  await shot(owner, "sso-connection-added");

  // 2. Someone new signs in through it from the sign-in page: address, the connection (named
  //    with its org), the provider, back, in.
  const alice = await newPage();
  await alice.goto(`${base}/sign-in`);
  await alice.click("text=Sign in with single sign-on");
  await alice.waitForURL(`${base}/sign-in/sso`);
  await alice.fill("#email", "alice@example.test");
  await alice.click("button[type=submit]");
  await alice.waitForSelector("button:has-text('Acme SSO')");
  expect(await alice.isVisible("text=(Acme)"), "the connection names its org");
  await shot(alice, "sso-find");
  await alice.click("button:has-text('Acme SSO')");
  await alice.waitForURL(`${base}/projects`);
  expect(await alice.isVisible("text=Alice Example"), "signed in as the provider's user");
  await shot(alice, "sso-signed-in");

  // 3. A SAML connection from the IdP's metadata URL; the IdP is told the new service provider
  //    (the test harness's side door: a real IdP's admin would paste this metadata).
  await owner.goto(`${base}/settings/sso`);
  await owner.selectOption("#preset", "saml");
  await owner.fill("#name", "Corp SAML");
  await owner.fill("#allowed_domains", "corp.test");
  await owner.fill("#idp_metadata_url", `${process.env.SAML_IDP}/metadata`);
  await owner.fill("#email_attribute", "email");
  await owner.fill("#name_attribute", "displayName");
  await owner.click("text=Add connection");
  await owner.waitForSelector("text=Connection added.");
  const spMetadataUrl = await owner.locator("dt:has-text('Service provider entity ID') + dd").textContent();
  await shot(owner, "saml-connection-added");
  const side = await request.newContext({ ignoreHTTPSErrors: true });
  const spMetadata = await (await side.get(spMetadataUrl.trim())).text();
  expect(spMetadata.includes("AssertionConsumerService"), "the SP metadata is served");
  await side.post(`${process.env.SAML_IDP}/__test/sp_metadata`, { data: { xml: spMetadata } });
  await side.post(`${process.env.SAML_IDP}/__test/user`, {
    data: { name_id: "sam@corp.test", email: "sam@corp.test", name: "Sam Saml" },
  });
  await side.dispose();
  const sam = await newPage();
  await sam.goto(`${base}/sign-in/sso`);
  await sam.fill("#email", "sam@corp.test");
  await sam.click("button[type=submit]");
  await sam.click("button:has-text('Corp SAML')");
  await sam.waitForURL(`${base}/projects`);
  expect(await sam.isVisible("text=Sam Saml"), "signed in through the SAML IdP");
  await shot(sam, "saml-signed-in");

  // 4. Passkeys (at localhost): the owner signs in with the password and adds one.
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const device = await ctx.newPage();
  device.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console error on ${device.url()}: ${msg.text()}`);
  });
  device.on("pageerror", (err) => problems.push(`page error on ${device.url()}: ${err.message}`));
  const cdp = await ctx.newCDPSession(device);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  await passwordSignIn(device, local);
  await device.waitForURL(`${local}/projects`);
  await device.goto(`${local}/account/passkeys`);
  await device.fill("#passkey-name", "Test laptop");
  await device.click("button:has-text('Add a passkey')");
  await settled(device, `${local}/account/passkeys?added=1`);
  expect(await device.isVisible("td:has-text('Test laptop')"), "the passkey is listed");
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  expect(credentials.length === 1 && credentials[0].isResidentCredential, "a discoverable credential was made");
  await shot(device, "passkey-added");

  // 5. Signed out, the passkey alone signs in.
  await device.click("text=Sign out");
  await device.waitForURL(`${local}/sign-in`);
  await device.click("text=Sign in with a passkey");
  await settled(device, `${local}/projects`);
  expect(await device.isVisible("text=Olive Owner"), "signed in with the passkey");
  await shot(device, "passkey-signed-in");

  // 6. A password now waits for the second factor, and the passkey gives it.
  await device.click("text=Sign out");
  await device.waitForURL(`${local}/sign-in`);
  await passwordSignIn(device, local);
  await device.waitForURL(`${local}/sign-in/code`);
  await shot(device, "second-factor-choice");
  await device.click("text=Use a passkey instead");
  await settled(device, `${local}/projects`);
  await shot(device, "passkey-second-factor");
} catch (err) {
  problems.push(err.stack || String(err));
} finally {
  await browser.close();
}

if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log(`sign-in methods passed; ${step} screenshots in ${shots}`);
