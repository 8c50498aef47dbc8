// @ts-check
/**
 * Profiles: the switcher in the top bar (every profile with a state dot and
 * its access countdown; keyboard: Enter opens, arrows move, Escape closes,
 * Alt+1…9 switches directly), the Profiles view (rename, remove, what waits
 * in the outbox) and the form that adds one.
 */
import { h, confirmDialog } from '../dom.js';
import { profileStatus, activeView } from '../profilestate.js';
import * as ipc from '../ipc.js';

/**
 * The kinds of server a profile can sign in to, in the order the form offers
 * them. Each draws its own fields and turns them into the app's
 * {@link ipc.ServerKind}; a new kind of server (an OpenID provider, say) is
 * one more entry here and one more variant of ServerKind in Rust.
 * @type {{kind: string, label: string, fields: () => {nodes: HTMLElement[], server: () => ipc.ServerKind}}[]}
 */
export const KINDS = [
  {
    kind: 'embedded',
    label: 'This computer’s Warden server',
    fields: () => ({ nodes: [h('p', { class: 'meta' }, 'The server Warden runs here; accounts are created on the sign-in screen or with `warden user add`.')], server: () => ({ kind: 'embedded' }) }),
  },
  {
    kind: 'remote',
    label: 'A Warden or SimpleJWT server',
    fields: () => {
      const input = (/** @type {string} */ id, /** @type {string} */ placeholder, type = 'text') => /** @type {HTMLInputElement} */ (h('input', { id, name: id, type, placeholder, spellcheck: 'false', autocapitalize: 'off' }));
      const url = input('add-url', 'https://auth.example.com/', 'url');
      url.required = true;
      const header = input('add-header-type', 'Bearer');
      /** @type {[HTMLInputElement, 'token_path'|'refresh_path'|'verify_path'|'blacklist_path'|'me_path', string][]} */
      const paths = [
        [input('add-path-token', 'api/token/'), 'token_path', 'Obtain pair'],
        [input('add-path-refresh', 'api/token/refresh/'), 'refresh_path', 'Refresh'],
        [input('add-path-verify', 'api/token/verify/'), 'verify_path', 'Verify'],
        [input('add-path-blacklist', 'api/token/blacklist/'), 'blacklist_path', 'Blacklist (log out)'],
        [input('add-path-me', 'api/me/'), 'me_path', 'Account (check access)'],
      ];
      return {
        nodes: [
          h('label', { for: 'add-url' }, 'Server URL'), url,
          h('details', { id: 'add-advanced' },
            h('summary', null, 'Paths and header type (only if they differ from SimpleJWT’s)'),
            h('div', { class: 'grid2' },
              h('label', { for: 'add-header-type' }, 'Header type'), header,
              ...paths.flatMap(([el, , label]) => [h('label', { for: el.id }, label), el]))),
        ],
        server: () => {
          /** @type {ipc.ServerKind} */
          const s = { kind: 'remote', url: url.value.trim(), header_type: header.value.trim(), token_path: '', refresh_path: '', verify_path: '', blacklist_path: '', me_path: '' };
          for (const [el, key] of paths) s[key] = el.value.trim();
          return s;
        },
      };
    },
  },
];

/** @param {ipc.ServerKind} s */
export function place(s) {
  if (s.kind === 'embedded') return 'this computer';
  const url = s.kind === 'open_id' ? s.issuer : s.url;
  return url.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
}

/** @type {{views: ipc.ProfileView[], open: boolean, onChange: () => void, onManage: () => void, onAdd: () => void}} */
const sw = { views: [], open: false, onChange: () => {}, onManage: () => {}, onAdd: () => {} };

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * Wires the switcher once.
 * @param {{onChange: () => void, onManage: () => void, onAdd: () => void}} hooks
 */
