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
// grant), DPoP, the device authorization grant, revocation, introspection,
// RP-initiated logout, short access-token lifetimes and the development
// login/consent pages (any login, any password) that the tests' browser
// automaton fills in.
//
// Test hook (loopback only, not part of the provider): POST /__test__/rotate-keys
// replaces the signing key (the old one stays published second), as a
// provider's key rotation does; grants and sessions live on (the memory
// adapter's storage is the module's, shared by the provider instances).
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const accessTtl = Number(process.env.OIDC_ACCESS_TTL || 4);
const requireNonce = process.env.OIDC_DPOP_NONCE === '1';
const cookieKeys = [randomBytes(32).toString('base64url')];
const nonceSecret = randomBytes(32);

let keyCount = 0;
function newSigningKey() {
  keyCount += 1;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
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
        client_id: 'warden-post',
        client_secret: 'post-client-secret-for-tests',
        application_type: 'native',
        token_endpoint_auth_method: 'client_secret_post',
        redirect_uris: loopback,
        grant_types: grantTypes,
        response_types: ['code'],
      },
    ],
    jwks: { keys },
    cookies: { keys: cookieKeys },
    pkce: { required: () => true },
    rotateRefreshToken: true,
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

const server = createServer();
const port = Number(process.env.OIDC_PORT || 0);
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  let provider = new Provider(issuer, configuration());
  let handler = provider.callback();
  server.on('request', (req, res) => {
    if (req.method === 'POST' && req.url === '/__test__/rotate-keys') {
      keys = [newSigningKey(), keys[0]];
      provider = new Provider(issuer, configuration());
      handler = provider.callback();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kid: keys[0].kid }));
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
