// @ts-check
import { h, confirmDialog, announce } from '../dom.js';
import { secondsLeft, fractionLeft, tone, toneWords, formatLeft } from '../countdown.js';
import { formatWhen, plural } from '../format.js';
import * as ipc from '../ipc.js';

/** @type {Record<string, string>} last announced tone per card */
const announced = {};

/** @type {string|null} the token on screen (access jti, else refresh jti), for "Rotate now" */
let shownAccess = null;

/**
 * @param {string} id
 * @param {string} title
 */
function card(id, title) {
  return h('section', { class: 'card', id, 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, title),
    h('div', null, h('span', { class: 'left num', 'data-left': '' }), h('span', { class: 'state', 'data-state': '' })),
    h('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'data-bar': '' }, h('div', { class: 'fill', 'data-fill': '' })),
    h('div', { class: 'meta num', 'data-times': '' }),
  );
}

/**
 * @param {HTMLElement} main
 * @param {{owner?: boolean, openId?: string|null, onDismissOwner?: () => void, onDone: (notice: string) => void, onError: (msg: string) => void}} hooks
 *   openId: the OpenID provider's issuer (Warden-only features are unavailable)
 */
export function render(main, hooks) {
  const rotate = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', id: 'rotate-now', onclick: async () => {
    rotate.disabled = true; rotate.textContent = 'Rotating…';
    try { await ipc.rotateNow(shownAccess); } catch (e) { hooks.onError(/** @type {any} */ (e).message); }
    rotate.disabled = false; rotate.textContent = 'Rotate now';
  } }, 'Rotate now'));
  const checkResult = h('span', { id: 'access-check', class: 'meta', role: 'status' });
  const check = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', id: 'check-access', onclick: async () => {
    check.disabled = true;
    checkResult.textContent = 'Asking the server…';
    checkResult.classList.remove('bad');
    try {
      const r = await ipc.checkAccess();
      checkResult.textContent = `The server accepts the access token: ${r.username}${r.id == null ? '' : ` (user ${r.id})`}, GET ${r.path}`;
    } catch (e) {
      checkResult.textContent = `Refused: ${/** @type {any} */ (e).message} (${/** @type {any} */ (e).code})`;
      checkResult.classList.add('bad');
    }
    check.disabled = false;
  } }, 'Check with server'));
  const logout = h('button', { type: 'button', id: 'log-out', onclick: async () => {
    try { await ipc.logOut(); hooks.onDone('You logged out. Your refresh token was removed from the keyring.'); } catch (e) { hooks.onError(/** @type {any} */ (e).message); }
  } }, 'Log out');
  const everywhere = h('button', { type: 'button', class: 'danger', id: 'log-out-everywhere', onclick: async () => {
    let n = 0;
    try { n = (await ipc.sessions()).filter((s) => !s.revoked_at).length; } catch { n = 0; }
    const text = n > 0
      ? `This ends ${plural(n, 'session')} on all devices, including this one.`
      : 'This ends every session of this account on all devices, including this one.';
    if (!(await confirmDialog('Log out everywhere?', text, 'Log out everywhere'))) return;
    try {
      const count = await ipc.logOutEverywhere();
      hooks.onDone(`${plural(count, 'session')} revoked; their access tokens are refused from now on.`);
    } catch (e) { hooks.onError(/** @type {any} */ (e).message); }
  } }, 'Log out everywhere…');
  /** @type {HTMLElement[]} */
  const wardenOnly = [];
  if (hooks.openId) {
    everywhere.setAttribute('disabled', '');
    everywhere.setAttribute('aria-describedby', 'warden-only');
    wardenOnly.push(h('p', { class: 'meta', id: 'warden-only' },
      'Log out everywhere, the sessions list and the staff console are Warden server features: unavailable for an OpenID provider, whose own console manages its sessions.'));
  }
  // Once, right after the first account was created: it owns the server.
  const owner = hooks.owner
    ? [h('p', { class: 'notice', id: 'owner-notice', role: 'status' },
      'You own this computer’s Warden server: this account is staff, and the staff console (Users, Audit log) is on the left. ',
      h('button', { type: 'button', id: 'owner-notice-dismiss', onclick: () => hooks.onDismissOwner?.() }, 'Dismiss'))]
    : [];
  main.replaceChildren(
    h('h1', null, 'Session'),
    ...owner,
    h('div', { class: 'cards' }, card('access-card', 'Access token'), card('refresh-card', 'Refresh token')),
    h('p', { class: 'num', id: 'rotation-line' }),
    h('div', { class: 'row' }, rotate, check, logout, everywhere),
    ...wardenOnly,
    checkResult,
    h('p', { class: 'recent', id: 'recent' }),
  );
}

