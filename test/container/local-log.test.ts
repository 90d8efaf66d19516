// The local log driver: Docker's on-disk format (protobuf entries framed by their length,
// rotated files gzipped with the last entry's time in the header), its options and their
// errors, daemon.json's log-driver, and docker logs over it. Expected bytes and words were
// checked against dockerd 20.10.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';
import { localFormat } from '../../src/container/local-log.js';
import { gzipWithLastTime, readLogFile } from '../../src/container/log-file.js';
import { mergeLogConfig, rotationOf, daemonLogConfig } from '../../src/container/log-config.js';

// dockerd 20.10's local-logs/container.log after `sh -c 'echo hello; echo err >&2; printf partial'`.
const DOCKER_FILE = Buffer.from(
  '000000190a067374646f757410e7beb9dda5c3e4f6181a0568656c6c6f00000019000000170a0673746465727210efcfbadda5c3e4f6181a0365727200000017000000630a067374646f757410f4e7e4e9a5c3e4f6181a077061727469616c20012a44124062356565313436623439613663363564643734383665633239303030383737316661303733643239626464653565323537393463386366363163326135336337180100000063',
  'hex',
);
// A file dockerd 20.10 rotated out with compress (default on): two entries, lastTime in FEXTRA.
const DOCKER_GZ = Buffer.from(
  'H4sIBAAAAAAA/y0AeyJsYXN0VGltZSI6IjIwMjYtMTItMDJUMjM6MDI6MTMuODk3OTU1NzEzWiJ9YmBgMOBiKy5JyS8tEdj7dUfvrKNPvklIyeRk5qXqGhrrVmABID0o+hond/Sj6DPBqQ8QAAD//wpKpCdwAAAA',
  'base64',
);

test("entries read from dockerd's file, and written back byte for byte", () => {
  const entries = localFormat.decode(DOCKER_FILE);
  assert.deepEqual(
    entries.map((e) => [e.stream, e.log.toString(), e.nanos]),
    [
      ['stdout', 'hello\n', 1796252468295655271n],
      ['stderr', 'err\n', 1796252468295673839n],
      ['stdout', 'partial', 1796252468321530868n],
    ],
    'whole lines get their newline back; a last line without one stays partial',
  );
  assert.deepEqual(entries[2]!.partial, {
    id: 'b5ee146b49a6c65dd7486ec290008771fa073d29bdde5e25794c8cf61c2a53c7',
    ordinal: 1,
    last: false,
  });
  assert.deepEqual(Buffer.concat(entries.map((e) => localFormat.encode(e))), DOCKER_FILE);
  assert.equal(
    localFormat.decode(DOCKER_FILE.subarray(0, DOCKER_FILE.length - 3)).length,
    2,
    'a torn entry is left out',
  );
});

test("the last piece of a long line is framed as dockerd's copier frames it, and reads back with its newline", () => {
  const head = {
    stream: 'stdout' as const,
    log: Buffer.from('aaaa'),
    nanos: 5n,
    partial: { id: 'x', ordinal: 1, last: false },
  };
  const tail = {
    stream: 'stdout' as const,
    log: Buffer.from('bb\n'),
    nanos: 5n,
    partial: { id: 'x', ordinal: 2, last: true },
  };
  const frame = localFormat.encode(tail);
  // source, time, line without "\n", partial=true, metadata {last: true, id, ordinal: 2}
  assert.equal(frame.toString('hex'), '000000190a067374646f757410051a0262622001' + '2a0708011201781802' + '00000019');
  // dockerd 20.10's own reader drops this newline (its docker logs runs the line into the next); ours keeps it.
  assert.equal(
    Buffer.concat(localFormat.decode(Buffer.concat([localFormat.encode(head), frame])).map((e) => e.log)).toString(),
    'aaaabb\n',
  );
});

