// @ts-check
/** The token inspector: paste a JWT or pick the current one; header, payload, times, signature, warnings. */
import { h } from '../dom.js';
import { formatWhen } from '../format.js';
import { formatLeft } from '../countdown.js';
import * as ipc from '../ipc.js';

/** @type {{last: ipc.Inspection | null}} */
const state = { last: null };

const $ = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ (document.getElementById(id));

/**
 * @param {HTMLElement} main
 * @param {{embedded: boolean, openId?: string|null}} opts openId: an OpenID profile's issuer, whose JWKS checks its tokens
 */
export function render(main, opts) {
  state.last = null;
  const verify = h('select', { id: 'inspect-verify', 'aria-label': 'Check the signature with', onchange: syncKey },
    ...[
      ...(opts.embedded ? [['server', 'this computer’s server keys']] : []),
      ['none', 'nothing (decode only)'], ['jwks_url', 'a JWKS URL'], ['secret', 'an HMAC secret'], ['pem', 'a PEM public key'],
    ].map(([v, t]) => h('option', { value: v }, t)));
  main.replaceChildren(
    h('h1', null, 'Token inspector'),
    h('p', { class: 'meta' }, 'Nothing you paste leaves this computer, except to fetch a JWKS URL you give.'),
    ...(opts.openId ? [h('section', { class: 'card', id: 'inspect-provider', 'aria-labelledby': 'inspect-provider-title' },
      h('h2', { id: 'inspect-provider-title' }, 'Against the provider’s keys'),
      h('p', { class: 'meta' }, `This session’s tokens checked with ${opts.openId}’s JWKS: signature, iss, aud, exp; and for a DPoP-bound session, cnf.jkt against this session’s key.`),
      h('div', { class: 'row tight' },
        h('button', { type: 'button', id: 'inspect-provider-id', onclick: () => runProvider('id') }, 'ID token'),
        h('button', { type: 'button', id: 'inspect-provider-access', onclick: () => runProvider('access') }, 'Access token')),
      h('div', { id: 'inspect-provider-out', 'aria-live': 'polite' }))] : []),
    h('div', { class: 'row tight' },
      h('button', { type: 'button', id: 'inspect-access', onclick: () => run('access') }, 'Current access token'),
      h('button', { type: 'button', id: 'inspect-refresh', onclick: () => run('refresh') }, 'Current refresh token')),
    h('label', { for: 'inspect-token' }, 'Or paste a JWT'),
    h('textarea', { id: 'inspect-token', rows: '3', class: 'mono', spellcheck: 'false', placeholder: 'eyJhbGciOi…' }),
    h('div', { class: 'row tight' },
      h('label', { for: 'inspect-verify', class: 'inline' }, 'Check the signature with'), verify,
      h('input', { id: 'inspect-key', type: 'text', class: 'mono grow', hidden: true, spellcheck: 'false' }),
      h('button', { type: 'button', class: 'primary', id: 'inspect-go', onclick: () => run(null) }, 'Inspect')),
    h('div', { id: 'inspect-out', 'aria-live': 'polite' }),
  );
  syncKey();
}

function syncKey() {
  const kind = $('inspect-verify').value;
  const key = $('inspect-key');
  key.hidden = !['jwks_url', 'secret', 'pem'].includes(kind);
  key.type = kind === 'secret' ? 'password' : 'text';
  key.placeholder = kind === 'jwks_url' ? 'https://example.com/.well-known/jwks.json' : kind === 'pem' ? '-----BEGIN PUBLIC KEY----- …' : 'secret';
}

/** @param {'access' | 'refresh' | null} pick */
async function run(pick) {
  const out = document.getElementById('inspect-out');
  if (!out) return;
  const kind = /** @type {ipc.VerifyInput['kind']} */ ($('inspect-verify').value);
  /** @type {ipc.VerifyInput} */
  const verify = kind === 'jwks_url' || kind === 'secret' || kind === 'pem' ? { kind, value: $('inspect-key').value } : { kind };
  try {
    state.last = await ipc.inspectToken({ token: pick ? null : $('inspect-token').value, pick, verify });
    paint();
  } catch (e) {
    state.last = null;
    out.replaceChildren(h('p', { class: 'notice error', role: 'alert', id: 'inspect-error' }, `${/** @type {any} */ (e).message} (${/** @type {any} */ (e).code})`));
  }
}

