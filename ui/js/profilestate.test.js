import { test } from 'node:test';
import assert from 'node:assert/strict';
import { profileStatus, pendingWords, activeView } from './profilestate.js';

const view = (phase, extra = {}) => ({
  profile: { id: 'p-1', name: 'work', server: { kind: 'embedded' }, account: 'alice', vault_key: 'k' },
  active: false,
  session: {
    phase, server: 'http://127.0.0.1:1/', user: 'alice', user_id: '1', session_id: null,
    access: { jti: 'a', iat: 0, exp: 300, expires_at: 1_000 + 252, hint: '' }, refresh: null,
    next_rotation_at: null, rotation_count: 0, vault: null, capabilities: null,
    embedded: true, signed_out_message: null, clock_skew_s: 0, ...extra,
  },
  pending: [],
});
const pending = (kind, server) => ({
  id: 'r-1', profile: 'p-1', profile_name: 'work', account: 'alice', server, what: { kind },
  queued_at: 0, attempts: 1, next_attempt_at: null, last_error: null, persistent: true, message: '',
});

test('signed in shows the access countdown', () => {
  assert.deepEqual(profileStatus(view({ phase: 'active' }), 1_000_000), { dot: 'ok', words: 'signed in', left: '04:12', pending: [] });
});

test('offline is a warning, and says when the access token has run out', () => {
  const off = { phase: 'offline', retry_in_ms: 8000, attempt: 2, cause: 'connect' };
  assert.equal(profileStatus(view(off), 1_000_000).dot, 'warn');
  assert.equal(profileStatus(view(off), 1_000_000).words, 'offline, expiring');
  assert.equal(profileStatus(view(off), 2_000_000).words, 'offline, access token expired');
});

test('signed out says why when it ended elsewhere, and what waits in the outbox', () => {
  const v = view({ phase: 'signed_out', reason: { kind: 'reuse_detected' } }, { access: null, signed_out_message: 'A replayed refresh token was detected.' });
  v.pending = [pending('logout', 'auth.example:8443'), pending('logout_all', 'this computer')];
  const s = profileStatus(v, 0);
  assert.equal(s.dot, 'off');
  assert.equal(s.words, 'signed out: A replayed refresh token was detected.');
  assert.equal(s.left, '');
  assert.deepEqual(s.pending, [
    'alice: this session will be revoked when auth.example:8443 is reachable',
    'alice: every session of this account will be revoked when this computer is reachable',
  ]);
  const quiet = view({ phase: 'signed_out', reason: { kind: 'logged_out' } }, { signed_out_message: 'You logged out.' });
  assert.equal(profileStatus(quiet, 0).words, 'signed out');
  assert.equal(pendingWords(pending('session', 'h:1')), 'alice: a session will be revoked when h:1 is reachable');
});

test('the active view is the one marked active', () => {
  const a = view({ phase: 'active' });
  const b = { ...view({ phase: 'active' }), active: true };
  assert.equal(activeView([a, b]), b);
  assert.equal(activeView([]), null);
});
