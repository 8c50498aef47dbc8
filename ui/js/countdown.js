// @ts-check
/** Countdown maths: pure functions, unit-tested with `node --test ui/`. */

/** Below this share of its lifetime a token is "expiring soon" (amber). */
export const AMBER_BELOW = 0.2;
/** Below this share it is "about to expire" (red). */
export const RED_BELOW = 0.05;

/**
 * Seconds left until `expiresAt` (Unix seconds), never negative.
 * @param {number} expiresAt
 * @param {number} nowMs Date.now()
 */
export function secondsLeft(expiresAt, nowMs) {
  return Math.max(0, expiresAt - nowMs / 1000);
}

/**
 * Share of the lifetime still left, 0..1.
 * @param {number} issuedAt Unix seconds
 * @param {number} expiresAt Unix seconds
 * @param {number} nowMs
 */
export function fractionLeft(issuedAt, expiresAt, nowMs) {
  const life = expiresAt - issuedAt;
  if (!(life > 0)) return 0;
  return Math.min(1, Math.max(0, (expiresAt - nowMs / 1000) / life));
}

/** @typedef {'calm' | 'amber' | 'red' | 'expired'} Tone */

/**
 * @param {number} fraction share of the lifetime left
 * @returns {Tone}
 */
export function tone(fraction) {
  if (fraction <= 0) return 'expired';
  if (fraction < RED_BELOW) return 'red';
  if (fraction < AMBER_BELOW) return 'amber';
  return 'calm';
}

/**
 * The words that go with a tone, so colour is never the only signal.
 * @param {Tone} t
 */
export function toneWords(t) {
  switch (t) {
    case 'amber': return 'expiring soon';
    case 'red': return 'about to expire';
    case 'expired': return 'expired';
    default: return 'fresh';
  }
}

/** @param {number} n */
const pad = (n) => String(n).padStart(2, '0');

/**
 * Seconds always tick: "04:12" under an hour, "5:59:58" under a day,
 * "2 d 03:00:00" beyond.
 * @param {number} secs
 */
export function formatLeft(secs) {
  const s = Math.max(0, Math.floor(secs));
  const mmss = `${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
  if (s < 3600) return mmss;
  if (s < 86400) return `${Math.floor(s / 3600)}:${mmss}`;
  return `${Math.floor(s / 86400)} d ${pad(Math.floor((s % 86400) / 3600))}:${mmss}`;
}
