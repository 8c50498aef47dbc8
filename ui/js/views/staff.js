// @ts-check
/** The staff console: find users, open one, their sessions with lineage, actions with a reason. */
import { h, askDialog, table } from '../dom.js';
import { formatWhen, deviceName, plural } from '../format.js';
import * as ipc from '../ipc.js';
import { fillUserNames, userCell } from '../names.js';

/** @type {{q: string, filter: string, user: number | null, session: string | null, result: {text: string, bad: boolean} | null}} */
const view = { q: '', filter: 'all', user: null, session: null, result: null };

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @param {unknown} e */
const message = (e) => `${/** @type {any} */ (e).message} (${/** @type {any} */ (e).code})`;

/** @param {HTMLElement} main */
export function render(main) {
  const q = /** @type {HTMLInputElement} */ (h('input', { id: 'user-search', type: 'search', placeholder: 'Username or e-mail', value: view.q, 'aria-label': 'Search users' }));
  const filter = /** @type {HTMLSelectElement} */ (h('select', { id: 'user-filter', 'aria-label': 'Show' },
    ...[['all', 'All users'], ['active', 'Active'], ['inactive', 'Deactivated'], ['locked', 'Locked'], ['staff', 'Staff']]
      .map(([v, t]) => h('option', { value: v, selected: v === view.filter }, t))));
  main.replaceChildren(
    h('h1', null, 'Users'),
    h('form', { class: 'row', id: 'user-search-form', onsubmit: (/** @type {Event} */ e) => { e.preventDefault(); view.q = q.value; view.filter = filter.value; search(); } },
      q, filter, h('button', { type: 'submit', class: 'primary', id: 'user-search-go' }, 'Search')),
    h('div', { id: 'user-results' }),
    h('div', { id: 'user-detail' }),
    h('div', { id: 'lineage' }),
  );
  search();
  if (view.user != null) openUser(view.user);
}

async function search() {
  const box = $('user-results');
  if (!box) return;
  box.replaceChildren(h('p', { class: 'meta' }, 'Searching…'));
  try {
    const users = await ipc.staffUsers(view.q, view.filter);
    if (users.length === 0) { box.replaceChildren(h('p', { class: 'notice' }, 'No user matches.')); return; }
    const now = Date.now();
    box.replaceChildren(table('users-table', ['User', 'Status', 'Last sign-in', ''], users.map((u) => [
      h('span', null, u.username, u.email ? h('span', { class: 'meta' }, ` ${u.email}`) : null),
      h('span', null, ...badges(u)),
      u.last_login ? formatWhen(u.last_login, now) : 'never',
      h('button', { type: 'button', class: 'open-user', 'data-user': u.username, onclick: () => openUser(u.id) }, 'Open'),
    ])));
  } catch (e) {
    box.replaceChildren(h('p', { class: 'notice error', role: 'alert' }, `Cannot search: ${message(e)}`));
  }
}

/** @param {ipc.StaffUser} u */
function badges(u) {
  return [
    h('span', { class: `tag ${u.is_active ? 'ok' : 'bad'}` }, u.is_active ? 'active' : 'deactivated'),
    u.locked ? h('span', { class: 'tag bad' }, 'locked') : null,
    u.is_staff ? h('span', { class: 'tag' }, 'staff') : null,
  ];
}

/**
 * What the user's failed-login counters say: the failures from every
 * address, then each address that is locked out (the user is not: she can
 * sign in from elsewhere) and whether new addresses must wait.
 * @param {ipc.SignInThrottle[]} throttles @param {number} now
 */
function failedSignIns(throttles, now) {
  const all = throttles.find((t) => t.scope === 'identifier');
  const total = all ? all.failures : throttles.reduce((n, t) => n + t.failures, 0);
  const active = (/** @type {ipc.SignInThrottle} */ t) => t.locked_until && t.locked_until * 1000 > now;
  const notes = [];
  for (const t of throttles.filter((t) => t.scope === 'pair' && active(t))) {
    notes.push(h('li', null, 'locked out from ', h('span', { class: 'mono' }, t.address || 'an unknown address'), ` until ${formatWhen(/** @type {number} */ (t.locked_until), now)}`));
  }
  if (all && active(all)) notes.push(h('li', null, `new addresses wait until ${formatWhen(/** @type {number} */ (all.locked_until), now)} (guessing from many addresses)`));
  const known = throttles.filter((t) => t.scope === 'pair' && t.last_success_at).length;
  return h('span', null, String(total),
    known ? h('span', { class: 'meta' }, ` · signs in from ${known} known address${known === 1 ? '' : 'es'}`) : null,
    notes.length ? h('ul', { class: 'plain' }, ...notes) : null);
}

