// @ts-check
/** The request timeline (every exchange, tokens redacted), "why was this refused?", copy as curl, and the fault lab. */
import { h, table } from '../dom.js';
import { formatWhen } from '../format.js';
import * as ipc from '../ipc.js';

/** @type {{selected: number | null, reveal: boolean}} */
const state = { selected: null, reveal: false };

/** @param {ipc.Exchange} x */
const refused = (x) => x.status == null || x.status >= 400;

/** @param {HTMLElement} main @param {{embedded: boolean}} opts */
export function render(main, opts) {
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

/** Reloads the list (also on every new exchange). */
export async function refresh() {
  const body = document.getElementById('timeline-body');
  if (!body) return;
  let rows;
  try { rows = (await ipc.timeline()).slice().reverse(); } catch (e) {
    body.replaceChildren(h('p', { class: 'notice error' }, `Cannot read the timeline: ${/** @type {any} */ (e).message}`));
    return;
  }
  const now = Date.now();
  body.replaceChildren(table('timeline-table', ['When', 'Request', 'Status', 'Code', 'Latency', ''], rows.map((x) => [
    formatWhen(x.at / 1000, now), h('span', { class: 'mono' }, `${x.method} ${x.path}`),
    h('span', { class: refused(x) ? 'bad' : '' }, x.status == null ? 'no answer' : String(x.status)),
    x.error_code || '', `${x.latency_ms} ms`,
    h('button', { type: 'button', class: refused(x) ? 'why' : 'details', onclick: () => { state.selected = x.at; detail(); } }, refused(x) ? 'Why?' : 'Details'),
  ]), (i) => ({ 'data-at': String(rows[i].at), 'data-status': String(rows[i].status ?? ''), class: state.selected === rows[i].at ? 'selected' : '' })));
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
