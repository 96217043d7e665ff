// Test-only OpenID Connect provider (oidc-provider) that Testvault's Rust SSO tests run as a
// child process: generic issuers a and b, a Sign in with Apple look-alike and a Microsoft-style
// multi-tenant issuer over HTTPS on 127.0.0.1, auto-login of a settable test user, and
// /__test/* endpoints to tamper with the next ID token and inspect the last requests.
// Env: IDP_CERT, IDP_KEY (TLS PEM paths), IDP_REDIRECT_URIS (comma-separated). Prints one JSON
// line on stdout when ready; logs go to stderr. Never deploy it.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';

// stdout carries exactly one JSON line; oidc-provider prints notices with console.info, so all
// console output goes to stderr. The provider is imported after this so its import-time
// warnings land there too.
console.log = console.info = console.debug = (...args) => console.error(...args);
const { Provider } = await import('oidc-provider');

const CLIENT_ID = 'testvault';
const CLIENT_SECRET = crypto.randomBytes(24).toString('base64url');
const TENANT_ID = '3c6f1a52-8e0b-4f7d-9a2e-5b1d0c4e7f60';
const APPLE = { team_id: 'TEAMID1234', key_id: 'KEYID12345', client_id: CLIENT_ID };
const APPLE_AUDIENCE = 'https://appleid.apple.com';
const APPLE_MAX_SECRET_LIFETIME = 15777000; // six months, Apple's limit for exp - iat
// The secret oidc-provider knows for the Apple client; callers authenticate with a JWT instead.
const APPLE_INTERNAL_SECRET = crypto.randomBytes(24).toString('base64url');
const appleKeys = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });

function requiredEnv(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`oidc.mjs: environment variable ${name} is required`);
    process.exit(2);
  }
  return value;
}

const tls = { cert: fs.readFileSync(requiredEnv('IDP_CERT')), key: fs.readFileSync(requiredEnv('IDP_KEY')) };
const redirectUris = requiredEnv('IDP_REDIRECT_URIS').split(',').map((s) => s.trim()).filter(Boolean);

// ---------------------------------------------------------------------------------------------
// Test state, changed through the /__test endpoints.

const users = new Map();
let currentUser;
function setCurrentUser(user) {
  currentUser = user;
  users.set(user.sub, user);
}
setCurrentUser({ sub: 'alice', email: 'alice@example.test', email_verified: true, name: 'Alice Example' });

const TAMPER_MODES = new Set([
  'wrong_iss', 'wrong_aud', 'alg_none', 'hs256_public_key', 'expired', 'wrong_nonce',
  'missing_nonce', 'bad_signature', 'unknown_kid', 'replay_previous',
]);
let pendingTamper = null; // applied to the next token response that carries an id_token
let lastAuthorization = null;
let lastTokenRequest = null;

// ---------------------------------------------------------------------------------------------
// Compact JWT helpers (node:crypto only).

const b64u = (data) => Buffer.from(data).toString('base64url');
const epoch = () => Math.floor(Date.now() / 1000);

function decodeJwt(jwt) {
  const [h, p, s] = jwt.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url')),
    payload: JSON.parse(Buffer.from(p, 'base64url')),
    signingInput: `${h}.${p}`,
    signature: Buffer.from(s ?? '', 'base64url'),
  };
}

function signRs256(header, payload, privateKey) {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  return `${input}.${b64u(crypto.sign('sha256', Buffer.from(input), privateKey))}`;
}

// Returns the tampered form of idToken for `mode`. Where claims change, the token is re-signed
// with the issuer's real key and kid, so only the claim check can fail.
function tamperIdToken(mode, idToken, issuer) {
  const { header, payload, signingInput, signature } = decodeJwt(idToken);
  const resign = (claims) => signRs256(header, claims, issuer.privateKey);
  switch (mode) {
    case 'wrong_iss':
      return resign({ ...payload, iss: 'https://evil.example' });
    case 'wrong_aud':
      return resign({ ...payload, aud: 'someone-else' });
    case 'expired': {
      const shift = 7200 + (payload.exp - payload.iat); // exp ends up two hours ago
      const claims = { ...payload, iat: payload.iat - shift, exp: payload.exp - shift };
      if (typeof payload.auth_time === 'number') claims.auth_time = payload.auth_time - shift;
      return resign(claims);
    }
    case 'wrong_nonce':
      return resign({ ...payload, nonce: 'not-the-nonce' });
    case 'missing_nonce': {
      const { nonce, ...claims } = payload;
      return resign(claims);
    }
    case 'alg_none':
      return `${b64u(JSON.stringify({ alg: 'none' }))}.${signingInput.split('.')[1]}.`;
    case 'hs256_public_key': {
      const input = `${b64u(JSON.stringify({ ...header, alg: 'HS256' }))}.${signingInput.split('.')[1]}`;
      const mac = crypto.createHmac('sha256', issuer.publicKeyPem).update(input).digest();
      return `${input}.${b64u(mac)}`;
    }
    case 'bad_signature': {
      const flipped = Buffer.from(signature);
      flipped[flipped.length >> 1] ^= 0x01;
      return `${signingInput}.${b64u(flipped)}`;
    }
    case 'unknown_kid':
      return signRs256({ ...header, kid: 'no-such-key' }, payload, issuer.privateKey);
    case 'replay_previous':
      if (!issuer.previousIdToken) {
        console.error(`oidc.mjs: replay_previous: no earlier id_token from ${issuer.name}, sending the fresh one`);
        return idToken;
      }
      return issuer.previousIdToken;
    default:
      throw new Error(`unknown tamper mode ${mode}`);
  }
}