/** @param {number} id */
async function openUser(id) {
  if (view.user !== id) view.result = null;
  view.user = id;
  const box = $('user-detail');
  if (!box) return;
  box.replaceChildren(h('p', { class: 'meta' }, 'Loading…'));
  let v;
  try { v = await ipc.staffUser(id); } catch (e) {
    box.replaceChildren(h('p', { class: 'notice error', role: 'alert' }, `Cannot open the user: ${message(e)}`));
    return;
  }
  const u = v.detail;
  const now = Date.now();
  const throttles = u.throttles || [];
  /** @param {string} id @param {string} label @param {ipc.StaffAction['kind']} action @param {string} text @param {boolean} [danger] @param {boolean} [password] */
  const act = (id, label, action, text, danger = false, password = false) => h('button', { type: 'button', id, class: danger ? 'danger' : '', onclick: async () => {
    const ans = await askDialog(`${label}: ${u.username}`, text, label, { password });
    if (!ans) return;
    await run(() => ipc.staffAction({ action, reason: ans.reason, userId: u.id, password: password ? ans.password : null }));
    openUser(u.id); search();
  } }, label);
  box.replaceChildren(
    h('section', { class: 'card', id: 'user-card', 'aria-labelledby': 'user-card-title' },
      h('h2', { id: 'user-card-title' }, `${u.username} (user ${u.id})`, ' ', ...badges(u)),
      h('dl', { class: 'facts' },
        h('dt', null, 'E-mail'), h('dd', null, u.email || '—'),
        h('dt', null, 'Joined'), h('dd', null, u.date_joined ? formatWhen(u.date_joined, now) : '—'),
        h('dt', null, 'Last sign-in'), h('dd', null, u.last_login ? formatWhen(u.last_login, now) : 'never'),
        h('dt', null, 'Failed sign-ins'), h('dd', { id: 'user-failed' }, failedSignIns(throttles, now)),
        h('dt', null, 'Lock'), h('dd', null, u.locked ? `locked${u.locked_until ? ` until ${formatWhen(u.locked_until, now)}` : ''}` : 'not locked'),
      ),
      h('div', { class: 'row' },
        act('staff-logout-all', 'Log out everywhere', 'logout_all', 'Every session of this user ends; their access tokens are refused from now on.', true),
        u.locked
          ? act('staff-unlock', 'Unlock', 'unlock', 'The user can sign in again.')
          : act('staff-lock', 'Lock', 'lock', 'The user cannot sign in, and every session ends.', true),
        u.is_active
          ? act('staff-deactivate', 'Deactivate', 'deactivate', 'The account is disabled and every session ends.', true)
          : act('staff-reactivate', 'Reactivate', 'reactivate', 'The account can be used again.'),
        act('staff-password', 'Set temporary password', 'set_password', 'Every session ends; tell the user the new password through another channel.', true, true),
      ),
      h('p', { id: 'staff-result', class: `meta ${view.result?.bad ? 'bad' : ''}`, role: 'status' }, view.result?.text || ''),
    ),
    h('h2', null, 'Sessions'),
    v.sessions.length === 0 ? h('p', { class: 'meta' }, 'No sessions.') : table('staff-sessions', ['Device', 'Signed in', 'Rotations', 'State', ''], v.sessions.map((s) => [
      h('span', null, deviceName(s), s.address ? h('span', { class: 'meta mono' }, ` ${s.address}`) : null),
      formatWhen(s.created_at, now),
      String(s.rotation_count),
      s.revoked_at ? h('span', { class: 'bad' }, `revoked ${formatWhen(s.revoked_at, now)}${s.revoked_reason ? ` (${s.revoked_reason})` : ''}`) : `live, expires ${formatWhen(s.expires_at, now)}`,
      h('span', { class: 'row tight' },
        h('button', { type: 'button', class: 'lineage', onclick: () => openLineage(s.id) }, 'Lineage'),
        s.revoked_at ? null : h('button', { type: 'button', class: 'danger staff-revoke', onclick: async () => {
          const ans = await askDialog(`Revoke ${deviceName(s)}?`, 'The session ends; its access and refresh tokens are refused from now on.', 'Revoke');
          if (!ans) return;
          await run(() => ipc.staffAction({ action: 'revoke_session', reason: ans.reason, sessionId: s.id }));
          openUser(u.id);
          if (view.session === s.id) openLineage(s.id);
        } }, 'Revoke')),
    ]), (i) => ({ 'data-session': v.sessions[i].id, class: v.sessions[i].revoked_at ? 'revoked' : '' })),
  );
}

