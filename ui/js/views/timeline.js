// @ts-check
/** The request timeline (every exchange, tokens redacted), "why was this refused?", copy as curl, and the fault lab. */
import { h, table } from '../dom.js';
import { formatWhen } from '../format.js';
import { history, xOf, axisTicks } from '../history.js';
import * as ipc from '../ipc.js';

/** @type {{selected: number | null, reveal: boolean, session: () => ipc.SessionView | null}} */
const state = { selected: null, reveal: false, session: () => null };

/** @param {ipc.Exchange} x */
const refused = (x) => x.status == null || x.status >= 400;

/** @param {HTMLElement} main @param {{embedded: boolean, session: () => ipc.SessionView | null}} opts */
export function render(main, opts) {
  state.session = opts.session;
  const n = /** @type {HTMLInputElement} */ (h('input', { id: 'lab-n', type: 'number', min: '2', max: '64', value: '8', class: 'small', 'aria-label': 'How many' }));
  const skew = /** @type {HTMLInputElement} */ (h('input', { id: 'lab-skew', type: 'number', step: '1', value: '600', class: 'small', 'aria-label': 'Seconds' }));
  main.replaceChildren(
    h('h1', null, 'Timeline'),
    h('section', { class: 'card', id: 'lab', 'aria-labelledby': 'lab-title' },
      h('h2', { id: 'lab-title' }, 'Fault lab'),
      h('div', { class: 'row tight' },
        h('button', { type: 'button', id: 'lab-rotate', onclick: () => lab(async () => { await ipc.rotateNow(); return [{ what: 'Rotate now', ok: true, outcome: '200: rotated' }]; }) }, 'Rotate now'),
        h('button', { type: 'button', id: 'lab-replay', onclick: () => lab(ipc.labReplayPrevious) }, 'Replay the previous refresh token'),
        h('span', { class: 'row tight' }, h('button', { type: 'button', id: 'lab-concurrent', onclick: () => lab(() => ipc.labConcurrentRefresh(Number(n.value))) }, 'Fire concurrent refreshes:'), n),
        h('span', { class: 'row tight' }, h('button', { type: 'button', id: 'lab-skew-go', onclick: () => lab(() => ipc.labClockSkew(Number(skew.value))) }, 'Skew the client clock (s):'), skew,
          h('button', { type: 'button', id: 'lab-skew-reset', onclick: () => lab(() => ipc.labClockSkew(0)) }, 'Reset')),
        opts.embedded ? h('button', { type: 'button', id: 'lab-offline', onclick: () => lab(async () => { const on = await ipc.labServerOnline(false); return [{ what: 'Take the server offline', ok: !on, outcome: on ? 'still online' : 'offline: connections are refused' }]; }) }, 'Take the server offline') : null,
        opts.embedded ? h('button', { type: 'button', id: 'lab-online', onclick: () => lab(async () => { const on = await ipc.labServerOnline(true); return [{ what: 'Bring the server back', ok: on, outcome: on ? 'online' : 'still offline' }]; }) }, 'Bring it back') : null),
      h('ol', { id: 'lab-result', class: 'steps' })),
    h('div', { class: 'row tight' },
      h('label', { class: 'inline' }, h('input', { type: 'checkbox', id: 'reveal', checked: state.reveal, onchange: (/** @type {Event} */ e) => { state.reveal = /** @type {HTMLInputElement} */ (e.target).checked; detail(); } }), ' Reveal tokens in curl')),
    h('div', { id: 'exchange-detail' }),
    h('figure', { class: 'history', id: 'history', 'aria-labelledby': 'history-title' }),
    h('div', { id: 'timeline-body' }),
  );
  refresh();
}

/** @param {() => Promise<ipc.LabStep[]>} f */
async function lab(f) {
  const out = document.getElementById('lab-result');
  if (!out) return;
  out.replaceChildren(h('li', { class: 'meta' }, 'Running…'));
  try {
    const steps = await f();
    out.replaceChildren(...steps.map((s) => h('li', { class: s.ok ? '' : 'bad' }, h('b', null, s.what), `: ${s.outcome}`)));
  } catch (e) {
    out.replaceChildren(h('li', { class: 'bad' }, `${/** @type {any} */ (e).message} (${/** @type {any} */ (e).code})`));
  }
  refresh();
}

/** @param {ipc.Activity} a */
function activityWords(a) {
  const w = a.what;
  const what = (/** @type {ipc.Activity['what'] & {what?: {kind: string}}} */ (w)).what;
  const ends = what?.kind === 'logout_all' ? 'every session of the account' : what?.kind === 'session' ? 'a session' : 'this session';
  switch (w.kind) {
    case 'handed_out': return `Access token handed out to ${w.to}`;
    case 'revocation_queued': return `Signed out here; ${ends} will be revoked when ${w.server} is reachable`;
    case 'revocation_delivered': return `Revocation delivered to ${w.server}${w.revoked != null ? `: ${w.revoked} ended` : ''}`;
    case 'revocation_abandoned': return `Revocation abandoned (${w.server}): ${w.reason}`;
    case 'browser_logout': return `Browser logout at ${w.server} (${w.outcome}): ${w.detail}`;
    default: return 'activity';
  }
}

