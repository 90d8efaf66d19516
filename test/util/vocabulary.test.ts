// The shared filter vocabulary: labels, `until` times and API versions, one grammar each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchLabels } from '../../src/util/label-filter.js';
import { parseGoDuration, parseUntil } from '../../src/util/until.js';
import { compareVersions, versionAtLeast } from '../../src/util/api-version.js';

test('label=constructor does not match through the object prototype', () => {
  for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    assert.equal(matchLabels([key], {}), false, key);
    assert.equal(matchLabels([`${key}=x`], {}), false, key);
  }
  assert.equal(matchLabels(['constructor'], { constructor: 'x' }), true);
  assert.equal(matchLabels(['constructor=x'], { constructor: 'x' }), true);
});

test('label filters: key present, key=value equal, all must hold, none wanted matches all', () => {
  assert.ok(matchLabels(['a'], { a: '' }));
  assert.ok(matchLabels(['a=1', 'b'], { a: '1', b: '2' }));
  assert.ok(!matchLabels(['a=1', 'c'], { a: '1', b: '2' }));
  assert.ok(!matchLabels(['a=2'], { a: '1' }));
  assert.ok(matchLabels(['a=x=y'], { a: 'x=y' }));
  assert.ok(matchLabels(undefined, null));
  assert.ok(matchLabels([], {}));
  assert.ok(!matchLabels(['a'], null));
});

test('until: Go durations (compound too), Unix seconds, RFC 3339 and dates', () => {
  const now = Date.parse('2026-01-02T00:00:00Z');
  assert.equal(parseUntil('24h', now), now - 86_400_000);
  assert.equal(parseUntil('1h30m', now), now - 5_400_000);
  assert.equal(parseUntil('1.5s', now), now - 1500);
  assert.equal(parseUntil('10ms', now), now - 10);
  assert.equal(parseUntil('1700000000', now), 1_700_000_000_000);
  assert.equal(parseUntil('1700000000.5', now), 1_700_000_000_500);
  assert.equal(parseUntil('0', now), 0);
  assert.equal(parseUntil('2025-06-01T10:00:00Z', now), Date.parse('2025-06-01T10:00:00Z'));
  assert.equal(parseUntil('2025-06-01', now), Date.parse('2025-06-01'));
  assert.equal(parseGoDuration('h'), undefined);
  assert.equal(parseGoDuration('1d'), undefined);
});

test("until: Docker's errors", () => {
  assert.throws(
    () => parseUntil('foo'),
    /^Error: failed to parse value as time or duration: "foo"$|failed to parse value as time or duration: "foo"/,
  );
  assert.throws(() => parseUntil('1d'), /failed to parse value as time or duration: "1d"/);
  assert.throws(() => parseUntil('2020-13-45'), /parsing time "2020-13-45"/);
});

test('API versions compare numerically', () => {
  assert.equal(compareVersions('1.9', '1.10'), -1);
  assert.equal(compareVersions('1.41', '1.41'), 0);
  assert.ok(versionAtLeast('1.50', '1.45'));
  assert.ok(!versionAtLeast('1.24', '1.42'));
});
