// Word expansion against the vectors Docker's own lexer is tested with (envVarTest, wordsTest).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { processWord, processWords } from '../../src/builder/shell-lex.js';

const testdata = (name: string) =>
  fs.readFileSync(fileURLToPath(new URL(`../../../test/builder/testdata/${name}`, import.meta.url)), 'utf8');

test('envVarTest: processWord on every unix and common vector', () => {
  const env = ['PWD=/home', 'SHELL=bash', 'KOREAN=한국어', 'NULL='];
  let checked = 0;
  for (const raw of testdata('envVarTest').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [platform, source, expected] = line.split('|').map((s) => s.trim()) as [string, string, string];
    if (platform === 'W') continue;
    if (expected === 'error') {
      assert.throws(() => processWord(source, env), `${source} should fail`);
    } else {
      assert.equal(processWord(source, env), expected, `processWord(${source})`);
    }
    checked++;
  }
  assert.ok(checked > 200);
});

test('wordsTest: processWords with ENV lines changing the environment', () => {
  const env: string[] = [];
  let checked = 0;
  for (const raw of testdata('wordsTest').split('\n')) {
    if (raw.startsWith('#') || raw.trim() === '') continue;
    if (raw.startsWith('ENV ')) {
      env.push(raw.slice(4));
      continue;
    }
    const i = raw.indexOf('|');
    const source = raw.slice(0, i).trim();
    const expected = raw.slice(i + 1).replace(/^ +/, '');
    if (expected === 'error') {
      assert.throws(() => processWords(source, env), source);
    } else {
      assert.deepEqual(processWords(source, env), expected.split(','), `processWords(${source})`);
    }
    checked++;
  }
  assert.ok(checked > 20);
});
