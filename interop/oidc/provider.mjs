// node-oidc-provider (OpenID Certified) configured for Warden's tests.
//
//   node provider.mjs            listens on 127.0.0.1, a free port
//
// Prints one JSON line on stdout when ready: {"issuer":"http://127.0.0.1:PORT"}.
// Settings (env): OIDC_PORT (0 = free port), OIDC_ACCESS_TTL (seconds, default 4),
// OIDC_DPOP_NONCE=1 (every DPoP proof must carry a server nonce, so the first
// token request of a session meets `use_dpop_nonce`).
//
// What it is set up with, as the tests need it: PKCE (S256) required for every
// client, refresh-token rotation (a rotated-away token replayed revokes the
// grant; except for the `warden-norotate` client, whose refresh answers carry
// no refresh token at all, by a middleware below), DPoP, the device authorization grant, revocation, introspection,
// RP-initiated logout, short access-token lifetimes and the development
// login/consent pages (any login, any password) that the tests' browser
// automaton fills in.
//
// Resource indicators (RFC 8707): an authorization request with
// resource=https://api.warden.test/ (API_RESOURCE) gets access tokens for that
// API as JWTs (RFC 9068: signed with the provider's key, `aud` the resource,
// `cnf.jkt` when DPoP-bound), through refreshes too (useGrantedResource);
// without a resource, tokens stay opaque (for userinfo). Any other resource is
// refused invalid_target.
//
// Client authentication, strict: node-oidc-provider takes client_secret_basic
// and client_secret_post interchangeably for a client registered with either;
// many providers (Okta, Auth0, PingFederate) accept only the registered one.
// The `warden-post` client (client_secret_post) is held to that here by a
// middleware of the provider's own (provider.use): its secret in an HTTP Basic
// header is answered 401 invalid_client, as those providers do.
//
// Test hooks (loopback only, not part of the provider): POST /__test__/rotate-keys
// replaces the signing key (the old one stays published second), as a
// provider's key rotation does; grants and sessions live on (the storage is
// this program's, shared by the provider instances). POST
// /__test__/revoke-refresh-tokens deletes every refresh token, as an
// administrator ending all sessions would.
import { createServer } from 'node:http';
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';

export const API_RESOURCE = 'https://api.warden.test/';

