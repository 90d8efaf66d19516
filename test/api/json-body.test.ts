// The check every JSON request body passes before it is parsed: an object at the top, nested
// no deeper than the bound, in one linear pass whatever the body holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkJsonBody, JSON_MAX_DEPTH } from '../../src/api/json-body.js';

const b = (s: string) => Buffer.from(s);
const T = 'volume.VolumeCreateBody';

test('objects pass, empty and null bodies are told apart', () => {
  assert.equal(checkJsonBody(b('{"Name":"x","Labels":{"a":"b"}}'), T), 'object');
  assert.equal(checkJsonBody(b('  \n{}\r\n'), T), 'object');
  assert.equal(checkJsonBody(b(''), T), 'empty');
  assert.equal(checkJsonBody(b(' \n'), T), 'empty');
  assert.equal(checkJsonBody(b('null'), T), 'null');
  assert.equal(checkJsonBody(b(' null \n'), T), 'null');
});

test("other top-level values are refused in Go's words", () => {
  assert.throws(() => checkJsonBody(b('[]'), T), {
    kind: 'invalid-parameter',
    message: `json: cannot unmarshal array into Go value of type ${T}`,
  });
  assert.throws(() => checkJsonBody(b('"x"'), T), {
    message: `json: cannot unmarshal string into Go value of type ${T}`,
  });
  assert.throws(() => checkJsonBody(b('-1'), T), {
    message: `json: cannot unmarshal number into Go value of type ${T}`,
  });
  assert.throws(() => checkJsonBody(b('true'), T), {
    message: `json: cannot unmarshal bool into Go value of type ${T}`,
  });
  assert.throws(() => checkJsonBody(b('nullx'), T), {
    message: "invalid character 'n' looking for beginning of value",
  });
  assert.throws(() => checkJsonBody(b('<html>'), T), {
    message: "invalid character '<' looking for beginning of value",
  });
});

test('nesting is bounded; brackets inside strings and escaped quotes do not count', () => {
  const nest = (n: number) => `{"a":${'['.repeat(n - 1)}${']'.repeat(n - 1)}}`;
  assert.equal(checkJsonBody(b(nest(JSON_MAX_DEPTH)), T), 'object');
  assert.throws(() => checkJsonBody(b(nest(JSON_MAX_DEPTH + 1)), T), {
    kind: 'invalid-parameter',
    message: "invalid character '[' exceeded max depth",
  });
  const inString = `{"a":"${'['.repeat(1000)}\\"${'{'.repeat(1000)}"}`;
  assert.equal(checkJsonBody(b(inString), T), 'object');
  // Siblings do not add up: depth is nesting, not the number of brackets.
  assert.equal(checkJsonBody(b(`{"a":[${'[],'.repeat(10000)}[]]}`), T), 'object');
});

test('a 4 MB deep array is refused at its first character, a 3 MB deep one inside an object at the bound', () => {
  const deep = Buffer.alloc(4 << 20);
  deep.fill('[', 0, 2 << 20);
  deep.fill(']', 2 << 20);
  assert.throws(() => checkJsonBody(deep, T), /cannot unmarshal array/);
  const wrapped = Buffer.concat([b('{"a":'), Buffer.alloc(3 << 20, '['), b('}')]);
  assert.throws(() => checkJsonBody(wrapped, T), /exceeded max depth/);
});
