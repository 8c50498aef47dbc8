// @ts-check
import { h } from '../dom.js';
import * as ipc from '../ipc.js';

/**
 * "Add an OpenID provider" (Keycloak, Auth0, Okta, Entra, node-oidc-provider):
 * issuer URL, client id, scopes; the sign-in happens in the system browser
 * and comes back to the app on a loopback address. The new profile becomes
 * the active one (the session-changed event shows it).
 * @returns {HTMLElement}
 */
export function openIdForm() {
  /** @param {string} id @param {string} placeholder @param {string} [type] */
  const input = (id, placeholder, type = 'text') => /** @type {HTMLInputElement} */ (
    h('input', { id, name: id, type, placeholder, spellcheck: 'false', autocapitalize: 'off' }));
  const issuer = input('oidc-issuer', 'https://id.example.com/realms/dev', 'url');
  const clientId = input('oidc-client-id', 'my-desktop-client');
  const secret = input('oidc-client-secret', 'empty for a public client', 'password');
  secret.autocomplete = 'off';
  const clientAuth = /** @type {HTMLSelectElement} */ (h('select', { id: 'oidc-client-auth', name: 'oidc-client-auth' },
    h('option', { value: 'automatic' }, 'automatic (HTTP Basic when the provider offers it)'),
    h('option', { value: 'basic' }, 'HTTP Basic (client_secret_basic)'),
    h('option', { value: 'post' }, 'in the form (client_secret_post)')));
  // How the secret is sent: nothing to choose for a public client.
  clientAuth.disabled = true;
  secret.addEventListener('input', () => { clientAuth.disabled = !secret.value; });
  const scopes = input('oidc-scopes', 'email profile (openid offline_access are always asked)');
  const resource = input('oidc-resource', 'optional: https://api.example.com/ (RFC 8707 resource)', 'url');
  const dpop = /** @type {HTMLInputElement} */ (h('input', { id: 'oidc-dpop', name: 'oidc-dpop', type: 'checkbox', checked: true }));
  const error = h('p', { class: 'notice error', role: 'alert', id: 'oidc-error', hidden: true });
  const status = h('p', { class: 'meta', id: 'oidc-status', role: 'status', hidden: true });
  const submit = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: 'primary', id: 'oidc-submit' }, 'Sign in with the provider'));

  async function add() {
    error.hidden = true;
    if (!issuer.value.trim() || !clientId.value.trim()) {
      error.textContent = 'The issuer URL and the client id are needed.';
      error.hidden = false;
      return;
    }
    submit.disabled = true;
    status.textContent = 'Finish signing in in your browser…';
    status.hidden = false;
    try {
      await ipc.addOpenIdProvider(issuer.value.trim(), clientId.value.trim(), secret.value || null,
        scopes.value.split(/[\s,]+/).filter(Boolean), dpop.checked,
        /** @type {ipc.ClientAuthChoice} */ (clientAuth.value), resource.value.trim() || null);
      secret.value = '';
      // The session-changed event moves the app to the new profile's session.
    } catch (err) {
      const ce = /** @type {ipc.CommandError} */ (err);
      error.textContent = `${ce.message} (${ce.code})`;
      error.hidden = false;
    } finally {
      submit.disabled = false;
      status.hidden = true;
    }
  }
  submit.addEventListener('click', add);

  return h('details', { id: 'openid' },
    h('summary', null, 'Add an OpenID provider'),
    h('p', { class: 'meta' }, 'An OpenID Connect / OAuth 2.0 provider: you sign in in the browser; Warden keeps the session, rotates its tokens before they expire and keeps the refresh token in the system keyring. Sessions list and staff console are Warden server features and stay unavailable for it.'),
    h('label', { for: 'oidc-issuer' }, 'Issuer URL'), issuer,
    h('label', { for: 'oidc-client-id' }, 'Client id'), clientId,
    h('label', { for: 'oidc-client-secret' }, 'Client secret (optional: a confidential client; kept in the system keyring)'), secret,
    h('label', { for: 'oidc-client-auth' }, 'Client authentication (how the secret is sent)'), clientAuth,
    h('label', { for: 'oidc-scopes' }, 'Scopes'), scopes,
    h('label', { for: 'oidc-resource' }, 'Resource (the API the access tokens are for; often makes them JWTs)'), resource,
    h('label', { for: 'oidc-dpop', class: 'check' }, dpop, ' Sender-constrained tokens (DPoP) when the provider offers them'),
    status,
    error,
    h('div', { class: 'row' }, submit),
  );
}
