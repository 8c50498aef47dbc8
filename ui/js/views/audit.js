// @ts-check
/** The audit log: filters (user, kind, time range) and export as JSON Lines or CSV. */
import { h, table } from '../dom.js';
import { formatWhen } from '../format.js';
import * as ipc from '../ipc.js';
import { fillUserNames, userCell } from '../names.js';

export const KINDS = ['login_succeeded', 'login_failed', 'locked_out', 'rotated', 'grace_replay', 'reuse_detected',
  'session_revoked', 'logout', 'logout_all', 'blacklisted', 'token_revoked', 'password_changed', 'user_created',
  'user_deleted', 'user_deactivated', 'user_reactivated', 'user_locked', 'user_unlocked', 'staff_granted',
  'staff_revoked', 'email_verified', 'key_rotated', 'flushed'];

const $ = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ (document.getElementById(id));

/** @param {string} v a datetime-local value → Unix seconds */
const secs = (v) => (v ? Math.floor(new Date(v).getTime() / 1000) : null);

/** @returns {Promise<ipc.AuditFilter | null>} the form as a filter; null when the user is unknown */
async function filter() {
  /** @type {ipc.AuditFilter} */
  const f = { kinds: $('audit-kind').value ? [$('audit-kind').value] : [], since: secs($('audit-since').value), until: secs($('audit-until').value), user: null };
  const who = $('audit-user').value.trim();
  if (who) {
    if (/^\d+$/.test(who)) f.user = Number(who);
    else {
      const found = (await ipc.staffUsers(who, 'all')).find((u) => u.username.toLowerCase() === who.toLowerCase());
      if (!found) { status(`No user named ${who}.`, true); return null; }
      f.user = found.id;
    }
  }
  return f;
}

/**
 * The line's user. A failed sign-in for a name that is no account is kept
 * as a keyed hash, never as typed (it may be a password): "unknown user"
 * and the hash's start, so that attempts with the same name can be matched.
 * @param {ipc.AuditRecord} r
 */
function subjectCell(r) {
  const detail = r.detail && typeof r.detail === 'object' && !Array.isArray(r.detail) ? r.detail : null;
  const hash = detail && typeof detail.identifier_hash === 'string' ? detail.identifier_hash : null;
  if (r.subject == null && hash) return h('span', { class: 'meta', title: `identifier hash ${hash}` }, `unknown user (${hash.slice(0, 8)})`);
  return userCell(r.subject);
}

/** @param {string} text @param {boolean} [bad] */
function status(text, bad = false) {
  const el = document.getElementById('audit-status');
  if (el) { el.textContent = text; el.classList.toggle('bad', bad); }
}

/** @param {HTMLElement} main */
export function render(main) {
  main.replaceChildren(
    h('h1', null, 'Audit log'),
    h('form', { class: 'filters', id: 'audit-form', onsubmit: (/** @type {Event} */ e) => { e.preventDefault(); load(); } },
      h('label', null, 'User', h('input', { id: 'audit-user', type: 'text', placeholder: 'name or id' })),
      h('label', null, 'Kind', h('select', { id: 'audit-kind' }, h('option', { value: '' }, 'every kind'), ...KINDS.map((k) => h('option', { value: k }, k.replaceAll('_', ' '))))),
      h('label', null, 'From', h('input', { id: 'audit-since', type: 'datetime-local', step: '1' })),
      h('label', null, 'To', h('input', { id: 'audit-until', type: 'datetime-local', step: '1' })),
      h('div', { class: 'row tight' },
        h('button', { type: 'submit', class: 'primary', id: 'audit-go' }, 'Show'),
        h('button', { type: 'button', id: 'audit-export-jsonl', onclick: () => exportAs('jsonl') }, 'Export JSON Lines'),
        h('button', { type: 'button', id: 'audit-export-csv', onclick: () => exportAs('csv') }, 'Export CSV')),
    ),
    h('p', { id: 'audit-status', class: 'meta', role: 'status' }),
    h('div', { id: 'audit-body' }),
  );
  load();
}

async function load() {
  const body = document.getElementById('audit-body');
  if (!body) return;
  try {
    const f = await filter();
    if (!f) return;
    const rows = await ipc.staffAudit(f);
    const now = Date.now();
    status(`${rows.length} line${rows.length === 1 ? '' : 's'}, newest first.`);
    body.replaceChildren(table('audit-table', ['When', 'Kind', 'User', 'By', 'Session', 'Reason', 'From'], rows.map((r) => [
      formatWhen(r.at, now), r.kind.replaceAll('_', ' '), subjectCell(r),
      userCell(r.actor), h('span', { class: 'mono' }, r.session_id ? `${r.session_id.slice(0, 8)}…` : '—'),
      r.reason || '', h('span', { class: 'mono' }, r.address || ''),
    ]), (i) => ({ 'data-kind': rows[i].kind })));
    await fillUserNames(body);
  } catch (e) {
    status(`Cannot load the audit log: ${/** @type {any} */ (e).message} (${/** @type {any} */ (e).code})`, true);
  }
}

/** @param {'jsonl' | 'csv'} format */
async function exportAs(format) {
  try {
    const f = await filter();
    if (!f) return;
    const r = await ipc.exportAudit(format, f);
    status(`Exported ${r.lines} line${r.lines === 1 ? '' : 's'} to ${r.path}`);
  } catch (e) {
    status(`Export failed: ${/** @type {any} */ (e).message} (${/** @type {any} */ (e).code})`, true);
  }
}