export function initSwitcher(hooks) {
  Object.assign(sw, hooks);
  const button = $('profile-switcher');
  const menu = $('profile-menu');
  button.addEventListener('click', () => (sw.open ? closeMenu(true) : openMenu()));
  button.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' && !sw.open) { e.preventDefault(); openMenu(); }
  });
  menu.addEventListener('keydown', (e) => {
    const items = /** @type {HTMLElement[]} */ ([...menu.querySelectorAll('[role^=menuitem]')]);
    const at = items.indexOf(/** @type {HTMLElement} */ (document.activeElement));
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const next = (at + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
      items[next]?.focus();
    } else if (e.key === 'Home' || e.key === 'End') {
      e.preventDefault();
      items[e.key === 'Home' ? 0 : items.length - 1]?.focus();
    } else if (e.key === 'Escape') {
      e.preventDefault(); closeMenu(true);
    } else if (e.key === 'Tab') {
      closeMenu(false);
    }
  });
  document.addEventListener('click', (e) => {
    if (sw.open && !$('switcher').contains(/** @type {Node} */ (e.target))) closeMenu(false);
  });
  // Alt+1…9: the nth profile, from anywhere in the window.
  document.addEventListener('keydown', (e) => {
    if (!e.altKey || e.ctrlKey || e.metaKey || !/^[1-9]$/.test(e.key)) return;
    const v = sw.views[Number(e.key) - 1];
    if (v) { e.preventDefault(); choose(v.profile.id); }
  });
}

function openMenu() {
  sw.open = true;
  $('profile-switcher').setAttribute('aria-expanded', 'true');
  $('profile-menu').hidden = false;
  paintMenu(Date.now());
  const current = /** @type {HTMLElement|null} */ ($('profile-menu').querySelector('[aria-checked="true"]'))
    || /** @type {HTMLElement|null} */ ($('profile-menu').querySelector('[role^=menuitem]'));
  current?.focus();
}

/** @param {boolean} refocus */
function closeMenu(refocus) {
  sw.open = false;
  $('profile-switcher').setAttribute('aria-expanded', 'false');
  $('profile-menu').hidden = true;
  if (refocus) $('profile-switcher').focus();
}

/** @param {string} id */
async function choose(id) {
  closeMenu(true);
  if (activeView(sw.views)?.profile.id === id) return;
  try { await ipc.switchProfile(id); } catch { /* the list is refreshed below either way */ }
  sw.onChange();
}

/**
 * New data for the switcher.
 * @param {ipc.ProfileView[]} views
 */
export function setViews(views) {
  sw.views = views;
  paintSwitcher(Date.now());
}

/** @returns {ipc.ProfileView[]} */
export function views() { return sw.views; }

/**
 * Repaints the switcher's button (and the open menu): once a second.
 * @param {number} now
 */
export function paintSwitcher(now) {
  const box = $('switcher');
  box.hidden = sw.views.length === 0;
  const v = activeView(sw.views);
  const button = $('profile-switcher');
  if (v) {
    const st = profileStatus(v, now);
    // Built once, then only the words change: the countdown ticks every
    // second, and a control that is rebuilt every second cannot be read or
    // pointed at reliably (by assistive technology, or by the e2e tests).
    if (!button.querySelector('#profile-current')) {
      button.replaceChildren(
        h('span', { class: 'dot', id: 'profile-dot', 'aria-hidden': 'true' }),
        h('span', { class: 'profile-name', id: 'profile-current' }),
        h('span', { class: 'num meta', id: 'profile-left' }),
        h('span', { class: 'caret', 'aria-hidden': 'true' }, '▾'),
      );
    }
    const name = $('profile-current');
    if (name.textContent !== v.profile.name) name.textContent = v.profile.name;
    name.title = v.profile.name;
    $('profile-dot').className = `dot ${st.dot}`;
    const left = st.left || st.words.replace(/:.*/, '');
    if ($('profile-left').textContent !== left) $('profile-left').textContent = left;
    button.setAttribute('aria-label', `Profile: ${v.profile.name}, ${st.words}. Switch profile`);
  }
  if (sw.open) paintMenu(now);
}

