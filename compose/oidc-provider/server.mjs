// Two local OpenID providers on one port, for the stack and the onboarding tests: one shaped like
// Google (verified emails) and one like Microsoft Entra ID (tenant in the issuer, `tid` and `oid`
// claims, an `email` claim nobody vouches for). Both run the `oidc-provider` package; only the
// login page is ours, a plain form so a test (or a person) picks who signs in, deterministically.
//
//   OIDC_PROVIDER_PORT       port on 127.0.0.1 (default 8091)
//   OIDC_PROVIDER_KEY_FILE   where the signing keys are kept across restarts (default: new keys per run)
//
// Issuers: http://127.0.0.1:PORT/google and http://127.0.0.1:PORT/microsoft/TENANT/v2.0 (also
// discoverable as Microsoft's multi-tenant http://127.0.0.1:PORT/microsoft/organizations/v2.0), with the
// clients `metafrazo-local` (secret `metafrazo-local-secret`) and `metafrazo-other` (secret
// `metafrazo-other-secret`), redirect URIs /auth/oidc/{google,microsoft}/callback on any loopback
// port or on https://metafrazo.test (the onboarding tests' public URL).
import { createServer } from 'node:http';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import Provider from 'oidc-provider';

const PORT = Number(process.env.OIDC_PROVIDER_PORT || 8091);
const HOST = '127.0.0.1';
const BASE = `http://${HOST}:${PORT}`;
// A fixed tenant id, so the Microsoft-shaped issuer is the same on every run.
export const MICROSOFT_TENANT = '7e1c4a2b-5d3f-4c8e-9a10-2b6d8f0e3c71';

function signingKeys() {
  const file = process.env.OIDC_PROVIDER_KEY_FILE;
  if (file && existsSync(file)) {
    return JSON.parse(readFileSync(file, 'utf8'));
  }
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: `k${Date.now()}` };
  const jwks = { keys: [jwk] };
  if (file) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(jwks), { mode: 0o600 });
  }
  return jwks;
}

function clients(name) {
  // Native (loopback) clients: the provider accepts their redirect URIs on any port, which is what
  // tests need (each starts onboarding on a port of its own).
  return ['local', 'other'].map((suffix) => ({
    client_id: `metafrazo-${suffix}`,
    client_secret: `metafrazo-${suffix}-secret`,
    application_type: 'native',
    // The last is the onboarding tests' public URL; the test client carries the answer over.
    redirect_uris: [
      `http://127.0.0.1/auth/oidc/${name}/callback`,
      `http://localhost/auth/oidc/${name}/callback`,
      `https://metafrazo.test/auth/oidc/${name}/callback`,
    ],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }));
}

// A key nobody publishes: what a forged ID token is signed with.
const FORGER_KEY = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

const b64url = (value) => Buffer.from(value).toString('base64url');

