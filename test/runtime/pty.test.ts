// The daemon's side of a container terminal carries bytes unchanged: the container's own
// terminal has already turned "\n" into "\r\n", and a second translation gave "\r\r\n".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { openPty } from '../../src/runtime/pty.js';

test('a new terminal pair passes output and input through untranslated', () => {
  const { master, slave } = openPty();
  try {
    fs.writeSync(slave, 'hello out\r\nnext\n');
    const buf = Buffer.alloc(256);
    const n = fs.readSync(master, buf, 0, buf.length, null);
    assert.equal(buf.toString('utf8', 0, n), 'hello out\r\nnext\n');
    fs.writeSync(master, 'typed\r');
    const m = fs.readSync(slave, buf, 0, buf.length, null);
    assert.equal(buf.toString('utf8', 0, m), 'typed\r', 'no carriage return turned into a newline, no echo needed');
  } finally {
    fs.closeSync(slave);
    fs.closeSync(master);
  }
});