/** Sets `el`'s text when it differs (a repaint that changes nothing touches nothing). @param {Element | null} el @param {string} text */
function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

/** @param {ipc.ProfileView[]} views what decides the rows and their buttons */
function shape(views) {
  return views.map((v) => `${v.profile.id}/${v.profile.name}/${v.active}/${v.session.phase.phase === 'signed_out'}`).join('|');
}

/**
 * The menu's rows, built when the profiles change and otherwise only
 * updated in place (the countdowns tick every second).
 * @param {number} now
 */
function paintMenu(now) {
  const menu = $('profile-menu');
  const key = shape(sw.views);
  if (menu.dataset.key !== key) {
    const focused = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.profileId : undefined;
    const rows = sw.views.map((v, i) => h('button', {
      type: 'button', role: 'menuitemradio', 'aria-checked': v.active ? 'true' : 'false',
      class: 'profile-item', 'data-profile': v.profile.name, 'data-profile-id': v.profile.id,
      onclick: () => choose(v.profile.id),
    },
    h('span', { class: 'dot', 'aria-hidden': 'true' }),
    h('span', { class: 'pi-main' },
      h('span', { class: 'profile-name' }, v.profile.name),
      h('span', { class: 'meta pi-state' }),
      h('span', { class: 'pi-pending' })),
    h('span', { class: 'num pi-left' }),
    i < 9 ? h('kbd', { class: 'meta', title: `Alt+${i + 1}` }, `Alt+${i + 1}`) : null));
    menu.replaceChildren(
      ...rows,
      h('hr'),
      h('button', { type: 'button', role: 'menuitem', id: 'profile-add', onclick: () => { closeMenu(false); sw.onAdd(); } }, 'Add a profile…'),
      h('button', { type: 'button', role: 'menuitem', id: 'profile-manage', onclick: () => { closeMenu(false); sw.onManage(); } }, 'Manage profiles…'),
    );
    menu.dataset.key = key;
    if (focused) /** @type {HTMLElement|null} */ (menu.querySelector(`[data-profile-id="${focused}"]`))?.focus();
  }
  for (const v of sw.views) {
    const row = menu.querySelector(`[data-profile-id="${v.profile.id}"]`);
    if (!row) continue;
    const st = profileStatus(v, now);
    const dot = row.querySelector('.dot');
    if (dot) dot.className = `dot ${st.dot}`;
    setText(row.querySelector('.pi-state'), `${v.profile.account} @ ${place(v.profile.server)} · ${st.words}`);
    setText(row.querySelector('.pi-left'), st.left);
    const pend = row.querySelector('.pi-pending');
    if (pend && pend.textContent !== st.pending.join('')) {
      pend.replaceChildren(...st.pending.map((p) => h('span', { class: 'meta pending' }, p)));
    }
  }
}

/**
 * The Profiles view: every profile, rename / remove / show, and every
 * revocation still waiting for its server.
 * @param {HTMLElement} main
 * @param {{onAdd: () => void, onChange: () => void}} hooks
 */
export function renderManage(main, hooks) {
  main.replaceChildren(
    h('h1', null, 'Profiles'),
    h('p', { class: 'meta' }, 'Each profile is one session: its own server, account, keyring entry, rotation schedule and timeline. They rotate independently; the commands warden token NAME and warden exec NAME -- … use them too.'),
    h('div', { id: 'profiles-body' }),
    h('div', { class: 'row' }, h('button', { type: 'button', class: 'primary', id: 'profiles-add', onclick: hooks.onAdd }, 'Add a profile…')),
    h('p', { id: 'profiles-result', class: 'meta', role: 'status' }),
  );
  manageHooks = hooks;
  tickManage(Date.now());
}

/** @type {{onAdd: () => void, onChange: () => void}} */
let manageHooks = { onAdd: () => {}, onChange: () => {} };

/**
 * Repaints the Profiles view's table (once a second, and on changes).
 * @param {number} now
 */
