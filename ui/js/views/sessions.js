// @ts-check
import { h, confirmDialog } from '../dom.js';
import { formatWhen, deviceName } from '../format.js';
import * as ipc from '../ipc.js';

/**
 * My sessions: every session of this account, revocable one by one.
 * @param {HTMLElement} main
 * @param {{openId?: string|null}} [opts] openId: the OpenID provider's issuer, which has no such list
 */
export function render(main, opts = {}) {
  if (opts.openId) {
    main.replaceChildren(
      h('h1', null, 'Sessions'),
      h('p', { class: 'notice', id: 'sessions-unavailable', role: 'status' },
        `Unavailable for this profile: the sessions list is a Warden server feature, and ${opts.openId} is an OpenID provider (its own console lists its sessions).`),
    );
    return Promise.resolve();
  }
  main.replaceChildren(
    h('h1', null, 'Sessions'),
    h('p', { class: 'meta' }, 'Every device signed in to this account. Revoking a session refuses its tokens at once.'),
    h('div', { id: 'sessions-body' }, h('p', { class: 'meta' }, 'Loading sessions…')),
  );
  return refresh();
}

/** Reloads the table (called on a timer and on session events). */
export async function refresh() {
  const body = document.getElementById('sessions-body');
  if (!body) return;
  /** @type {ipc.SessionRow[]} */
  let rows;
  try {
    rows = (await ipc.sessions()).filter((s) => !s.revoked_at);
  } catch (e) {
    body.replaceChildren(h('p', { class: 'notice error', role: 'alert' }, `Cannot load the sessions: ${/** @type {any} */ (e).message}. They will reload when the server answers.`));
    return;
  }
  if (!document.getElementById('sessions-body')) return;
  if (rows.length === 0) {
    body.replaceChildren(h('p', { class: 'notice' }, 'No active sessions. Sign in on a device to see it here.'));
    return;
  }
  const now = Date.now();
  // Rebuilt only when something shown changed: the timer asks every 3 s,
  // and a row rebuilt under the pointer cannot be clicked (nor kept by a
  // screen reader).
  const key = JSON.stringify(rows.map((s) => [s.id, s.current, deviceName(s), s.address, formatWhen(s.created_at, now),
    s.last_rotated_at ? formatWhen(s.last_rotated_at, now) : null, s.rotation_count, formatWhen(s.expires_at, now)]));
  if (body.dataset.key === key && body.querySelector('#sessions-table')) return;
  body.dataset.key = key;
  body.replaceChildren(h('table', { id: 'sessions-table' },
    h('thead', null, h('tr', null, ...['Device', 'Where from', 'Signed in', 'Last rotation', 'Expires', ''].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, ...rows.map((s) => h('tr', { 'data-session': s.id, class: s.current ? 'current' : '' },
      h('td', null, deviceName(s), s.current ? h('span', { class: 'tag' }, 'this device') : null),
      h('td', { class: 'mono' }, s.address || '—'),
      h('td', null, formatWhen(s.created_at, now)),
      h('td', null, s.last_rotated_at ? `${formatWhen(s.last_rotated_at, now)} (${s.rotation_count})` : 'never'),
      h('td', null, formatWhen(s.expires_at, now)),
      h('td', null, h('button', { type: 'button', class: 'danger revoke', 'aria-label': `Revoke ${deviceName(s)}`, onclick: () => revoke(s) }, 'Revoke')),
    ))),
  ));
}

/** @param {ipc.SessionRow} s */
async function revoke(s) {
  const text = s.current
    ? 'This is the session of this window: revoking it signs you out here.'
    : `This ends the session of ${deviceName(s)}; its tokens are refused from now on.`;
  if (!(await confirmDialog('Revoke this session?', text, 'Revoke'))) return;
  try { await ipc.revokeSession(s.id); } catch { /* the refresh shows the truth */ }
  await refresh();
}