// The ID token of a token response, altered as the login form asked, for the relying party's
// refusals to be tested against this provider: `aud` (issued to someone else), `exp` (expired an
// hour ago) or `sig` (signed by a key that is not the provider's).
function tamperIdToken(idToken, how, signingKey) {
  const [header, payload] = idToken.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  let key = signingKey;
  if (how === 'aud') {
    claims.aud = 'someone-else';
  } else if (how === 'exp') {
    claims.iat -= 7200;
    claims.exp = Math.floor(Date.now() / 1000) - 3600;
  } else if (how === 'sig') {
    key = FORGER_KEY;
  } else {
    return idToken;
  }
  const input = `${header}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

// Who signed in last with each subject: the login form says, the ID token repeats it.
function makeIssuer({ name, mount, shape }) {
  const accounts = new Map();
  // Subjects whose next ID token is to be altered, and how.
  const tampering = new Map();
  const jwks = signingKeys();
  const signingKey = createPrivateKey({ key: jwks.keys[0], format: 'jwk' });
  const claims = shape === 'microsoft'
    ? { openid: ['sub', 'oid', 'tid'], email: ['email'], profile: ['name', 'preferred_username'] }
    : { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] };
  const provider = new Provider(`${BASE}${mount}`, {
    clients: clients(name),
    jwks,
    claims,
    scopes: ['openid', 'email', 'profile'],
    // Email and name in the ID token itself, as Google and Microsoft put them there.
    conformIdTokenClaims: false,
    cookies: { keys: [`metafrazo-local-${name}`] },
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    interactions: { url: (_ctx, interaction) => `${mount}/interaction/${interaction.uid}` },
    async findAccount(_ctx, sub) {
      const account = accounts.get(sub);
      if (!account) {
        return undefined;
      }
      return { accountId: sub, claims: () => ({ sub, ...account }) };
    },
    ttl: { Session: 60, Interaction: 600, AuthorizationCode: 60, AccessToken: 600, IdToken: 600, Grant: 600 },
  });
  provider.proxy = false;

  function loginPage(uid, params, prompt) {
    const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    const extra = shape === 'microsoft'
      ? `<label>tid <input name="tid" value="${MICROSOFT_TENANT}"></label>
<label>oid <input name="oid"></label>`
      : '<label><input type="checkbox" name="email_verified" value="true" checked> email verified</label>';
    return `<!doctype html><title>${name} (local OpenID provider)</title>
<h1>Sign in to ${esc(name)} (local test provider)</h1>
<p>Client ${esc(params.client_id)} asks for ${esc(params.scope)} (${esc(prompt)}).</p>
<form method="post" action="${mount}/interaction/${esc(uid)}">
<label>subject <input name="sub" required></label>
<label>email <input name="email" type="email"></label>
<label>name <input name="name"></label>
${extra}
<label>alter the ID token <select name="tamper"><option value="">no</option><option>aud</option><option>exp</option><option>sig</option></select></label>
<button>Sign in</button> <button name="deny" value="1">Deny</button>
</form>`;
  }

  async function readForm(req) {
    const chunks = [];
    for await (const chunk of req) {
      chunks.push(chunk);
    }
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  }

  async function interaction(req, res, uid) {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) {
      res.writeHead(400).end('interaction mismatch');
      return;
    }
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(loginPage(uid, details.params, details.prompt.name));
      return;
    }
    const form = await readForm(req);
    if (form.get('deny')) {
      await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'The user denied access' }, { mergeWithLastSubmission: false });
      return;
    }
    const sub = form.get('sub');
    if (!sub) {
      res.writeHead(400).end('subject required');
      return;
    }
    const account = { name: form.get('name') || sub };
    if (form.get('email')) {
      account.email = form.get('email');
    }
    if (shape === 'microsoft') {
      // Entra ID: the object id and tenant id identify the user; `email` is whatever the tenant's
      // admin typed, never verified.
      account.oid = form.get('oid') || sub;
      account.tid = form.get('tid') || MICROSOFT_TENANT;
      account.preferred_username = account.email;
    } else {
      account.email_verified = form.get('email_verified') === 'true';
    }
    accounts.set(sub, account);
    if (form.get('tamper')) {
      tampering.set(sub, form.get('tamper'));
    } else {
      tampering.delete(sub);
    }
    // First-party: consent is implied, so the login form is the whole interaction (the provider
    // asks native clients for consent every time; the grant answers it at once).
    const grant = new provider.Grant({ accountId: sub, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { login: { accountId: sub }, consent: { grantId } }, { mergeWithLastSubmission: false });
  }

  // Rewrites the token endpoint's answer on its way out when its subject asked for tampering.
  function alterTokenResponse(res) {
    const end = res.end.bind(res);
    res.end = (chunk, ...rest) => {
      try {
        const body = JSON.parse(Buffer.from(chunk).toString('utf8'));
        const claims = JSON.parse(Buffer.from(body.id_token.split('.')[1], 'base64url').toString('utf8'));
        const how = tampering.get(claims.sub);
        if (how) {
          body.id_token = tamperIdToken(body.id_token, how, signingKey);
          const text = JSON.stringify(body);
          res.setHeader('content-length', Buffer.byteLength(text));
          return end(text, ...rest);
        }
      } catch {
        // Not a token response with an ID token: pass it on as it is.
      }
      return end(chunk, ...rest);
    };
  }

  const handle = provider.callback();
  return {
    mount,
    async serve(req, res, path) {
      const match = path.match(/^\/interaction\/([^/?]+)/);
      if (match) {
        try {
          await interaction(req, res, match[1]);
        } catch (err) {
          res.writeHead(400, { 'content-type': 'text/plain' }).end(`${err.name}: ${err.message}`);
        }
        return;
      }
      if (path.startsWith('/token') && tampering.size > 0) {
        alterTokenResponse(res);
      }
      // Mounted under a path, as Express would: the provider builds its URLs from originalUrl.
      req.originalUrl = req.url;
      req.url = path || '/';
      handle(req, res);
    },
  };
}

const issuers = [
  makeIssuer({ name: 'google', mount: '/google', shape: 'google' }),
  makeIssuer({ name: 'microsoft', mount: `/microsoft/${MICROSOFT_TENANT}/v2.0`, shape: 'microsoft' }),
];

// Microsoft's multi-tenant endpoint, as Entra ID has it: its discovery document names the
// issuer as a pattern, `.../{tenantid}/v2.0`, and its tokens carry the user's tenant's issuer.
// Here the endpoints are the one tenant's, so every sign-in lands in that tenant.
const MULTI_TENANT_DISCOVERY = '/microsoft/organizations/v2.0/.well-known/openid-configuration';

async function multiTenantDiscovery(res) {
  const tenant = await fetch(`${BASE}/microsoft/${MICROSOFT_TENANT}/v2.0/.well-known/openid-configuration`);
  const document = await tenant.json();
  document.issuer = `${BASE}/microsoft/{tenantid}/v2.0`;
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(document));
}

const server = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  if (req.url === MULTI_TENANT_DISCOVERY) {
    multiTenantDiscovery(res).catch((err) => res.writeHead(500).end(String(err)));
    return;
  }
  for (const issuer of issuers) {
    if (req.url === issuer.mount || req.url.startsWith(`${issuer.mount}/`) || req.url.startsWith(`${issuer.mount}?`)) {
      issuer.serve(req, res, req.url.slice(issuer.mount.length));
      return;
    }
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
});

server.listen(PORT, HOST, () => {
  console.log(`oidc-provider: issuers ${issuers.map((i) => BASE + i.mount).join(' and ')}`);
});

function shutdown() {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