export function tickManage(now) {
  const body = document.getElementById('profiles-body');
  if (!body) return;
  const pending = sw.views.flatMap((v) => v.pending);
  const key = `${shape(sw.views)}#${pending.map((p) => `${p.id}/${p.last_error}`).join('|')}`;
  if (body.dataset.key !== key) {
    // Keep the focused control focused across the rebuild.
    const focus = document.activeElement instanceof HTMLElement && body.contains(document.activeElement) ? document.activeElement.id : null;
    const rows = sw.views.map((v) => h('tr', { 'data-profile': v.profile.name, 'data-profile-id': v.profile.id, class: v.active ? 'selected' : '' },
      h('td', null, h('span', { class: 'dot', 'aria-hidden': 'true' }), ' ', h('b', null, v.profile.name), v.active ? h('span', { class: 'tag' }, 'shown') : null),
      h('td', null, `${v.profile.account} @ ${place(v.profile.server)}`),
      h('td', { class: 'profile-state' }, h('span', { class: 'pm-state' }), h('span', { class: 'pm-pending' })),
      h('td', { class: 'num pm-left' }),
      h('td', { class: 'num pm-rotations' }),
      h('td', null, h('div', { class: 'row tight' },
        v.active ? null : h('button', { type: 'button', id: `show-${v.profile.id}`, onclick: async () => { await act(() => ipc.switchProfile(v.profile.id)); } }, 'Show'),
        h('button', { type: 'button', id: `rename-${v.profile.id}`, onclick: () => rename(v) }, 'Rename…'),
        h('button', { type: 'button', class: 'danger', id: `remove-${v.profile.id}`, onclick: () => remove(v) }, 'Remove…')))));
    body.replaceChildren(
      sw.views.length
        ? h('table', { id: 'profiles-table' },
          h('thead', null, h('tr', null, ...['Profile', 'Server', 'State', 'Access', 'Rotations', ''].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', null, ...rows))
        : h('p', { class: 'notice' }, 'No profiles yet: add one to sign in.'),
      ...(pending.length
        ? [h('section', { class: 'card', id: 'outbox' },
          h('h2', null, 'Waiting for a server'),
          h('ul', { class: 'plain' }, ...pending.map((p) => h('li', { class: 'pending' }, `${p.profile_name}: ${p.message}${p.last_error ? ` (last try: ${p.last_error})` : ''}`))))]
        : []),
    );
    body.dataset.key = key;
    if (focus) document.getElementById(focus)?.focus();
  }
  for (const v of sw.views) {
    const row = body.querySelector(`tr[data-profile-id="${v.profile.id}"]`);
    if (!row) continue;
    const st = profileStatus(v, now);
    const dot = row.querySelector('.dot');
    if (dot) dot.className = `dot ${st.dot}`;
    setText(row.querySelector('.pm-state'), st.words);
    setText(row.querySelector('.pm-left'), st.left || '—');
    setText(row.querySelector('.pm-rotations'), String(v.session.rotation_count));
    const pend = row.querySelector('.pm-pending');
    if (pend && pend.textContent !== st.pending.join('')) {
      pend.replaceChildren(...st.pending.map((p) => h('div', { class: 'pending' }, p)));
    }
  }
}

/** @param {() => Promise<unknown>} f */
async function act(f) {
  const out = document.getElementById('profiles-result');
  if (out) { out.textContent = ''; out.classList.remove('bad'); }
  try { await f(); } catch (e) {
    if (out) { out.textContent = `${/** @type {any} */ (e).message} (${/** @type {any} */ (e).code})`; out.classList.add('bad'); }
  }
  manageHooks.onChange();
}

/** @param {ipc.ProfileView} v */
async function rename(v) {
  const dialog = /** @type {HTMLDialogElement} */ (document.getElementById('rename'));
  const input = /** @type {HTMLInputElement} */ (document.getElementById('rename-name'));
  input.value = v.profile.name;
  dialog.returnValue = '';
  dialog.showModal();
  input.select();
  const ok = await new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }));
  if (ok && input.value.trim() && input.value.trim() !== v.profile.name) await act(() => ipc.renameProfile(v.profile.id, input.value.trim()));
}

