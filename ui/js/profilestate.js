// @ts-check
/**
 * One profile's state in a few words and a dot, as the switcher and the
 * Profiles view show it (no DOM: profilestate.test.js checks it).
 */
import { formatLeft, secondsLeft } from './countdown.js';

/**
 * @typedef {import('./wire').ProfileView} ProfileView
 * @typedef {{dot: 'ok' | 'warn' | 'off', words: string, left: string, pending: string[]}} ProfileStatus
 *   dot: signed in / offline (expiring) / signed out; words: the state in words;
 *   left: the access token's countdown ('' when none); pending: "will be revoked when … is reachable"
 */

/**
 * @param {ProfileView} v
 * @param {number} now Unix ms
 * @returns {ProfileStatus}
 */
export function profileStatus(v, now) {
  const s = v.session;
  const skewed = now + (s.clock_skew_s || 0) * 1000;
  const access = s.access?.expires_at;
  const left = access != null ? formatLeft(secondsLeft(access, skewed)) : '';
  const pending = v.pending.map((p) => pendingWords(p));
  const phase = s.phase;
  switch (phase.phase) {
    case 'active':
      return { dot: 'ok', words: 'signed in', left, pending };
    case 'rotating':
      return { dot: 'ok', words: 'rotating…', left, pending };
    case 'restoring':
      return { dot: 'ok', words: 'restoring…', left, pending };
    case 'offline': {
      const expired = access != null && secondsLeft(access, skewed) <= 0;
      return { dot: 'warn', words: expired ? 'offline, access token expired' : 'offline, expiring', left, pending };
    }
    default: {
      const why = phase.reason && phase.reason.kind !== 'logged_out' && s.signed_out_message ? `signed out: ${s.signed_out_message}` : 'signed out';
      return { dot: 'off', words: why, left: '', pending };
    }
  }
}

/**
 * "will be revoked when auth.example.com is reachable", with what it ends.
 * @param {import('./wire').PendingRevocation} p
 */
export function pendingWords(p) {
  const what = p.what.kind === 'logout_all' ? 'every session of this account'
    : p.what.kind === 'session' ? 'a session' : 'this session';
  return `${p.account}: ${what} will be revoked when ${p.server} is reachable`;
}

/**
 * The profile shown first in the switcher's label: the active one.
 * @param {ProfileView[]} views
 */
export function activeView(views) {
  return views.find((v) => v.active) || null;
}
