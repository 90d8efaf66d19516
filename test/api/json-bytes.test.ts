// The bytes of JSON answers next to dockerd 20.10's for the same requests: its JSON answers
// (inspect, errors) keep <, > and & as they are but escape U+2028/U+2029, while its streams
// (events, build output, progress) escape all five as Go's json.Marshal does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { goJson } from '../../src/util/go-json.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from '../container/busybox-image.js';

test("goJson writes what Go's encoder writes, and the value reads back the same", () => {
  const value = { a: 'a<b&c>', s: 'x\u2028y\u2029z', q: '\\<"', n: [1, null, true], o: { '<k>': '&' } };
  assert.equal(
    goJson(value),
    '{"a":"a\\u003cb\\u0026c\\u003e","s":"x\\u2028y\\u2029z","q":"\\\\\\u003c\\"","n":[1,null,true],"o":{"\\u003ck\\u003e":"\\u0026"}}',
  );
  assert.equal(
    goJson(value, false),
    '{"a":"a<b&c>","s":"x\\u2028y\\u2029z","q":"\\\\<\\"","n":[1,null,true],"o":{"<k>":"&"}}',
  );
  assert.deepEqual(JSON.parse(goJson(value)), value);
  assert.deepEqual(JSON.parse(goJson(value, false)), value);
  assert.equal(goJson(undefined), undefined);
});

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:json'));
  assert.equal(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]).status, 0);
});
after(async () => {
  await d?.stop();
});

test("inspect, errors and events carry dockerd's bytes", async () => {
  const c = await d.request('POST', '/v1.41/containers/create?name=esc', {
    Image: 'bb:json',
    Cmd: ['true'],
    Env: ['A=a<b&c>', 'B=x\u2028y'],
    Labels: { x: '<&>' },
  });
  assert.equal(c.status, 201, c.body);
  try {
    // dockerd 20.10: "Env":["A=a<b&c>","B=x\u2028y",...] and "x":"<&>" in inspect.
    const inspect = await d.request('GET', '/v1.41/containers/esc/json');
    assert.ok(inspect.body.includes('"Env":["A=a<b&c>","B=x\\u2028y"'), inspect.body);
    assert.ok(inspect.body.includes('"x":"<&>"'), inspect.body);
    assert.ok(!inspect.body.includes('\u2028'));
    // dockerd 20.10: {"message":"No such container: nosuch<&>"}.
    const missing = await d.request('GET', '/v1.41/containers/nosuch%3C%26%3E/json');
    assert.equal(missing.status, 404);
    assert.equal(missing.body, '{"message":"No such container: nosuch<&>"}\n');
    // dockerd 20.10: the create event's attributes hold "x":"\u003c\u0026\u003e".
    const until = Math.ceil(Date.now() / 1000) + 1;
    const events = await d.request(
      'GET',
      `/v1.41/events?since=0&until=${until}&filters=${encodeURIComponent('{"container":["esc"]}')}`,
    );
    assert.ok(events.body.includes('"x":"\\u003c\\u0026\\u003e"'), events.body);
    assert.ok(!events.body.includes('<&>'));
  } finally {
    d.docker(['rm', '-f', 'esc']);
  }
});