// Checks a Sign in with Apple client secret the way Apple documents it; returns an error text
// or undefined when the JWT is acceptable.
function appleClientSecretError(jwt) {
  let decoded;
  try {
    decoded = decodeJwt(jwt);
  } catch {
    return 'client_secret is not a decodable JWT';
  }
  const { header, payload, signingInput, signature } = decoded;
  if (header.alg !== 'ES256') return `alg is ${header.alg}, not ES256`;
  if (header.kid !== APPLE.key_id) return `kid ${header.kid} is not ${APPLE.key_id}`;
  const publicKey = { key: appleKeys.publicKey, dsaEncoding: 'ieee-p1363' };
  if (!crypto.verify('sha256', Buffer.from(signingInput), publicKey, signature)) return 'bad signature';
  if (payload.iss !== APPLE.team_id) return `iss ${payload.iss} is not the team id`;
  if (payload.sub !== APPLE.client_id) return `sub ${payload.sub} is not the client id`;
  const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (!aud.includes(APPLE_AUDIENCE)) return `aud ${payload.aud} is not ${APPLE_AUDIENCE}`;
  if (typeof payload.iat !== 'number') return 'iat missing';
  if (typeof payload.exp !== 'number') return 'exp missing';
  if (payload.exp <= epoch()) return 'expired';
  if (payload.exp - payload.iat > APPLE_MAX_SECRET_LIFETIME) return 'exp - iat exceeds 15777000 s';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Issuers.

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(text);
}

