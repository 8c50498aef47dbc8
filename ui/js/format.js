// @ts-check
/** Formatting in the user's locale (Intl): pure, unit-tested. */

/**
 * A time of day, with the date when it is not today.
 * @param {number} unixSecs
 * @param {number} nowMs
 * @param {string | undefined} [locale] undefined: the user's
 * @param {string | undefined} [timeZone] undefined: the user's
 */
export function formatWhen(unixSecs, nowMs, locale, timeZone) {
  const d = new Date(unixSecs * 1000);
  const now = new Date(nowMs);
  const day = new Intl.DateTimeFormat(locale, { year: 'numeric', month: 'numeric', day: 'numeric', timeZone });
  const sameDay = day.format(d) === day.format(now);
  /** @type {Intl.DateTimeFormatOptions} */
  const opts = sameDay
    ? { hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone }
    : { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', timeZone };
  return new Intl.DateTimeFormat(locale, opts).format(d);
}

/**
 * "1 session" / "3 sessions".
 * @param {number} n
 * @param {string} word singular
 */
export function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * A device description from a session row.
 * @param {{device_label?: string | null, user_agent?: string | null}} s
 */
export function deviceName(s) {
  return s.device_label || s.user_agent || 'Unknown device';
}