/** @param {() => Promise<string>} f */
async function run(f) {
  try {
    view.result = { text: await f(), bad: false };
  } catch (e) {
    view.result = { text: message(e), bad: true };
  }
  const el = $('staff-result');
  if (el) { el.textContent = view.result.text; el.classList.toggle('bad', view.result.bad); }
}

/** @param {string} sid */
async function openLineage(sid) {
  view.session = sid;
  const box = $('lineage');
  if (!box) return;
  let v;
  try { v = await ipc.staffLineage(sid); } catch (e) {
    box.replaceChildren(h('p', { class: 'notice error', role: 'alert' }, `Cannot load the lineage: ${message(e)}`));
    return;
  }
  const now = Date.now();
  const l = v.lineage;
  const byJti = new Map(l.tokens.map((t) => [t.jti, t]));
  /** @type {Map<string, ipc.AuditRecord[]>} */
  const eventsByJti = new Map();
  for (const e of v.events) if (e.jti) eventsByJti.set(e.jti, [...(eventsByJti.get(e.jti) || []), e]);
  const revokedBy = v.events.find((e) => ['session_revoked', 'logout_all', 'logout', 'reuse_detected', 'user_locked', 'user_deactivated', 'password_changed', 'blacklisted', 'token_revoked'].includes(e.kind) && e.session_id === sid);
  const short = (/** @type {string} */ j) => j.slice(0, 8);
  box.replaceChildren(
    h('section', { class: 'card', id: 'lineage-card', 'aria-labelledby': 'lineage-title' },
      h('h2', { id: 'lineage-title' }, `Lineage of session ${short(sid)}… (${l.kind})`),
      l.session.revoked_at
        ? h('p', { class: 'notice error', id: 'lineage-revoked' }, `Revoked ${formatWhen(l.session.revoked_at, now)}: ${l.session.revoked_reason || 'no reason recorded'}`,
          ...(revokedBy ? [' — by ', revokedBy.actor != null ? userCell(revokedBy.actor) : 'the server', revokedBy.reason ? `, “${revokedBy.reason}”` : ''] : []))
        : h('p', { class: 'meta' }, `Live; head ${short(l.head_jti)}…`),
      h('ol', { class: 'chain', id: 'lineage-chain' }, ...l.tokens.map((t) => {
        const marks = (eventsByJti.get(t.jti) || []).filter((e) => e.kind === 'reuse_detected' || e.kind === 'grace_replay');
        return h('li', { class: marks.some((m) => m.kind === 'reuse_detected') ? 'reuse' : '' },
          h('span', { class: 'mono' }, short(t.jti)),
          t.parent_jti && byJti.has(t.parent_jti) ? h('span', { class: 'meta' }, ` ← ${short(t.parent_jti)}`) : h('span', { class: 'meta' }, ' (first)'),
          ` issued ${formatWhen(t.issued_at, now)}`,
          t.address ? h('span', { class: 'meta mono' }, ` from ${t.address}`) : null,
          t.rotated_at ? ` · rotated ${formatWhen(t.rotated_at, now)}` : t.jti === l.head_jti ? ' · head' : '',
          ...marks.map((m) => h('span', { class: `tag ${m.kind === 'reuse_detected' ? 'bad' : ''}` }, m.kind === 'reuse_detected' ? `reuse detected ${formatWhen(m.at, now)}${m.address ? ` from ${m.address}` : ''}` : `grace replay ${formatWhen(m.at, now)}`)),
        );
      })),
      h('details', null, h('summary', null, plural(v.events.length, 'audit line')),
        h('ul', { class: 'events' }, ...v.events.map((e) => h('li', null, `${formatWhen(e.at, now)} ${e.kind}`,
          ...(e.actor != null ? [' by ', userCell(e.actor)] : []), e.reason ? ` — ${e.reason}` : '')))),
    ),
  );
  fillUserNames(box);
}
