// Error kinds and their one HTTP table: the rooms say what went wrong, only api/ says which status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Conflict,
  InvalidParameter,
  NotFound,
  NotImplemented,
  StrataError,
  SystemError,
  Unavailable,
  kindOf,
  withContext,
} from '../../src/errors.js';
import { httpStatusOf, streamError } from '../../src/api/error-status.js';

test('each kind maps to one status; anything else is 500, whatever fields it carries', () => {
  assert.equal(httpStatusOf(new InvalidParameter('x')), 400);
  assert.equal(httpStatusOf(new NotFound('x')), 404);
  assert.equal(httpStatusOf(new Conflict('x')), 409);
  assert.equal(httpStatusOf(new NotImplemented('x')), 501);
  assert.equal(httpStatusOf(new Unavailable('x')), 503);
  assert.equal(httpStatusOf(new SystemError('x')), 500);
  // A foreign error's own `status` is not trusted.
  assert.equal(httpStatusOf(Object.assign(new Error('x'), { status: 200 })), 500);
  assert.equal(httpStatusOf('text'), 500);
});

test('withContext keeps the kind and the cause', () => {
  const inner = new Conflict('volume is in use');
  const outer = withContext('remove v1', inner);
  assert.ok(outer instanceof Conflict);
  assert.equal(outer.message, 'remove v1: volume is in use');
  assert.equal(outer.cause, inner);
  const sys = withContext('create v2', new Error('EIO'));
  assert.equal(kindOf(sys), 'system');
  assert.ok(sys instanceof StrataError);
  assert.equal((sys.cause as Error).message, 'EIO');
});

test("a failed stream ends with Docker's errorDetail shape", () => {
  assert.deepEqual(streamError(new InvalidParameter('bad')), { errorDetail: { message: 'bad' }, error: 'bad' });
});