test("rotated files are gzip with dockerd's lastTime header, and dockerd's read back", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-locallog-'));
  try {
    const theirs = path.join(dir, 'container.log.1.gz');
    fs.writeFileSync(theirs, DOCKER_GZ);
    assert.deepEqual(
      readLogFile(theirs, localFormat).map((e) => e.log.toString()),
      ['line-13-xxxxxxxxxxxxxxxxxxxx\n', 'line-14-xxxxxxxxxxxxxxxxxxxx\n'],
    );
    const data = zlib.gunzipSync(DOCKER_GZ);
    const ours = gzipWithLastTime(data, 1796252533897955713n);
    assert.deepEqual(ours.subarray(0, 57), DOCKER_GZ.subarray(0, 57), 'same header, extra field included');
    assert.equal(ours.subarray(12, 57).toString(), '{"lastTime":"2026-12-02T23:02:13.897955713Z"}');
    assert.deepEqual(zlib.gunzipSync(ours), data);
    assert.equal(
      gzipWithLastTime(data, 1796252533000000000n).subarray(12, 45).toString(),
      '{"lastTime":"2026-12-02T23:02:13Z"}'.slice(0, 33),
      "Go's RFC3339Nano drops a zero fraction",
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("local's options and their errors in dockerd's words", () => {
  assert.deepEqual(rotationOf({}, 'local'), { maxSize: 20 * 1024 * 1024, maxFiles: 5, compress: true }, 'defaults');
  assert.deepEqual(rotationOf({ 'max-size': '0', 'max-file': '3' }, 'local'), {
    maxSize: 0,
    maxFiles: 3,
    compress: true,
  });
  assert.deepEqual(rotationOf({ 'max-file': '0', compress: 'false' }, 'local'), { maxSize: 20971520, maxFiles: 0 });
  const fails: [Record<string, string>, string][] = [
    [{ 'max-file': '1' }, 'compression cannot be enabled when max file count is 1'],
    [{ 'max-file': '0' }, 'compression cannot be enabled when max file count is 1'],
    [{ 'max-size': 'abc' }, "invalid value for max-size: abc: invalid size: 'abc'"],
    [{ 'max-size': '-1' }, "invalid value for max-size: -1: invalid size: '-1'"],
    [{ compress: 'yes' }, 'error reading compress log option: strconv.ParseBool: parsing "yes": invalid syntax'],
    [{ 'max-file': 'x' }, 'invalid value for max-file: x: strconv.Atoi: parsing "x": invalid syntax'],
    [{ 'max-file': '-1' }, 'max file count cannot be less than 0'],
  ];
  for (const [cfg, msg] of fails)
    assert.throws(() => rotationOf(cfg, 'local'), { message: `failed to initialize logging driver: ${msg}` }, msg);
  for (const key of ['foo', 'labels', 'tag'])
    assert.throws(() => mergeLogConfig({ Type: 'local', Config: { [key]: '1' } }), {
      message: `unknown log opt '${key}' for log driver local`,
    });
  assert.deepEqual(
    mergeLogConfig({ Type: 'local', Config: { mode: 'non-blocking', 'max-buffer-size': '1m' } }).Type,
    'local',
  );
  assert.throws(() => mergeLogConfig({ Type: 'bogus', Config: {} }), {
    message: 'error looking up logging plugin bogus: plugin "bogus" not found',
  });
  assert.throws(() => daemonLogConfig('local', { tag: 'x' }), {
    message: "failed to set log opts: unknown log opt 'tag' for log driver local",
  });
});

let d: TestDaemon;
let cfgDir: string;
before(async () => {
  cfgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-locallog-'));
  const cfg = path.join(cfgDir, 'daemon.json');
  fs.writeFileSync(cfg, JSON.stringify({ 'log-driver': 'local', 'log-opts': { 'max-size': '1k', 'max-file': '3' } }));
  d = await startDaemon(['--config-file', cfg]);
  const tar = await busyboxArchive('locallog:latest');
  const r = spawnSync('docker', ['load'], { input: tar, env: { ...process.env, DOCKER_HOST: d.host } });
  assert.equal(r.status, 0, String(r.stderr));
});
after(async () => {
  d.docker(['rm', '-f', 'lrot', 'lfollow', 'lbig', 'ljson']);
  await d.stop();
  fs.rmSync(cfgDir, { recursive: true, force: true });
});

test('daemon.json log-driver local: rotated, compressed files where dockerd keeps them, read by docker logs', () => {
  const run = d.docker([
    'run',
    '--name',
    'lrot',
    'locallog',
    'sh',
    '-c',
    'i=0; while [ $i -lt 200 ]; do echo line$i; i=$((i+1)); done',
  ]);
  assert.equal(run.status, 0, run.stderr);
  const hc = JSON.parse(d.docker(['inspect', '-f', '{{json .HostConfig.LogConfig}}', 'lrot']).stdout);
  assert.deepEqual(hc, { Type: 'local', Config: { 'max-file': '3', 'max-size': '1k' } });
  assert.equal(d.docker(['inspect', '-f', '{{.LogPath}}', 'lrot']).stdout.trim(), '', 'dockerd keeps it private');
  const id = d.docker(['inspect', '-f', '{{.Id}}', 'lrot']).stdout.trim();
  const dir = path.join(d.dataRoot, 'containers', id, 'local-logs');
  assert.deepEqual(fs.readdirSync(dir).sort(), ['container.log', 'container.log.1.gz', 'container.log.2.gz']);
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  assert.equal(fs.existsSync(path.join(d.dataRoot, 'containers', id, `${id}-json.log`)), false);

  const out = d.docker(['logs', 'lrot']);
  const lines = out.stdout.trim().split('\n');
  assert.equal(lines.at(-1), 'line199');
  const first = Number(lines[0]!.slice(4));
  assert.ok(first > 0 && first < 199, `the oldest went with the third file (from line${first})`);
  assert.deepEqual(
    lines,
    Array.from({ length: 200 - first }, (_, i) => `line${first + i}`),
    'in order across .gz files',
  );
  assert.equal(d.docker(['logs', '--tail', '2', 'lrot']).stdout, 'line198\nline199\n');

  const stamped = d.docker(['logs', '-t', 'lrot']).stdout.trim().split('\n');
  assert.match(stamped[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line\d+$/);
  const since = stamped[5]!.split(' ')[0]!;
  const until = stamped[7]!.split(' ')[0]!;
  assert.deepEqual(
    d.docker(['logs', '--since', since, '--until', until, 'lrot']).stdout,
    `line${first + 6}\nline${first + 7}\n`,
  );
});

test('docker logs -f follows a local log as it rotates', () => {
  const run = d.docker([
    'run',
    '-d',
    '--name',
    'lfollow',
    'locallog',
    'sh',
    '-c',
    'sleep 1; i=0; while [ $i -lt 100 ]; do echo f$i; i=$((i+1)); done',
  ]);
  assert.equal(run.status, 0, run.stderr);
  const follow = spawnSync('docker', ['logs', '-f', 'lfollow'], {
    encoding: 'utf8',
    env: { ...process.env, DOCKER_HOST: d.host },
    timeout: 60_000,
  });
  assert.deepEqual(
    follow.stdout.trim().split('\n'),
    Array.from({ length: 100 }, (_, i) => `f${i}`),
  );
  const id = d.docker(['inspect', '-f', '{{.Id}}', 'lfollow']).stdout.trim();
  assert.ok(fs.existsSync(path.join(d.dataRoot, 'containers', id, 'local-logs', 'container.log.1.gz')));
});

test('a line longer than the copy buffer is stored in partial entries and read back whole', () => {
  const run = d.docker([
    'run',
    '--name',
    'lbig',
    '--log-opt',
    'max-size=1m',
    'locallog',
    'sh',
    '-c',
    'head -c 40000 /dev/zero | tr "\\0" a; echo; echo next',
  ]);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(d.docker(['logs', 'lbig']).stdout, 'a'.repeat(40000) + '\nnext\n');
  const id = d.docker(['inspect', '-f', '{{.Id}}', 'lbig']).stdout.trim();
  const entries = localFormat.decode(
    fs.readFileSync(path.join(d.dataRoot, 'containers', id, 'local-logs', 'container.log')),
  );
  assert.deepEqual(
    entries.map((e) => [e.log.length, e.partial?.ordinal, e.partial?.last]),
    [
      [16384, 1, false],
      [16384, 2, false],
      [40000 - 32768 + 1, 3, true],
      [5, undefined, undefined],
    ],
  );
  assert.equal(new Set(entries.slice(0, 3).map((e) => e.partial?.id)).size, 1, 'one id for the line');
  assert.equal(new Set(entries.slice(0, 3).map((e) => e.nanos)).size, 1, "the first piece's time on every piece");
});

test('a container may still choose json-file; unknown drivers are refused as dockerd refuses them', async () => {
  const run = d.docker(['run', '--name', 'ljson', '--log-driver', 'json-file', 'locallog', 'echo', 'j']);
  assert.equal(run.status, 0, run.stderr);
  const id = d.docker(['inspect', '-f', '{{.Id}}', 'ljson']).stdout.trim();
  assert.equal(
    d.docker(['inspect', '-f', '{{.LogPath}}', 'ljson']).stdout.trim(),
    path.join(d.dataRoot, 'containers', id, `${id}-json.log`),
  );
  assert.deepEqual(JSON.parse(d.docker(['inspect', '-f', '{{json .HostConfig.LogConfig}}', 'ljson']).stdout), {
    Type: 'json-file',
    Config: {},
  });
  assert.equal(d.docker(['logs', 'ljson']).stdout, 'j\n');
  const r = await d.request('POST', '/v1.41/containers/create', {
    Image: 'locallog',
    HostConfig: { LogConfig: { Type: 'bogus', Config: {} } },
  });
  assert.equal(r.status, 400);
  assert.deepEqual(JSON.parse(r.body), { message: 'error looking up logging plugin bogus: plugin "bogus" not found' });
  const bad = await d.request('POST', '/v1.41/containers/create', {
    Image: 'locallog',
    HostConfig: { LogConfig: { Type: 'local', Config: { 'max-file': '1' } } },
  });
  assert.equal(bad.status, 201, 'values are checked at start');
  const id2 = (JSON.parse(bad.body) as { Id: string }).Id;
  const start = await d.request('POST', `/v1.41/containers/${id2}/start`);
  assert.equal(start.status, 500);
  assert.deepEqual(JSON.parse(start.body), {
    message: 'failed to initialize logging driver: compression cannot be enabled when max file count is 1',
  });
  d.docker(['rm', '-f', id2]);
});