/** @param {ipc.ProviderToken} which */
async function runProvider(which) {
  const out = document.getElementById('inspect-provider-out');
  if (!out) return;
  try {
    paintProvider(out, await ipc.inspectWithProvider(which));
  } catch (e) {
    out.replaceChildren(h('p', { class: 'notice error', role: 'alert', id: 'inspect-provider-error' }, `${/** @type {any} */ (e).message} (${/** @type {any} */ (e).code})`));
  }
}

/** @param {HTMLElement} out @param {ipc.ProviderCheck} c */
function paintProvider(out, c) {
  const name = c.token === 'id' ? 'ID token' : 'Access token';
  const verdict = c.reason;
  const dpop = c.session_jkt == null && c.cnf_jkt == null
    ? null
    : h('p', { id: 'inspect-provider-dpop', class: `notice ${c.jkt_matches === false ? 'error' : ''}` },
      h('b', null, 'DPoP: '),
      c.cnf_jkt == null
        ? `this session’s key is ${c.session_jkt}; the token shows no cnf.jkt to compare.`
        : `cnf.jkt ${c.cnf_jkt} ${c.jkt_matches ? 'matches' : 'does NOT match'} this session’s key${c.session_jkt ? ` (${c.session_jkt})` : ' (the session has none)'}.`);
  out.replaceChildren(
    h('p', { id: 'inspect-provider-verdict', class: `notice ${c.verified || !c.jwt ? '' : 'error'}`, 'data-verified': String(c.verified) },
      h('b', null, `${name}: `), verdict),
    ...(dpop ? [dpop] : []),
    ...(c.header_pretty ? [h('pre', { class: 'mono', id: 'inspect-provider-header' }, c.header_pretty)] : []),
    ...(c.claims_pretty ? [h('pre', { class: 'mono', id: 'inspect-provider-claims' }, c.claims_pretty)] : []),
  );
}

/** @param {ipc.Signature} s */
function signatureText(s) {
  switch (s.status) {
    case 'valid': return `valid (${s.key})`;
    case 'invalid': return `INVALID: ${s.why}`;
    case 'key_not_found': return `no key for kid ${s.kid ?? '(none)'}: ${s.why}`;
    default: return `not checked: ${s.why}`;
  }
}

function paint() {
  const out = document.getElementById('inspect-out');
  const r = state.last;
  if (!out || !r) return;
  const now = Date.now();
  /** @param {string} name @param {number | null | undefined} t */
  const time = (name, t) => t == null ? null : h('li', null, h('b', null, name), ` ${formatWhen(t, now)}`,
    name === 'exp' ? h('span', { class: 'num', 'data-exp': String(t) }, ` (${t * 1000 > now ? `in ${formatLeft(t - now / 1000)}` : 'expired'})`) : null);
  const sig = r.signature;
  out.replaceChildren(
    h('p', { id: 'inspect-signature', class: `notice ${sig.status === 'valid' ? '' : 'error'}` },
      h('b', null, 'Signature: '), signatureText(sig),
      r.claims ? ` · claims ${r.claims.ok ? 'pass validation (revocation not checked)' : `refused: ${r.claims.message ?? r.claims.reason}`}` : ''),
    r.warnings.length
      ? h('ul', { id: 'inspect-warnings', class: 'warnings' }, ...r.warnings.map((w) => h('li', { 'data-code': w.code }, h('b', null, w.code.replaceAll('_', ' ')), `: ${w.message}`)))
      : h('p', { id: 'inspect-warnings', class: 'meta' }, 'No warnings.'),
    h('ul', { class: 'times', id: 'inspect-times' }, time('exp', r.times.exp), time('iat', r.times.iat), time('nbf', r.times.nbf),
      r.times.lifetime != null ? h('li', null, h('b', null, 'lifetime'), ` ${formatLeft(r.times.lifetime)}`) : null),
    h('div', { class: 'cards' },
      h('section', { class: 'card' }, h('h2', null, `Header${r.alg ? ` · ${r.alg}` : ''}${r.kid ? ` · kid ${r.kid}` : ''}`), h('pre', { class: 'mono', id: 'inspect-header' }, r.header_pretty)),
      h('section', { class: 'card' }, h('h2', null, `Payload${r.token_type ? ` · ${r.token_type}` : ''}`), h('pre', { class: 'mono', id: 'inspect-payload' }, r.payload_pretty))),
  );
}

/** Ticks the exp countdown (called once a second). */
export function tick() {
  const el = /** @type {HTMLElement | null} */ (document.querySelector('[data-exp]'));
  if (!el) return;
  const exp = Number(el.dataset.exp);
  const now = Date.now() / 1000;
  el.textContent = ` (${exp > now ? `in ${formatLeft(exp - now)}` : 'expired'})`;
}