// The provider's storage: a Map shared by every Provider instance (a key
// rotation makes a new one), which the test hooks can reach.
const store = new Map();
const grants = new Map(); // grantId -> Set of keys
class TestAdapter {
  constructor(name) { this.name = name; }
  key(id) { return `${this.name}:${id}`; }
  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    store.set(key, { payload, expires: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
    if (payload.grantId) {
      if (!grants.has(payload.grantId)) grants.set(payload.grantId, new Set());
      grants.get(payload.grantId).add(key);
    }
    if (payload.userCode) store.set(`userCode:${payload.userCode}`, { payload: id });
    if (payload.uid) store.set(`uid:${payload.uid}`, { payload: id });
  }
  async find(id) {
    const e = store.get(this.key(id));
    if (!e || (e.expires && e.expires < Date.now())) return undefined;
    return e.payload;
  }
  async findByUserCode(code) { const id = store.get(`userCode:${code}`)?.payload; return id && this.find(id); }
  async findByUid(uid) { const id = store.get(`uid:${uid}`)?.payload; return id && this.find(id); }
  async consume(id) { const e = store.get(this.key(id)); if (e) e.payload.consumed = Math.floor(Date.now() / 1000); }
  async destroy(id) { store.delete(this.key(id)); }
  async revokeByGrantId(grantId) {
    for (const key of grants.get(grantId) || []) store.delete(key);
    grants.delete(grantId);
  }
}

const accessTtl = Number(process.env.OIDC_ACCESS_TTL || 4);
const requireNonce = process.env.OIDC_DPOP_NONCE === '1';
const cookieKeys = [randomBytes(32).toString('base64url')];
const nonceSecret = randomBytes(32);

let keyCount = 0;
function newSigningKey() {
  keyCount += 1;
  // PEM out of the generator, then a KeyObject of our own to export as JWK:
  // exporting the generator's own KeyObject can deadlock Node 20 (seen in
  // CI: a GC during ExportJWK runs the finished KeyGenJob's destructor,
  // which waits for the key's mutex that ExportJWK holds; the provider
  // then never starts).
  const { privateKey: pem } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const privateKey = createPrivateKey(pem);
  return { ...privateKey.export({ format: 'jwk' }), kid: `warden-test-${keyCount}-${randomBytes(4).toString('hex')}`, alg: 'RS256', use: 'sig' };
}
let keys = [newSigningKey()];

const loopback = ['http://127.0.0.1/callback', 'http://localhost/callback'];
const grantTypes = ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'];

function configuration() {
  return {
    clients: [
      {
        client_id: 'warden-public',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: loopback,
        post_logout_redirect_uris: loopback,
        grant_types: grantTypes,
        response_types: ['code'],
      },
      {
        client_id: 'warden-confidential',
        client_secret: 'confidential-client-secret-for-tests',
        application_type: 'native',
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: loopback,
        post_logout_redirect_uris: loopback,
        grant_types: grantTypes,
        response_types: ['code'],
      },
      {
        // A public client whose refresh tokens are not rotated: the token
        // endpoint answers a refresh without a new refresh token (RFC 6749
        // §6 allows it; many providers do it), so the client keeps its own.
        client_id: 'warden-norotate',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: loopback,
        grant_types: grantTypes,
        response_types: ['code'],
      },
      {
        client_id: 'warden-post',
        client_secret: 'post-client-secret-for-tests',
        application_type: 'native',
        token_endpoint_auth_method: 'client_secret_post',
        redirect_uris: loopback,
        grant_types: grantTypes,
        response_types: ['code'],
      },
    ],
    adapter: TestAdapter,
    jwks: { keys },
    cookies: { keys: cookieKeys },
    pkce: { required: () => true },
    rotateRefreshToken: (ctx) => ctx.oidc.client.clientId !== 'warden-norotate',
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    ttl: {
      AccessToken: accessTtl,
      AuthorizationCode: 60,
      DeviceCode: 600,
      Grant: 3600,
      IdToken: 300,
      Interaction: 600,
      RefreshToken: 3600,
      Session: 3600,
    },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      dPoP: { enabled: true, nonceSecret, requireNonce: () => requireNonce },
      resourceIndicators: {
        enabled: true,
        // The resource granted at authorization, also when a code or refresh
        // token exchange names none (userinfo would otherwise get the token).
        useGrantedResource: () => true,
        async getResourceServerInfo(_ctx, resourceIndicator) {
          if (resourceIndicator !== API_RESOURCE) throw new errors.InvalidTarget();
          return {
            scope: 'api:read',
            audience: API_RESOURCE,
            accessTokenTTL: accessTtl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    async findAccount(_ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return { sub, email: `${sub}@example.test`, email_verified: true, name: `Test user ${sub}` };
        },
      };
    },
  };
}

// Clients refused the other secret method (see the strictness note above).
const postOnly = new Set(['warden-post']);

/** The client id of an HTTP Basic client authentication, if any. */
function basicClientId(header) {
  const [scheme, value] = (header || '').split(' ');
  if (!value || scheme.toLowerCase() !== 'basic') return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i === -1) return undefined;
  try {
    return decodeURIComponent(decoded.slice(0, i).replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

function newProvider(issuer) {
  const provider = new Provider(issuer, configuration());
  provider.use(async (ctx, next) => {
    const clientId = basicClientId(ctx.headers.authorization);
    if (ctx.method === 'POST' && postOnly.has(clientId)) {
      ctx.status = 401;
      ctx.set('www-authenticate', 'Basic realm="token"');
      ctx.body = {
        error: 'invalid_client',
        error_description: `client ${clientId} is registered for client_secret_post; client_secret_basic is not accepted for it`,
      };
      return;
    }
    await next();
    // `warden-norotate`: a refresh is answered without a refresh token at
    // all (as Google, say, answers one), not with the same one again (what
    // node-oidc-provider does when it does not rotate).
    if (
      ctx.oidc?.client?.clientId === 'warden-norotate'
      && ctx.oidc?.params?.grant_type === 'refresh_token'
      && ctx.body && typeof ctx.body === 'object'
    ) {
      delete ctx.body.refresh_token;
    }
  });
  return provider;
}

const server = createServer();
const port = Number(process.env.OIDC_PORT || 0);
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  let provider = newProvider(issuer);
  let handler = provider.callback();
  server.on('request', (req, res) => {
    if (req.method === 'POST' && req.url === '/__test__/rotate-keys') {
      keys = [newSigningKey(), keys[0]];
      provider = newProvider(issuer);
      handler = provider.callback();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kid: keys[0].kid }));
      return;
    }
    if (req.method === 'POST' && req.url === '/__test__/revoke-refresh-tokens') {
      // As an administrator revoking every session at the provider: the next
      // refresh is answered invalid_grant.
      let n = 0;
      for (const key of [...store.keys()]) {
        if (key.startsWith('RefreshToken:')) { store.delete(key); n += 1; }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ revoked: n }));
      return;
    }
    handler(req, res);
  });
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

// Whoever started it may stop reading our output: never die of that.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

// The test that started it closes stdin when it is done (or dies).
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
