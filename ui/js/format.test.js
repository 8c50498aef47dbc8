import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatWhen, plural, deviceName } from './format.js';

test('today shows the time, other days the date', () => {
  const now = Date.UTC(2026, 10, 29, 10, 0, 0);
  assert.equal(formatWhen(now / 1000 + 131, now, 'en-GB', 'UTC'), '10:02:11');
  assert.equal(formatWhen(now / 1000 + 86400, now, 'en-GB', 'UTC'), '30 Nov, 10:00');
});

test('plural and device names', () => {
  assert.equal(plural(1, 'session'), '1 session');
  assert.equal(plural(3, 'session'), '3 sessions');
  assert.equal(deviceName({ device_label: null, user_agent: 'curl/8' }), 'curl/8');
  assert.equal(deviceName({}), 'Unknown device');
});