/**
 * @param {HTMLElement} el
 * @param {string} key
 * @param {ipc.TokenInfo | null | undefined} t
 * @param {number} now
 */
function paintCard(el, key, t, now) {
  if (!el) return;
  const left = /** @type {HTMLElement} */ (el.querySelector('[data-left]'));
  const state = /** @type {HTMLElement} */ (el.querySelector('[data-state]'));
  const bar = /** @type {HTMLElement} */ (el.querySelector('[data-bar]'));
  const fill = /** @type {HTMLElement} */ (el.querySelector('[data-fill]'));
  const times = /** @type {HTMLElement} */ (el.querySelector('[data-times]'));
  if (!t) {
    left.textContent = '—'; state.textContent = 'not held'; times.textContent = '';
    return;
  }
  if (t.expires_at == null) {
    // Held, but its issuer states no expiry (an OpenID provider's opaque refresh token).
    left.textContent = 'held'; state.textContent = 'no stated expiry'; times.textContent = '';
    fill.style.width = '100%';
    return;
  }
  const life = t.exp != null && t.iat != null ? t.exp - t.iat : 0;
  const issued = t.expires_at - life;
  const secs = secondsLeft(t.expires_at, now);
  const frac = fractionLeft(issued, t.expires_at, now);
  const tn = tone(frac);
  const pct = Math.round(frac * 100);
  left.textContent = `${formatLeft(secs)} left`;
  state.textContent = `${pct} % · ${toneWords(tn)}`;
  el.classList.remove('tone-calm', 'tone-amber', 'tone-red', 'tone-expired');
  el.classList.add(`tone-${tn}`);
  fill.style.width = `${pct}%`;
  bar.setAttribute('aria-valuenow', String(pct));
  times.textContent = `issued ${formatWhen(issued, now)} · expires ${formatWhen(t.expires_at, now)}`;
  if (announced[key] !== tn) {
    if (announced[key] !== undefined && tn !== 'calm') announce(`${key} token ${toneWords(tn)}: ${formatLeft(secs)} left`);
    announced[key] = tn;
  }
}

/**
 * Repaints the numbers; called once a second and on every change.
 * @param {ipc.SessionView} s
 * @param {ipc.Exchange[]} recent newest first
 */
export function tick(s, recent) {
  shownAccess = s.access?.jti ?? s.refresh?.jti ?? null;
  // The fault lab can skew the app's clock; show what the session manager sees.
  const now = Date.now() + (s.clock_skew_s || 0) * 1000;
  paintCard(/** @type {HTMLElement} */ (document.getElementById('access-card')), 'Access', s.access, now);
  paintCard(/** @type {HTMLElement} */ (document.getElementById('refresh-card')), 'Refresh', s.refresh, now);
  const line = document.getElementById('rotation-line');
  if (line) {
    const next = s.phase.phase === 'rotating'
      ? 'Rotating…'
      : s.next_rotation_at != null
        ? `Next rotation ${formatWhen(s.next_rotation_at, now)} (in ${formatLeft(secondsLeft(s.next_rotation_at, now))})`
        : 'No rotation scheduled';
    line.textContent = `${next} · `;
    line.append(h('span', { id: 'rotation-count' }, plural(s.rotation_count, 'rotation')), ' this session');
  }
  const rec = document.getElementById('recent');
  if (rec) {
    rec.replaceChildren(...(recent.length ? ['Recent: '] : []), ...recent.filter((x) => !x.path.includes('capabilities')).slice(0, 3).map((x) =>
      h('span', { class: 'exchange' }, `${formatWhen(x.at / 1000, now)} ${label(x)} · ${outcome(x)} · ${x.latency_ms} ms`)));
  }
}

/** @param {ipc.Exchange} x */
function outcome(x) {
  if (x.status == null) return `no answer${x.error_code ? ` (${x.error_code})` : ''}`;
  return `${x.status}${x.error_code ? ` ${x.error_code}` : ''}`;
}

/** @param {ipc.Exchange} x */
function label(x) {
  // Remote servers may mount SimpleJWT elsewhere (auth/jwt/create/, …).
  if (x.path.includes('refresh')) return 'rotated';
  if (x.path.endsWith('api/token/') || x.path.endsWith('jwt/create/')) return 'signed in';
  if (x.path.includes('blacklist')) return 'logged out';
  if (x.method === 'GET' && x.path.includes('me/')) return 'access checked';
  if (x.path.includes('sessions')) return 'sessions';
  if (x.path.includes('register')) return 'account created';
  if (x.path.includes('logout')) return 'logged out';
  return `${x.method} ${x.path}`;
}
