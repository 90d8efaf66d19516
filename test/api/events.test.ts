// GET /events as Docker's clients use it: the head comes before any event, a closed stream
// lets go of its listener, `until` ends the stream, since/until replay, pause and unpause.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from '../container/busybox-image.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:events'));
  assert.equal(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]).status, 0);
});
after(async () => {
  await d?.stop();
});

/** Opens an event stream; resolves once the response head is in. */
function openEvents(
  query: string,
): Promise<{ req: http.ClientRequest; res: http.IncomingMessage; body: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: d.socket, path: `/v1.41/events${query}` }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const body = new Promise<string>((r) => {
        res.on('end', () => r(Buffer.concat(chunks).toString()));
        res.on('close', () => r(Buffer.concat(chunks).toString()));
      });
      resolve({ req, res, body });
    });
    req.on('error', reject);
  });
}

const listeners = async () =>
  (JSON.parse((await d.request('GET', '/v1.41/info')).body) as { NEventsListener: number }).NEventsListener;

test(
  'the head comes at once on a quiet daemon, and a closed stream lets go of its listener',
  { timeout: 30_000 },
  async () => {
    // dockerd 20.10 flushes "200 OK" with Content-Type: application/json before any event.
    const idle = await listeners();
    const { req, res } = await openEvents('');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(await listeners(), idle + 1);
    req.destroy();
    for (let i = 0; i < 100 && (await listeners()) !== idle; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await listeners(), idle);
  },
);

test(
  'pause and unpause are events; since/until replay only their window; until ends a live stream',
  { timeout: 60_000 },
  async () => {
    assert.equal(d.docker(['run', '-d', '--name', 'ev', 'bb:events', 'sleep', '1000']).status, 0);
    const id = d.docker(['inspect', '-f', '{{.Id}}', 'ev']).stdout.trim();
    const t0 = Date.now() / 1000;
    const live = await openEvents(
      `?until=${(Date.now() / 1000 + 3).toFixed(3)}&filters=${encodeURIComponent(JSON.stringify({ container: ['ev'] }))}`,
    );
    assert.equal(d.docker(['pause', 'ev']).status, 0);
    assert.equal(d.docker(['unpause', 'ev']).status, 0);
    const t1 = Date.now() / 1000;
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(d.docker(['rm', '-f', 'ev']).status, 0);
    // The stream ends by itself once `until` has passed. dockerd 20.10 replays its buffer when
    // only `until` is given, so the run's create and start come first.
    const streamed = (await live.body)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { Action: string });
    assert.deepEqual(
      streamed.slice(0, 4).map((e) => e.Action),
      ['create', 'start', 'pause', 'unpause'],
    );
    // dockerd 20.10's pause event, deprecated fields included:
    // {"status":"pause","id":ID,"from":"bb:latest","Type":"container","Action":"pause","Actor":{"ID":ID,"Attributes":{"image":"bb:latest","name":"pz"}},"scope":"local",...}
    const past = await d.request('GET', `/v1.41/events?since=${t0.toFixed(3)}&until=${t1.toFixed(3)}`);
    assert.equal(past.status, 200);
    const events = past.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, any>);
    assert.deepEqual(
      events.map((e) => e.Action),
      ['pause', 'unpause'],
    );
    assert.deepEqual(
      {
        status: events[0].status,
        id: events[0].id,
        from: events[0].from,
        Type: events[0].Type,
        Actor: events[0].Actor,
      },
      {
        status: 'pause',
        id,
        from: 'bb:events',
        Type: 'container',
        Actor: { ID: id, Attributes: { image: 'bb:events', name: 'ev' } },
      },
    );
  },
);

test("since after until is refused with Docker's words", async () => {
  // dockerd 20.10: 400 {"message":"`since` time (200) cannot be after `until` time (100)"}
  const r = await d.request('GET', '/v1.41/events?since=200&until=100');
  assert.equal(r.status, 400);
  assert.equal(JSON.parse(r.body).message, '`since` time (200) cannot be after `until` time (100)');
});

test('rm -f of a running container: kill (signal 9), die, destroy, stamped to the nanosecond', async () => {
  const since = Math.floor(Date.now() / 1000);
  assert.equal(
    d.docker(['run', '-d', '--network', 'none', '--name', 'forced', 'bb:events', 'sleep', '1000']).status,
    0,
  );
  assert.equal(d.docker(['rm', '-f', 'forced']).status, 0);
  const r = await d.request(
    'GET',
    `/v1.41/events?since=${since}&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent(JSON.stringify({ container: ['forced'] }))}`,
  );
  const lines = r.body.trim().split('\n');
  const events = lines.map(
    (l) => JSON.parse(l) as { Action: string; time: number; Actor: { Attributes: Record<string, string> } },
  );
  // dockerd 20.10: create, start, kill {signal: 9}, die {exitCode: 137}, destroy.
  assert.deepEqual(
    events.map((e) => e.Action),
    ['create', 'start', 'kill', 'die', 'destroy'],
  );
  assert.equal(events[2]!.Actor.Attributes.signal, '9');
  assert.equal(events[3]!.Actor.Attributes.exitCode, '137');
  // timeNano has more digits than a JSON number keeps: read it from the text. dockerd's are
  // nanoseconds (1796254041386393774), in order, and agree with time.
  const nanos = lines.map((l) => BigInt(/"timeNano":(\d+)/.exec(l)![1]!));
  nanos.forEach((n, i) => assert.equal(n / 1_000_000_000n, BigInt(events[i]!.time)));
  nanos.slice(1).forEach((n, i) => assert.ok(n > nanos[i]!, 'timeNano increases'));
  assert.ok(
    nanos.some((n) => n % 1_000_000n !== 0n),
    `below the millisecond: ${nanos.join(' ')}`,
  );
});