/** @param {ipc.ProfileView} v */
async function remove(v) {
  const signedIn = v.session.phase.phase !== 'signed_out';
  const text = signedIn
    ? `This logs “${v.profile.name}” out (the server is told now, or as soon as it can be reached) and deletes its keyring entry.`
    : `This deletes “${v.profile.name}” and its keyring entry.`;
  if (!(await confirmDialog(`Remove ${v.profile.name}?`, text, 'Remove'))) return;
  const out = document.getElementById('profiles-result');
  await act(async () => {
    const r = await ipc.removeProfile(v.profile.id);
    if (out) {
      out.classList.remove('bad');
      out.textContent = r.outcome === 'pending' ? `Removed “${v.profile.name}”. ${r.pending.message}`
        : r.outcome === 'abandoned' ? `Removed “${v.profile.name}”, but the server could not be told: ${r.reason}`
          : `Removed “${v.profile.name}”.`;
    }
  });
}

/**
 * The form that adds a profile: its kind of server first, then the fields
 * that kind needs, then the account.
 * @param {HTMLElement} main
 * @param {{onDone: () => void, onCancel: () => void}} hooks
 */
export function renderAdd(main, hooks) {
  const kind = /** @type {HTMLSelectElement} */ (h('select', { id: 'add-kind', name: 'add-kind' }, ...KINDS.map((k) => h('option', { value: k.kind }, k.label))));
  kind.value = 'remote';
  const fieldsBox = h('div', { id: 'add-fields' });
  /** @type {() => ipc.ServerKind} */
  let server = () => ({ kind: 'embedded' });
  const sync = () => {
    const k = KINDS.find((x) => x.kind === kind.value) || KINDS[0];
    const f = k.fields();
    server = f.server;
    fieldsBox.replaceChildren(...f.nodes);
  };
  kind.addEventListener('change', sync);
  const name = /** @type {HTMLInputElement} */ (h('input', { id: 'add-name', name: 'add-name', type: 'text', placeholder: 'alice @ auth.example.com', autocomplete: 'off' }));
  const user = /** @type {HTMLInputElement} */ (h('input', { id: 'add-username', name: 'add-username', type: 'text', autocomplete: 'username', required: true }));
  const pass = /** @type {HTMLInputElement} */ (h('input', { id: 'add-password', name: 'add-password', type: 'password', autocomplete: 'current-password', required: true }));
  const error = h('p', { class: 'notice error', role: 'alert', id: 'add-error', hidden: true });
  const submit = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'primary', id: 'add-submit' }, 'Sign in and add'));
  main.replaceChildren(h('form', { class: 'signin', id: 'add-profile', onsubmit: async (/** @type {SubmitEvent} */ e) => {
    e.preventDefault();
    submit.disabled = true; submit.textContent = 'Signing in…'; error.hidden = true;
    try {
      await ipc.addProfile(server(), user.value, pass.value, name.value.trim() || null);
      hooks.onDone();
    } catch (err) {
      const ce = /** @type {ipc.CommandError} */ (err);
      error.textContent = `${ce.message} (${ce.code})`;
      error.hidden = false;
      pass.select();
    } finally {
      submit.disabled = false; submit.textContent = 'Sign in and add';
    }
  } },
  h('h1', null, 'Add a profile'),
  h('label', { for: 'add-kind' }, 'Server'), kind,
  fieldsBox,
  h('label', { for: 'add-name' }, 'Profile name (optional)'), name,
  h('label', { for: 'add-username' }, 'Username'), user,
  h('label', { for: 'add-password' }, 'Password'), pass,
  error,
  h('div', { class: 'row' }, submit, h('button', { type: 'button', id: 'add-cancel', onclick: hooks.onCancel }, 'Cancel'))));
  sync();
  kind.focus();
}