/** Reloads the list and the picture (also on every new exchange or activity). */
export async function refresh() {
  const body = document.getElementById('timeline-body');
  if (!body) return;
  let xs;
  /** @type {ipc.Activity[]} */
  let acts = [];
  try {
    xs = await ipc.timeline();
    try { acts = await ipc.activity(); } catch { acts = []; }
  } catch (e) {
    body.replaceChildren(h('p', { class: 'notice error' }, `Cannot read the timeline: ${/** @type {any} */ (e).message}`));
    return;
  }
  const now = Date.now();
  drawHistory(xs, acts, now);
  /** @type {({x: ipc.Exchange} | {a: ipc.Activity})[]} */
  const rows = [...xs.map((x) => ({ x })), ...acts.map((a) => ({ a }))]
    .sort((p, q) => ('x' in q ? q.x.at : q.a.at) - ('x' in p ? p.x.at : p.a.at));
  body.replaceChildren(table('timeline-table', ['When', 'Request', 'Status', 'Code', 'Latency', ''], rows.map((r) => {
    if ('a' in r) {
      return [formatWhen(r.a.at / 1000, now), h('span', { class: r.a.what.kind === 'revocation_queued' ? 'pending' : '' }, activityWords(r.a)), '—', '', '', ''];
    }
    const x = r.x;
    return [
      formatWhen(x.at / 1000, now), h('span', { class: 'mono' }, `${x.method} ${x.path}`),
      h('span', { class: refused(x) ? 'bad' : '' }, x.status == null ? 'no answer' : String(x.status)),
      x.error_code || '', `${x.latency_ms} ms`,
      h('button', { type: 'button', class: refused(x) ? 'why' : 'details', onclick: () => { state.selected = x.at; detail(); } }, refused(x) ? 'Why?' : 'Details'),
    ];
  }), (i) => {
    const r = rows[i];
    if ('a' in r) return { 'data-at': String(r.a.at), 'data-activity': r.a.what.kind, class: 'activity' };
    return { 'data-at': String(r.x.at), 'data-status': String(r.x.status ?? ''), class: state.selected === r.x.at ? 'selected' : '' };
  }));
}

const SVG = 'http://www.w3.org/2000/svg';
/**
 * @param {string} tag @param {Record<string, string | number>} attrs @param {...(SVGElement | string)} children
 * @returns {SVGElement}
 */
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

/** What each mark looks like, and its words in the legend. */
const MARKS = /** @type {const} */ ({
  signin: ['circle', 'signed in'], handout: ['circle', 'token handed out'], queued: ['diamond', 'revocation waiting'],
  revoked: ['cross', 'revoked'], logout: ['cross', 'logged out'], reuse: ['triangle', 'reuse detected'],
});

/**
 * The time axis: access tokens as bars, rotations as ticks, marks and outages.
 * @param {ipc.Exchange[]} xs @param {ipc.Activity[]} acts @param {number} now
 */
