// @ts-check
/**
 * A session's history as a picture: what the time axis beside the timeline
 * table draws, computed from the same exchanges (and the profile's activity)
 * without the DOM, so node can test it (history.test.js).
 *
 * - each access token is a bar, from the exchange that issued it to the one
 *   that replaced it (solid), then faint until it expires, when its lifetime
 *   is known (the tokens of one session share the server's lifetime);
 * - every rotation is a tick;
 * - revocations (a logout delivered, a refresh refused as revoked), reuse
 *   detections and hand-outs to other programs are marks;
 * - outages (requests that got no answer, until one did) are shaded spans.
 */

/**
 * @typedef {import('./wire').Exchange} Exchange
 * @typedef {import('./wire').Activity} Activity
 * @typedef {{from: number, until: number, expires: number | null, current: boolean}} Bar
 *   times in Unix ms; `until`: replaced (or now); `expires`: its expiry when known
 * @typedef {{at: number, kind: 'revoked' | 'reuse' | 'handout' | 'signin' | 'logout' | 'queued', label: string}} Mark
 * @typedef {{from: number, until: number, open: boolean}} Outage
 * @typedef {{t0: number, t1: number, bars: Bar[], ticks: number[], marks: Mark[], outages: Outage[]}} History
 */

/** @param {string} path */
const isRefresh = (path) => /refresh\/?(\?|$)/.test(path);
/** @param {string} path */
const isObtain = (path) => /(^|\/)(token|jwt\/create)\/?(\?|$)/.test(path) && !isRefresh(path);
/** @param {string} path */
const isLogout = (path) => /(blacklist|logout(-all)?)\/?(\?|$)/.test(path);

/**
 * @param {Exchange[]} exchanges oldest first
 * @param {Activity[]} activity oldest first
 * @param {{access?: {expires_at: number | null, iat: number | null, exp: number | null} | null, signedIn: boolean}} now_state
 *   the session now: its access token (local expiry in Unix seconds) and whether it is signed in
 * @param {number} now Unix ms
 * @returns {History}
 */
export function history(exchanges, activity, now_state, now) {
  const xs = exchanges.slice().sort((a, b) => a.at - b.at);
  const access = now_state.access;
  const life = access && access.exp != null && access.iat != null ? (access.exp - access.iat) * 1000 : null;
  /** @type {Bar[]} */
  const bars = [];
  /** @type {number[]} */
  const ticks = [];
  /** @type {Mark[]} */
  const marks = [];
  /** @type {Outage[]} */
  const outages = [];
  /** @type {Outage | null} */
  let outage = null;
  const endBar = (/** @type {number} */ at) => {
    const last = bars[bars.length - 1];
    if (last && last.current) { last.until = at; last.current = false; }
  };
  for (const x of xs) {
    if (x.status == null) {
      if (!outage) { outage = { from: x.at, until: x.at, open: true }; outages.push(outage); }
      outage.until = x.at;
      continue;
    }
    if (outage) { outage.until = x.at; outage.open = false; outage = null; }
    const ok = x.status >= 200 && x.status < 300;
    if (ok && (isObtain(x.path) || isRefresh(x.path))) {
      endBar(x.at);
      bars.push({ from: x.at, until: now, expires: life != null ? x.at + life : null, current: true });
      if (isRefresh(x.path)) ticks.push(x.at);
      else marks.push({ at: x.at, kind: 'signin', label: 'signed in' });
    } else if (ok && isLogout(x.path)) {
      endBar(x.at);
      marks.push({ at: x.at, kind: 'logout', label: 'logged out: the server revoked the session' });
    } else if (!ok && isRefresh(x.path)) {
      const reason = x.reason || '';
      if (reason === 'reuse_detected' || x.error_code === 'reuse_detected') {
        endBar(x.at);
        marks.push({ at: x.at, kind: 'reuse', label: 'reuse detected: the server revoked the session' });
      } else if (x.status === 401) {
        endBar(x.at);
        marks.push({ at: x.at, kind: 'revoked', label: `refresh refused${reason ? ` (${reason})` : ''}: the session ended` });
      }
    }
  }
  // The current token: its real expiry is known from the session.
  const last = bars[bars.length - 1];
  if (last && last.current) {
    if (!now_state.signedIn) { last.current = false; last.until = Math.min(last.until, now); }
    else if (access && access.expires_at != null) last.expires = access.expires_at * 1000;
  }
  if (outage) outage.until = now;
  for (const a of activity) {
    const w = a.what;
    if (w.kind === 'handed_out') marks.push({ at: a.at, kind: 'handout', label: `token handed out to ${w.to}` });
    else if (w.kind === 'revocation_queued') marks.push({ at: a.at, kind: 'queued', label: `signed out here; to be revoked when ${w.server} is reachable` });
    else if (w.kind === 'revocation_delivered') marks.push({ at: a.at, kind: 'revoked', label: `revocation delivered to ${w.server}` });
    else if (w.kind === 'revocation_abandoned') marks.push({ at: a.at, kind: 'revoked', label: `revocation abandoned: ${w.reason}` });
  }
  marks.sort((a, b) => a.at - b.at);
  const times = [
    ...bars.map((b) => b.from), ...marks.map((m) => m.at), ...outages.map((o) => o.from),
  ];
  const t0 = times.length ? Math.min(...times) : now - 60_000;
  // At least a minute wide, so a fresh session is not one fat bar.
  return { t0: Math.min(t0, now - 60_000), t1: now, bars, ticks, marks, outages };
}

/**
 * Where `t` falls on an axis `width` wide.
 * @param {History} hst @param {number} t @param {number} width
 */
export function xOf(hst, t, width) {
  const span = Math.max(1, hst.t1 - hst.t0);
  return Math.max(0, Math.min(width, ((t - hst.t0) / span) * width));
}

/**
 * Round times for the axis labels: about `n` of them, on whole seconds,
 * minutes or hours.
 * @param {History} hst @param {number} n @returns {number[]} Unix ms
 */
export function axisTicks(hst, n) {
  const span = hst.t1 - hst.t0;
  const steps = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 21600, 43200, 86400].map((s) => s * 1000);
  const step = steps.find((s) => span / s <= n) || steps[steps.length - 1];
  /** @type {number[]} */
  const out = [];
  for (let t = Math.ceil(hst.t0 / step) * step; t <= hst.t1; t += step) out.push(t);
  return out;
}
