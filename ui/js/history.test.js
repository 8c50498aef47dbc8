import { test } from 'node:test';
import assert from 'node:assert/strict';
import { history, xOf, axisTicks } from './history.js';

/** An exchange as the app reports it (only what the picture reads). */
const x = (at, path, status, extra = {}) => ({
  at, method: 'POST', path, status, latency_ms: 3, error_code: null, reason: null,
  credential: null, request_id: null, detail: null, ...extra,
});

test('each access token is a bar, each rotation a tick', () => {
  const h = history([
    x(1_000, 'api/token/', 200),
    x(5_000, 'api/token/refresh/', 200),
    x(9_000, 'api/token/refresh/', 200),
  ], [], { access: { iat: 100, exp: 105, expires_at: 14 }, signedIn: true }, 12_000);
  assert.deepEqual(h.bars.map((b) => [b.from, b.until, b.expires, b.current]), [
    [1_000, 5_000, 6_000, false],
    [5_000, 9_000, 10_000, false],
    // The current one: its expiry comes from the session, not the estimate.
    [9_000, 12_000, 14_000, true],
  ]);
  assert.deepEqual(h.ticks, [5_000, 9_000]);
  assert.deepEqual(h.marks.map((m) => [m.at, m.kind]), [[1_000, 'signin']]);
  assert.equal(h.t1, 12_000);
  assert.ok(h.t0 <= 1_000);
});

test('an outage is a span from the first unanswered request to the next answer', () => {
  const h = history([
    x(1_000, 'api/token/', 200),
    x(4_000, 'api/token/refresh/', null, { error_code: 'connect' }),
    x(6_000, 'api/token/refresh/', null, { error_code: 'connect' }),
    x(9_000, 'api/token/refresh/', 200),
    x(20_000, 'api/token/refresh/', null),
  ], [], { access: null, signedIn: true }, 25_000);
  assert.deepEqual(h.outages, [
    { from: 4_000, until: 9_000, open: false },
    { from: 20_000, until: 25_000, open: true },
  ]);
  assert.deepEqual(h.ticks, [9_000]);
});

test('reuse detection and revocation end the bar and are marked', () => {
  const h = history([
    x(1_000, 'auth/jwt/create/', 200),
    x(2_000, 'auth/jwt/refresh/', 401, { error_code: 'token_not_valid', reason: 'reuse_detected' }),
    x(3_000, 'api/token/', 200),
    x(4_000, 'api/token/refresh/', 401, { error_code: 'token_not_valid', reason: 'logout_all' }),
  ], [], { access: null, signedIn: false }, 5_000);
  assert.deepEqual(h.bars.map((b) => [b.from, b.until]), [[1_000, 2_000], [3_000, 4_000]]);
  assert.deepEqual(h.marks.map((m) => m.kind), ['signin', 'reuse', 'signin', 'revoked']);
  assert.match(h.marks[3].label, /logout_all/);
  assert.deepEqual(h.ticks, []);
});

test('a logout ends the bar; hand-outs and the outbox are marks', () => {
  const h = history([
    x(1_000, 'api/token/', 200),
    x(8_000, 'api/token/blacklist/', 200),
  ], [
    { at: 2_000, what: { kind: 'handed_out', to: 'warden (pid 42)', jti: 'j', expires_at: 9 } },
    { at: 7_000, what: { kind: 'revocation_queued', what: { kind: 'logout' }, server: 'auth.example:443' } },
    { at: 9_000, what: { kind: 'revocation_delivered', what: { kind: 'logout' }, server: 'auth.example:443', revoked: null } },
  ], { access: null, signedIn: false }, 10_000);
  assert.deepEqual(h.bars.map((b) => [b.from, b.until, b.current]), [[1_000, 8_000, false]]);
  assert.deepEqual(h.marks.map((m) => [m.at, m.kind]), [
    [1_000, 'signin'], [2_000, 'handout'], [7_000, 'queued'], [8_000, 'logout'], [9_000, 'revoked'],
  ]);
  assert.match(h.marks[1].label, /warden \(pid 42\)/);
  assert.match(h.marks[2].label, /when auth\.example:443 is reachable/);
});

test('the axis maps times into the width and labels round times', () => {
  const h = { t0: 0, t1: 100_000, bars: [], ticks: [], marks: [], outages: [] };
  assert.equal(xOf(h, 50_000, 800), 400);
  assert.equal(xOf(h, -5, 800), 0);
  assert.equal(xOf(h, 200_000, 800), 800);
  assert.deepEqual(axisTicks(h, 6), [0, 20_000, 40_000, 60_000, 80_000, 100_000]);
  const empty = history([], [], { access: null, signedIn: false }, 1_000_000);
  assert.equal(empty.t1 - empty.t0, 60_000, 'a minute at least');
});