function drawHistory(xs, acts, now) {
  const fig = document.getElementById('history');
  if (!fig) return;
  const sess = state.session();
  const signedIn = !!sess && ['active', 'rotating', 'offline'].includes(sess.phase.phase);
  const hst = history(xs, acts, { access: sess?.access ?? null, signedIn }, now);
  const W = 800; const L = 96; const w = W - L - 8;
  const X = (/** @type {number} */ t) => L + xOf(hst, t, w);
  const yBars = 14; const yMarks = 52; const yAxis = 78;
  /** @type {SVGElement[]} */
  const parts = [];
  for (const o of hst.outages) {
    parts.push(s('rect', { class: 'hist-outage', x: X(o.from), y: 4, width: Math.max(2, X(o.until) - X(o.from)), height: yAxis - 4 },
      s('title', {}, `server unreachable ${formatWhen(o.from / 1000, now)} – ${o.open ? 'now' : formatWhen(o.until / 1000, now)}`)));
  }
  parts.push(s('text', { class: 'hist-lane', x: 0, y: yBars + 14 }, 'access tokens'));
  parts.push(s('text', { class: 'hist-lane', x: 0, y: yMarks + 4 }, 'events'));
  hst.bars.forEach((b, i) => {
    const x0 = X(b.from); const x1 = X(b.until);
    // Alternate the lane a little so back-to-back tokens stay apart.
    const y = yBars + (i % 2) * 4;
    if (b.expires != null && b.expires > b.until) {
      parts.push(s('rect', { class: 'hist-bar-rest', x: x1, y, width: Math.max(0, X(b.expires) - x1), height: 16, rx: 3 }));
    }
    parts.push(s('rect', { class: `hist-bar${b.current ? ' current' : ''}`, x: x0, y, width: Math.max(2, x1 - x0), height: 16, rx: 3 },
      s('title', {}, `access token ${formatWhen(b.from / 1000, now)} – ${b.current ? 'now' : formatWhen(b.until / 1000, now)}${b.expires != null ? `, expires ${formatWhen(b.expires / 1000, now)}` : ''}`)));
  });
  for (const t of hst.ticks) {
    parts.push(s('line', { class: 'hist-tick', x1: X(t), x2: X(t), y1: yBars - 6, y2: yBars + 26 }, s('title', {}, `rotated ${formatWhen(t / 1000, now)}`)));
  }
  for (const m of hst.marks) {
    const x = X(m.at); const y = yMarks;
    const shape = MARKS[m.kind][0];
    const title = s('title', {}, `${formatWhen(m.at / 1000, now)} ${m.label}`);
    const cls = `hist-mark hist-mark-${m.kind}`;
    if (shape === 'circle') parts.push(s('circle', { class: cls, cx: x, cy: y, r: 4 }, title));
    else if (shape === 'diamond') parts.push(s('path', { class: cls, d: `M${x} ${y - 6}L${x + 6} ${y}L${x} ${y + 6}L${x - 6} ${y}Z` }, title));
    else if (shape === 'triangle') parts.push(s('path', { class: cls, d: `M${x} ${y - 7}L${x + 7} ${y + 6}L${x - 7} ${y + 6}Z` }, title));
    else parts.push(s('path', { class: cls, d: `M${x - 5} ${y - 5}L${x + 5} ${y + 5}M${x + 5} ${y - 5}L${x - 5} ${y + 5}`, style: 'stroke: var(--red-bg); stroke-width: 3' }, title));
  }
  parts.push(s('line', { class: 'hist-axis', x1: L, x2: W - 8, y1: yAxis, y2: yAxis }));
  for (const t of axisTicks(hst, 6)) {
    parts.push(s('line', { class: 'hist-axis', x1: X(t), x2: X(t), y1: yAxis, y2: yAxis + 4 }));
    parts.push(s('text', { class: 'hist-label', x: X(t), y: yAxis + 16, 'text-anchor': 'middle' }, new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })));
  }
  const svg = s('svg', { viewBox: `0 0 ${W} ${yAxis + 22}`, role: 'img', 'aria-labelledby': 'history-title history-summary', id: 'history-svg' }, ...parts);
  const kinds = [...new Set(hst.marks.map((m) => m.kind))];
  const summary = `${hst.bars.length} access ${hst.bars.length === 1 ? 'token' : 'tokens'}, ${hst.ticks.length} ${hst.ticks.length === 1 ? 'rotation' : 'rotations'}, ${hst.outages.length} ${hst.outages.length === 1 ? 'outage' : 'outages'}`
    + (kinds.length ? `; ${kinds.map((k) => `${hst.marks.filter((m) => m.kind === k).length} ${MARKS[k][1]}`).join(', ')}` : '');
  fig.replaceChildren(
    h('h2', { id: 'history-title', class: 'sr-only' }, 'This session as a picture'),
    svg,
    h('figcaption', null,
      h('span', { id: 'history-summary' }, summary),
      h('span', null, h('span', { class: 'legend-swatch', style: 'background: var(--calm)' }), 'access token (faint: until it expires)'),
      h('span', null, '| rotation'),
      h('span', null, h('span', { class: 'legend-swatch', style: 'background: var(--amber-bg); opacity: 0.5' }), 'server unreachable'),
      h('span', null, '× revoked / logged out · ▲ reuse detected · ◆ revocation waiting · • sign-in, hand-out')),
  );
  fig.dataset.bars = String(hst.bars.length);
  fig.dataset.ticks = String(hst.ticks.length);
  fig.dataset.outages = String(hst.outages.length);
  fig.dataset.marks = hst.marks.map((m) => m.kind).join(' ');
}

async function detail() {
  const box = document.getElementById('exchange-detail');
  if (!box || state.selected == null) return;
  try {
    const d = await ipc.exchangeDetail(state.selected, state.reveal);
    const curl = h('pre', { class: 'mono', id: 'exchange-curl' }, d.curl);
    box.replaceChildren(h('section', { class: 'card', id: 'exchange-card' },
      d.explanation
        ? h('div', { id: 'explanation' }, h('h2', null, 'Why was this refused?'), h('p', { id: 'explanation-cause' }, d.explanation.cause), h('p', { id: 'explanation-fix' }, h('b', null, 'Fix: '), d.explanation.fix))
        : h('p', { class: 'meta' }, 'Nothing was refused here.'),
      h('h2', null, 'As curl'), curl,
      h('div', { class: 'row tight' },
        h('button', { type: 'button', id: 'copy-curl', onclick: () => navigator.clipboard?.writeText(d.curl).catch(() => {}) }, 'Copy'),
        h('button', { type: 'button', onclick: () => { state.selected = null; box.replaceChildren(); refresh(); } }, 'Close')),
    ));
    box.scrollIntoView({ block: 'nearest' });
  } catch (e) {
    box.replaceChildren(h('p', { class: 'notice error' }, `${/** @type {any} */ (e).message} (${/** @type {any} */ (e).code})`));
  }
}
