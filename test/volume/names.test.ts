// Volume names and local driver options: Docker's checks and words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateVolumeName, validateLocalVolumeName } from '../../src/volume/names.js';
import { maskPassword, parseRamInBytes, validateLocalOptions } from '../../src/volume/local-options.js';
import { InvalidParameter } from '../../src/errors.js';

test('valid local volume names pass', () => {
  for (const n of ['ab', 'my-data', 'a.b_c-d', '0x', 'A1']) validateLocalVolumeName(n);
});

test('a one-character name is too short', () => {
  assert.throws(
    () => validateLocalVolumeName('a'),
    (e: unknown) =>
      e instanceof InvalidParameter &&
      e.message === 'volume name is too short, names should be at least two alphanumeric characters',
  );
});

test('invalid characters are refused with the host-directory hint', () => {
  for (const n of ['./a', 'bad/name', '-ab', '.x', '..', 'a b', '/abs']) {
    assert.throws(
      () => validateLocalVolumeName(n),
      (e: unknown) =>
        e instanceof InvalidParameter &&
        e.message ===
          `"${n}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
});

test('generated names are 64 hex characters and differ', () => {
  const a = generateVolumeName();
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.notEqual(a, generateVolumeName());
});

test('local options: unknown keys, missing companions, size without quota', () => {
  const noQuota = () => false;
  const msg = (o: Record<string, string>) => {
    try {
      validateLocalOptions(o, noQuota);
      return 'ok';
    } catch (e) {
      assert.ok(e instanceof InvalidParameter);
      return (e as Error).message;
    }
  };
  assert.equal(msg({}), 'ok');
  assert.equal(msg({ type: 'tmpfs', device: 'tmpfs', o: 'size=1m' }), 'ok');
  assert.equal(msg({ foo: 'bar' }), 'invalid option: "foo"');
  assert.equal(msg({ type: 'tmpfs' }), 'missing required option: "device"');
  assert.equal(msg({ o: 'size=1m' }), 'missing required option: "device"');
  assert.equal(msg({ device: 'tmpfs' }), 'missing required option: "type"');
  assert.equal(msg({ device: 'tmpfs', o: 'x' }), 'missing required option: "type"');
  assert.equal(msg({ size: '1m' }), 'quota size requested but no quota support');
  assert.equal(msg({ size: 'lots' }), "invalid size: 'lots'");
  assert.equal(
    msg({ type: 'cifs', device: '//host:445/share' }),
    "port not allowed in CIFS device URL, include 'port' in 'o='",
  );
  validateLocalOptions({ size: '1m' }, () => true);
});

test('sizes use binary units; passwords are masked', () => {
  assert.equal(parseRamInBytes('100'), 100);
  assert.equal(parseRamInBytes('2m'), 2 * 1024 * 1024);
  assert.equal(parseRamInBytes('1.5GiB'), 1.5 * 2 ** 30);
  assert.equal(
    maskPassword('mount failed: opts user=u,password=s3cret', 'user=u,password=s3cret'),
    'mount failed: opts user=u,password=********',
  );
});
