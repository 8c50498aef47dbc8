import { test } from 'node:test';
import assert from 'node:assert/strict';
import { secondsLeft, fractionLeft, tone, toneWords, formatLeft } from './countdown.js';

test('seconds left never goes negative', () => {
  assert.equal(secondsLeft(100, 90_000), 10);
  assert.equal(secondsLeft(100, 200_000), 0);
});

test('fraction of the lifetime left', () => {
  assert.equal(fractionLeft(0, 100, 0), 1);
  assert.equal(fractionLeft(0, 100, 70_000), 0.3);
  assert.equal(fractionLeft(0, 100, 150_000), 0);
  assert.equal(fractionLeft(100, 100, 0), 0);
});

test('tone thresholds: calm, amber under 20 %, red under 5 %', () => {
  assert.equal(tone(1), 'calm');
  assert.equal(tone(0.2), 'calm');
  assert.equal(tone(0.19), 'amber');
  assert.equal(tone(0.05), 'amber');
  assert.equal(tone(0.049), 'red');
  assert.equal(tone(0), 'expired');
  assert.equal(toneWords('amber'), 'expiring soon');
  assert.equal(toneWords('red'), 'about to expire');
});

test('remaining time reads naturally', () => {
  assert.equal(formatLeft(252), '04:12');
  assert.equal(formatLeft(0.4), '00:00');
  assert.equal(formatLeft(5 * 3600 + 59 * 60 + 58), '5:59:58');
  assert.equal(formatLeft(2 * 86400 + 3 * 3600), '2 d 03:00:00');
});