// Login is always requested: every authorization request starts without an OP session (see the
// dispatcher), so the no_session check sends it to our interaction route, which logs in the
// current user and grants the requested scopes at once.
function makeIssuer({ name, prefix, issuerUrl, scopes, claims, clientAuthMethod, requirePkce, accountClaims }) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `${name}-rs256`;
  const issuer = {
    name,
    prefix,
    url: issuerUrl,
    privateKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }),
    sessionCookie: `_session_${name}`,
    previousIdToken: undefined,
  };

  const provider = new Provider(issuerUrl, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: clientAuthMethod === 'client_secret_post' ? APPLE_INTERNAL_SECRET : CLIENT_SECRET,
      redirect_uris: redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: clientAuthMethod,
    }],
    clientAuthMethods: clientAuthMethod === 'client_secret_post'
      ? ['client_secret_post'] : ['client_secret_basic', 'client_secret_post'],
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] },
    enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
    responseTypes: ['code'],
    scopes,
    claims,
    conformIdTokenClaims: false, // put the scope claims into the ID token of the code flow
    pkce: { required: () => requirePkce },
    ttl: { AccessToken: 3600, AuthorizationCode: 60, Grant: 3600, IdToken: 3600, Interaction: 600, Session: 3600 },
    features: { devInteractions: { enabled: false } },
    interactions: {
      url: (ctx, interaction) => `${prefix}/interaction/${interaction.uid}`,
    },
    cookies: {
      names: {
        session: issuer.sessionCookie,
        interaction: `_interaction_${name}`,
        resume: `_interaction_resume_${name}`,
      },
      keys: [crypto.randomBytes(32).toString('hex')],
    },
    clientBasedCORS: () => false,
    findAccount: (ctx, sub) => ({
      accountId: sub,
      claims: () => accountClaims(users.get(sub) ?? { sub }),
    }),
    renderError: (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  });
  issuer.provider = provider;

  provider.use(async (ctx, next) => {
    const isAuthorize = ctx.path === '/auth' && ctx.method === 'GET'; // POST is not enabled
    const isToken = ctx.path === '/token' && ctx.method === 'POST';

    if (isAuthorize) {
      const params = { ...ctx.query };
      lastAuthorization = { issuer: name, issuer_url: issuerUrl, params };
      // Sign in with Apple only delivers email/name scopes via response_mode=form_post.
      const wanted = String(params.scope ?? '').split(' ');
      if (name === 'apple' && (wanted.includes('email') || wanted.includes('name'))
          && params.response_mode !== 'form_post') {
        ctx.status = 400;
        ctx.body = { error: 'invalid_request', error_description: 'response_mode must be form_post when requesting name or email scope' };
        return;
      }
    }

    if (isToken) {
      // Buffer the form ourselves; oidc-provider then parses the string left in req.body
      // (it logs a one-time warning about an "already parsed request body" for that).
      let form = {};
      if (ctx.is('application/x-www-form-urlencoded')) {
        ctx.req.body = await readBody(ctx.req);
        form = Object.fromEntries(new URLSearchParams(ctx.req.body));
      }
      lastTokenRequest = {
        issuer: name,
        issuer_url: issuerUrl,
        headers: { authorization: ctx.get('authorization') || null, 'content-type': ctx.get('content-type') || null },
        form,
      };
      if (name === 'apple' && /^[\w-]+\.[\w-]+\.[\w-]*$/.test(form.client_secret ?? '')) {
        const problem = appleClientSecretError(form.client_secret);
        if (problem) {
          console.error(`oidc.mjs: apple client_secret rejected: ${problem}`);
          ctx.status = 400;
          ctx.body = { error: 'invalid_client' };
          return;
        }
        ctx.req.body = new URLSearchParams({ ...form, client_secret: APPLE_INTERNAL_SECRET }).toString();
      }
    }

    await next();

    if (isToken && ctx.status === 200 && typeof ctx.body?.id_token === 'string') {
      const genuine = ctx.body.id_token;
      if (pendingTamper) {
        const mode = pendingTamper;
        pendingTamper = null;
        ctx.body = { ...ctx.body, id_token: tamperIdToken(mode, genuine, issuer) };
        console.error(`oidc.mjs: tampered id_token from ${name} with ${mode}`);
      }
      issuer.previousIdToken = genuine;
    }
  });

  return issuer;
}

// `hd` (Google's hosted domain) is only sent when the test user has one.
function genericClaims(user) {
  return { sub: user.sub, email: user.email, email_verified: Boolean(user.email_verified), name: user.name, hd: user.hd };
}

function buildIssuers(base) {
  const generic = {
    scopes: ['openid', 'email', 'profile'],
    claims: { openid: ['sub', 'hd'], email: ['email', 'email_verified'], profile: ['name'] },
    clientAuthMethod: 'client_secret_basic',
    requirePkce: true,
    accountClaims: genericClaims,
  };
  const msPrefix = `/ms/${TENANT_ID}/v2.0`;
  return [
    makeIssuer({ ...generic, name: 'a', prefix: '/a', issuerUrl: `${base}/a` }),
    makeIssuer({ ...generic, name: 'b', prefix: '/b', issuerUrl: `${base}/b` }),
    makeIssuer({
      name: 'apple',
      prefix: '/apple',
      issuerUrl: `${base}/apple`,
      scopes: ['openid', 'email', 'name'],
      claims: { openid: ['sub'], email: ['email', 'email_verified', 'is_private_email'], name: [] },
      clientAuthMethod: 'client_secret_post',
      requirePkce: false,
      accountClaims: (user) => ({
        sub: user.sub,
        email: user.email,
        email_verified: String(Boolean(user.email_verified)),
        is_private_email: 'false',
      }),
    }),
    makeIssuer({
      ...generic,
      name: 'ms',
      prefix: msPrefix,
      issuerUrl: `${base}${msPrefix}`,
      claims: { ...generic.claims, openid: ['sub', 'tid'] },
      accountClaims: (user) => ({ ...genericClaims(user), tid: TENANT_ID }),
    }),
  ];
}

