// @ts-check
import { h } from '../dom.js';
import * as ipc from '../ipc.js';
import { openIdForm } from './openid.js';

/**
 * The sign-in screen; on the first run it offers to create a local account.
 * @param {HTMLElement} main
 * @param {{firstRun: boolean, notice?: string|null, error?: string|null, remote?: ipc.RemoteServer|null,
 *   onCreated?: (created: ipc.AccountCreated) => void}} opts
 */
export function render(main, opts) {
  // After signing out of a remote server the form is for that server again,
  // even while this computer has no local account yet.
  let creating = opts.firstRun && !opts.remote;
  const error = h('p', { class: 'notice error', role: 'alert', id: 'signin-error', hidden: true });
  const user = /** @type {HTMLInputElement} */ (h('input', { id: 'username', name: 'username', type: 'text', autocomplete: 'username', required: true }));
  const pass = /** @type {HTMLInputElement} */ (h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }));
  const last = opts.remote || null;
  /** @param {string} id @param {string} placeholder @param {string} [value] */
  const field = (id, placeholder, value) => /** @type {HTMLInputElement} */ (h('input', { id, name: id, type: 'text', placeholder, value: value || '', spellcheck: 'false', autocapitalize: 'off' }));
  const url = /** @type {HTMLInputElement} */ (h('input', { id: 'server-url', name: 'server-url', type: 'url', placeholder: 'https://example.com/ (empty: this computer)', value: last?.url || '' }));
  const header = field('header-type', 'Bearer', last?.header_type);
  /** [form field, RemoteServer key, label, SimpleJWT default] */
  const pathFields = /** @type {[HTMLInputElement, keyof ipc.RemoteServer, string][]} */ ([
    [field('path-token', 'api/token/', last?.token_path), 'token_path', 'Obtain pair'],
    [field('path-refresh', 'api/token/refresh/', last?.refresh_path), 'refresh_path', 'Refresh'],
    [field('path-verify', 'api/token/verify/', last?.verify_path), 'verify_path', 'Verify'],
    [field('path-blacklist', 'api/token/blacklist/', last?.blacklist_path), 'blacklist_path', 'Blacklist (log out)'],
    [field('path-me', 'api/me/', last?.me_path), 'me_path', 'Account (check access)'],
  ]);
  const customised = !!last && (!!last.header_type || pathFields.some(([, key]) => !!last[key]));
  const title = h('h1', { id: 'signin-title' });
  const submit = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'primary', id: 'signin-submit' }));
  const remote = h('details', { id: 'remote', open: !!last },
    h('summary', null, 'Another server'),
    h('label', { for: 'server-url' }, 'Server URL (Warden or SimpleJWT)'), url,
    h('details', { id: 'remote-advanced', open: customised },
      h('summary', null, 'Paths and header type (only if they differ from SimpleJWT’s)'),
      h('div', { class: 'grid2' },
        h('label', { for: 'header-type' }, 'Header type'), header,
        ...pathFields.flatMap(([input, , label]) => [h('label', { for: input.id }, label), input]),
      ),
    ),
  );
  const toggle = h('button', { type: 'button', id: 'signin-toggle', onclick: () => { creating = !creating; sync(); } });

  function sync() {
    title.textContent = creating ? 'Create your local account' : 'Sign in';
    submit.textContent = creating ? 'Create account and sign in' : 'Sign in';
    toggle.textContent = creating ? 'I already have an account' : 'Create a local account';
    pass.autocomplete = creating ? 'new-password' : 'current-password';
    remote.hidden = creating;
  }

  /** @returns {ipc.RemoteServer | null} what the form says; null: this computer */
  function remoteServer() {
    if (!url.value.trim()) return null;
    /** @type {ipc.RemoteServer} */
    const r = { url: url.value.trim(), header_type: header.value.trim(), token_path: '', refresh_path: '', verify_path: '', blacklist_path: '', me_path: '' };
    for (const [input, key] of pathFields) r[key] = input.value.trim();
    return r;
  }

  /** @param {SubmitEvent} e */
  async function onSubmit(e) {
    e.preventDefault();
    submit.disabled = true;
    const label = submit.textContent;
    submit.textContent = creating ? 'Creating account…' : 'Signing in…';
    error.hidden = true;
    try {
      if (creating) opts.onCreated?.(await ipc.createAccount(user.value, pass.value));
      else await ipc.signIn(user.value, pass.value, remoteServer());
      // The session-changed event moves the app to the session view.
    } catch (err) {
      const ce = /** @type {ipc.CommandError} */ (err);
      error.textContent = `${ce.message} (${ce.code})`;
      error.hidden = false;
      pass.select();
    } finally {
      submit.disabled = false;
      submit.textContent = label;
    }
  }

  main.replaceChildren(
    h('form', { class: 'signin', id: 'signin', onsubmit: onSubmit },
      title,
      opts.notice ? h('p', { class: 'notice', id: 'signin-notice', role: 'status' }, opts.notice) : null,
      opts.firstRun ? h('p', { class: 'meta', id: 'first-run' }, 'Warden runs its own server on this computer. The first account created here owns it and gets the staff console. Your account and sessions stay here; the refresh token is kept in the system keyring.') : null,
      h('label', { for: 'username' }, 'Username'), user,
      h('label', { for: 'password' }, 'Password'), pass,
      remote,
      error,
      h('div', { class: 'row' }, submit, toggle),
    ),
    openIdForm(),
  );
  sync();
  user.focus();
}
