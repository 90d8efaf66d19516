// Dockerfile parsing: logical lines, flags, stages, and the argument forms of Docker's parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile, parseJSONArray, parseNameVal, parseWords } from '../../src/builder/dockerfile.js';

test('continuation lines are joined and comment lines inside them dropped', () => {
  const df = parseDockerfile('FROM alpine\nRUN echo a \\\n   b && \\\n   # inside\n   echo c\n');
  const run = df.stages[0]!.instructions[0]!;
  assert.equal(run.keyword, 'RUN');
  assert.equal(run.original, 'RUN echo a    b &&    echo c');
  assert.equal(run.rest, 'echo a    b &&    echo c');
  assert.equal(run.line, 2);
});

test('the escape directive changes the continuation character', () => {
  const df = parseDockerfile('# escape=`\nFROM alpine\nRUN echo a `\n  b\n');
  assert.equal(df.escape, '`');
  assert.equal(df.stages[0]!.instructions[0]!.rest, 'echo a   b');
});

test('flags, stages, global ARGs', () => {
  const df = parseDockerfile(
    'ARG V=1\nFROM alpine:${V} AS Build\nCOPY --chown=1:2 --from=x a* /d/\nfrom scratch\ncopy --from=build /a /b\n',
  );
  assert.equal(df.metaArgs.length, 1);
  assert.equal(df.stages.length, 2);
  assert.equal(df.stages[0]!.name, 'build');
  const copy = df.stages[0]!.instructions[0]!;
  assert.deepEqual(
    [...copy.flags],
    [
      ['chown', '1:2'],
      ['from', 'x'],
    ],
  );
  assert.equal(copy.rest, 'a* /d/');
  assert.equal(df.stages[1]!.instructions[0]!.keyword, 'COPY');
});

test('unknown instructions and instructions before FROM are errors', () => {
  assert.throws(
    () => parseDockerfile('FROM alpine\nFOO bar\n'),
    /dockerfile parse error line 2: unknown instruction: FOO/,
  );
  assert.throws(() => parseDockerfile('RUN true\nFROM alpine\n'), /source image with `from`/);
});

test('JSON forms: strings only; anything else that is not JSON is the shell form', () => {
  assert.deepEqual(parseJSONArray('["cat", "/x"]'), ['cat', '/x']);
  assert.equal(parseJSONArray('[not json'), undefined);
  assert.equal(parseJSONArray('echo hi'), undefined);
  assert.throws(() => parseJSONArray('[1, 2]'), /must be comprised of strings only/);
});

test('ENV/LABEL pairs keep quotes for the expansion step; the old form takes the rest of the line', () => {
  assert.deepEqual(parseWords('A=1 B="2 3" C=\'x y\''), ['A=1', 'B="2 3"', "C='x y'"]);
  assert.deepEqual(parseNameVal('A=1 B="2 3"', 'ENV'), [
    ['A', '1'],
    ['B', '"2 3"'],
  ]);
  assert.deepEqual(parseNameVal('C 4 5', 'ENV'), [['C', '4 5']]);
  assert.throws(() => parseNameVal('A=1 B', 'ENV'), /can't find = in "B"/);
  assert.throws(() => parseNameVal('C', 'ENV'), /ENV must have two arguments/);
});
