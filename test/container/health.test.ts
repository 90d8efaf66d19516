// Healthchecks run for real: Docker's create-time validation, the starting → unhealthy →
// healthy transitions with their events, ps's status and health filter, the image's
// HEALTHCHECK and --no-healthcheck, the probe timeout, and nothing left running after stop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ok, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

let d: TestDaemon;

before(async () => {
  d = await startDaemon();
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:test'));
  fs.writeFileSync(
    path.join(d.dir, 'hc.tar'),
    await busyboxArchive('bb:health', {
      Healthcheck: { Test: ['CMD-SHELL', 'echo from-image'], Interval: 100_000_000, Retries: 1 },
    }),
  );
  ok(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]), 'load');
  ok(d.docker(['load', '-i', path.join(d.dir, 'hc.tar')]), 'load');
});
after(async () => {
  await d.stop();
});

async function until<T>(what: string, fn: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}\n${d.log().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const health = (name: string) =>
  JSON.parse(ok(d.docker(['inspect', '-f', '{{json .State.Health}}', name]), 'inspect')) as {
    Status: string;
    FailingStreak: number;
    Log: { ExitCode: number; Output: string; Start: string; End: string }[];
  } | null;

test("durations below 1ms are refused at create in Docker's words", async () => {
  for (const [field, value] of [
    ['Interval', 500_000],
    ['Timeout', -1],
    ['StartPeriod', 1000],
    ['StartInterval', 10],
  ] as const) {
    const res = await d.request('POST', '/v1.50/containers/create', {
      Image: 'bb:test',
      Healthcheck: { Test: ['CMD', 'true'], [field]: value },
    });
    assert.equal(res.status, 400, field);
    assert.equal(JSON.parse(res.body).message, `${field} in Healthcheck cannot be less than 1ms`);
  }
  const res = await d.request('POST', '/v1.50/containers/create', {
    Image: 'bb:test',
    Healthcheck: { Test: ['CMD', 'true'], Retries: -1 },
  });
  assert.equal(JSON.parse(res.body).message, 'Retries in Healthcheck cannot be negative');
  assert.equal(ok(d.docker(['ps', '-aq']), 'ps'), '', 'nothing was created');
});

test('starting, then unhealthy after the retries, then healthy: status, streak, log, events, ps and filters', async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  ok(
    d.docker([
      'run',
      '-d',
      '--name',
      'hc',
      '--health-cmd',
      'echo probe; test -f /tmp/ok',
      '--health-interval',
      '100ms',
      '--health-retries',
      '2',
      'bb:test',
      'sleep',
      '1000',
    ]),
    'run',
  );
  assert.equal(health('hc')!.Status, 'starting');
  assert.match(
    ok(d.docker(['ps', '--format', '{{.Status}}', '--filter', 'name=hc']), 'ps'),
    /^Up .* \(health: starting\)\n$/,
  );
  const bad = await until('unhealthy', () => {
    const h = health('hc');
    return h?.Status === 'unhealthy' && h;
  });
  assert.ok(bad.FailingStreak >= 2);
  assert.equal(bad.Log.at(-1)!.ExitCode, 1);
  assert.equal(bad.Log.at(-1)!.Output, 'probe\n');
  assert.equal(ok(d.docker(['ps', '-q', '--filter', 'health=unhealthy']), 'ps').trim().length, 12);
  ok(d.docker(['exec', 'hc', 'touch', '/tmp/ok']), 'exec');
  const good = await until('healthy', () => {
    const h = health('hc');
    return h?.Status === 'healthy' && h;
  });
  assert.equal(good.FailingStreak, 0);
  await until('five log entries', () => (health('hc')!.Log.length === 5 ? true : undefined));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(health('hc')!.Log.length, 5, 'only the last five results are kept');
  assert.match(
    ok(d.docker(['ps', '--format', '{{.Status}}', '--filter', 'health=healthy']), 'ps'),
    /^Up .* \(healthy\)\n$/,
  );
  assert.equal(ok(d.docker(['ps', '-q', '--filter', 'health=none']), 'ps'), '');
  const bogus = d.docker(['ps', '--filter', 'health=bogus']);
  assert.match(bogus.stderr, /Unrecognised filter value for health: bogus/);

  ok(d.docker(['stop', '-t', '0', 'hc']), 'stop');
  assert.equal(health('hc')!.Status, 'unhealthy', 'a stopped container reads unhealthy, as in Docker');
  const execDir = path.join(d.dir, 'exec', 'exec-processes');
  await until('no probe left', () => !fs.existsSync(execDir) || fs.readdirSync(execDir).length === 0);
  const events = ok(
    d.docker([
      'events',
      '--since',
      String(since),
      '--until',
      String(Math.floor(Date.now() / 1000) + 1),
      '--filter',
      'container=hc',
      '--format',
      '{{.Action}}',
    ]),
    'events',
  )
    .split('\n')
    .filter((a) => a.startsWith('health_status'));
  assert.deepEqual(events, ['health_status: unhealthy', 'health_status: healthy']);
  ok(d.docker(['rm', 'hc']), 'rm');
});

test("the image's HEALTHCHECK runs; --no-healthcheck disables it; a probe past its timeout is killed", async () => {
  ok(d.docker(['run', '-d', '--name', 'img', 'bb:health', 'sleep', '1000']), 'run');
  const h = await until('healthy from the image', () => {
    const x = health('img');
    return x?.Status === 'healthy' && x;
  });
  assert.equal(h.Log[0]!.Output, 'from-image\n');
  ok(d.docker(['run', '-d', '--name', 'none', '--no-healthcheck', 'bb:health', 'sleep', '1000']), 'run');
  assert.equal(health('none'), null);
  assert.match(ok(d.docker(['ps', '--format', '{{.Status}}', '--filter', 'name=none']), 'ps'), /^Up [^(]*\n$/);
  ok(
    d.docker([
      'run',
      '-d',
      '--name',
      'slow',
      '--health-cmd',
      'sleep 30',
      '--health-timeout',
      '200ms',
      '--health-interval',
      '100ms',
      '--health-retries',
      '1',
      'bb:test',
      'sleep',
      '1000',
    ]),
    'run',
  );
  const slow = await until('timed out probe', () => {
    const x = health('slow');
    return x?.Status === 'unhealthy' && x;
  });
  assert.equal(slow.Log[0]!.ExitCode, -1);
  assert.equal(slow.Log[0]!.Output, 'Health check exceeded timeout (200ms)');
  ok(d.docker(['rm', '-f', 'img', 'none', 'slow']), 'rm');
});

test('within the start period a container not yet healthy is probed at the start interval', async () => {
  ok(
    d.docker([
      'run',
      '-d',
      '--name',
      'early',
      '--health-cmd',
      'true',
      '--health-interval',
      '1h',
      '--health-start-period',
      '1h',
      '--health-start-interval',
      '100ms',
      'bb:test',
      'sleep',
      '1000',
    ]),
    'run',
  );
  await until('healthy at the start interval', () => health('early')?.Status === 'healthy');
  ok(d.docker(['rm', '-f', 'early']), 'rm');
});