// Logs in the current user and grants everything requested, then resumes the authorization.
async function finishInteraction(issuer, req, res) {
  const { provider } = issuer;
  const details = await provider.interactionDetails(req, res);
  const grant = new provider.Grant({ accountId: currentUser.sub, clientId: details.params.client_id });
  grant.addOIDCScope(String(details.params.scope ?? 'openid'));
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, {
    login: { accountId: currentUser.sub },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

// ---------------------------------------------------------------------------------------------
// The HTTPS server: test endpoints, the Microsoft "common" discovery, and the issuers.

async function handleTestEndpoint(req, res, pathname) {
  if (req.method === 'POST' && pathname === '/__test/user') {
    const user = JSON.parse(await readBody(req));
    if (typeof user?.sub !== 'string' || !user.sub) return sendJson(res, 400, { error: 'sub required' });
    setCurrentUser(user);
    return sendJson(res, 200, user);
  }
  if (req.method === 'GET' && pathname === '/__test/user') return sendJson(res, 200, currentUser);
  if (req.method === 'POST' && pathname === '/__test/tamper') {
    const { mode } = JSON.parse(await readBody(req));
    if (mode === null || mode === 'none') {
      pendingTamper = null;
    } else if (TAMPER_MODES.has(mode)) {
      pendingTamper = mode;
    } else {
      return sendJson(res, 400, { error: `unknown mode ${mode}`, modes: [...TAMPER_MODES] });
    }
    return sendJson(res, 200, { mode: pendingTamper });
  }
  if (req.method === 'GET' && pathname === '/__test/tamper') return sendJson(res, 200, { mode: pendingTamper });
  if (req.method === 'GET' && pathname === '/__test/last_authorization') return sendJson(res, 200, lastAuthorization);
  if (req.method === 'GET' && pathname === '/__test/last_token_request') return sendJson(res, 200, lastTokenRequest);
  return sendJson(res, 404, { error: 'no such test endpoint' });
}

// Like login.microsoftonline.com/common: the tenant's document with a templated issuer.
function msCommonDiscovery(base, res) {
  const url = `${base}/ms/${TENANT_ID}/v2.0/.well-known/openid-configuration`;
  // A request to ourselves on loopback; the certificate is the test's own.
  https.get(url, { rejectUnauthorized: false }, async (upstream) => {
    const doc = JSON.parse(await readBody(upstream));
    doc.issuer = `${base}/ms/{tenantid}/v2.0`;
    sendJson(res, 200, doc);
  }).on('error', (err) => sendJson(res, 502, { error: String(err) }));
}

function withoutCookie(header, names) {
  return header.split(/;\s*/).filter((c) => !names.some((n) => c.startsWith(`${n}=`) || c.startsWith(`${n}.sig=`))).join('; ');
}

function dispatcher(base, issuers) {
  return async (req, res) => {
    try {
      const { pathname } = new URL(req.url, base);
      if (pathname.startsWith('/__test/')) return await handleTestEndpoint(req, res, pathname);
      if (req.method === 'GET' && pathname === '/ms/common/v2.0/.well-known/openid-configuration') {
        return msCommonDiscovery(base, res);
      }
      const issuer = issuers.find((i) => pathname === i.prefix || pathname.startsWith(`${i.prefix}/`));
      if (!issuer) return sendJson(res, 404, { error: 'not found' });

      const rest = pathname.slice(issuer.prefix.length);
      if (/^\/interaction\/[^/]+$/.test(rest)) return await finishInteraction(issuer, req, res);
      // Each authorization (and its resume step) runs without the OP session cookie, so every
      // one logs in whoever is the current user now.
      if ((rest === '/auth' || rest.startsWith('/auth/')) && req.headers.cookie) {
        req.headers.cookie = withoutCookie(req.headers.cookie, [issuer.sessionCookie]);
      }
      // Mount under the prefix the way oidc-provider expects (as connect/express do).
      req.originalUrl = req.url;
      req.url = req.url.slice(issuer.prefix.length) || '/';
      if (!req.url.startsWith('/')) req.url = `/${req.url}`;
      return issuer.callback(req, res);
    } catch (err) {
      console.error('oidc.mjs: request failed:', err);
      if (res.headersSent) return res.end();
      const status = err instanceof SyntaxError ? 400 : (err.status ?? 500);
      const error = err.error ?? (status === 400 ? 'invalid_request' : 'server_error');
      sendJson(res, status, { error, error_description: err.error_description ?? err.message });
    }
  };
}

const server = https.createServer(tls);
server.listen(0, '127.0.0.1', () => {
  const base = `https://127.0.0.1:${server.address().port}`;
  const issuers = buildIssuers(base);
  for (const issuer of issuers) issuer.callback = issuer.provider.callback();
  server.on('request', dispatcher(base, issuers));

  const byName = Object.fromEntries(issuers.map((i) => [i.name, i.url]));
  process.stdout.write(`${JSON.stringify({
    base,
    issuers: {
      a: byName.a,
      b: byName.b,
      apple: byName.apple,
      ms_common: `${base}/ms/common/v2.0`,
      ms_tenant: byName.ms,
    },
    ms_tenant_id: TENANT_ID,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    apple: { ...APPLE, private_key_pem: appleKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }) },
  })}\n`);
  console.error(`oidc.mjs: listening on ${base}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
