// /volumes through the real API server and the docker CLI, serving the volume routes alone on what
// they and the server reach of the engine (the volume service; the server's log and activity),
// plus raw HTTP for what the CLI cannot choose (API 1.41).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { openMetaDb, type MetaDb } from '../../src/meta/db.js';
import { EventBus } from '../../src/system/events.js';
import { silentLogger } from '../../src/util/log.js';
import { createVolumeService } from '../../src/volume/service.js';
import { createApiServer, type ServerEngine } from '../../src/api/server.js';
import { Router } from '../../src/api/router.js';
import { registerPingRoute } from '../../src/api/ping.js';
import { registerVolumeRoutes, type VolumeRoutesEngine } from '../../src/api/volumes.js';
import { Activity } from '../../src/system/activity.js';
import type { VolumeService } from '../../src/volume/types.js';

let dir: string;
let socket: string;
let db: MetaDb;
let server: http.Server;
let volumes: VolumeService;
const CID = 'e'.repeat(64);

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-api-volumes-'));
  const dataRoot = path.join(dir, 'root');
  fs.mkdirSync(path.join(dataRoot, 'tmp'), { recursive: true });
  db = openMetaDb(path.join(dataRoot, 'strata.db'));
  const events = new EventBus();
  volumes = await createVolumeService({
    db,
    dataRoot,
    log: silentLogger,
    events,
    pluginDirs: [path.join(dir, 'plugins')],
  });
  const engine: ServerEngine & VolumeRoutesEngine = { log: silentLogger, volumes, activity: new Activity() };
  const router = new Router<typeof engine>();
  registerPingRoute(router);
  registerVolumeRoutes(router);
  socket = path.join(dir, 'api.sock');
  server = createApiServer(engine, router);
  await new Promise<void>((r) => server.listen(socket, () => r()));
});

after(async () => {
  server.close();
  server.closeAllConnections();
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The CLI runs asynchronously: the server answering it lives in this very process. */
function docker(...args: string[]): Promise<{ status: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      'docker',
      args,
      { env: { ...process.env, DOCKER_HOST: `unix://${socket}` }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const status = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ status, out: String(stdout).trim(), err: String(stderr).trim() });
      },
    );
  });
}

function request(method: string, urlPath: string, body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      { socketPath: socket, method, path: urlPath, headers: data ? { 'Content-Type': 'application/json' } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

const q = (filters: Record<string, string[]>) => `filters=${encodeURIComponent(JSON.stringify(filters))}`;

test("docker volume create / inspect / ls / rm with Docker's output", async () => {
  assert.deepEqual((await docker('volume', 'create', 'my-data')).out, 'my-data');
  assert.deepEqual((await docker('volume', 'create', 'my-data')).out, 'my-data');
  assert.match((await docker('volume', 'ls')).out, /^DRIVER +VOLUME NAME\nlocal +my-data$/m);
  assert.equal(
    (
      await docker(
        'volume',
        'inspect',
        '-f',
        '{{.Name}} {{.Driver}} {{.Scope}} {{len .Labels}} {{len .Options}}',
        'my-data',
      )
    ).out,
    'my-data local local 0 0',
  );
  assert.match(
    (await docker('volume', 'inspect', '-f', '{{.Mountpoint}}', 'my-data')).out,
    /\/volumes\/my-data\/_data$/,
  );
  const bad = await docker('volume', 'create', 'bad/name');
  assert.equal(bad.status, 1);
  assert.match(
    bad.err,
    /Error response from daemon: create bad\/name: "bad\/name" includes invalid characters for a local volume name/,
  );
  assert.equal((await docker('volume', 'rm', 'my-data')).out, 'my-data');
  const gone = await docker('volume', 'inspect', 'my-data');
  assert.equal(gone.status, 1);
  assert.match(gone.err, /get my-data: no such volume/);
  assert.match(
    (await docker('volume', 'rm', 'my-data')).err,
    /Error response from daemon: get my-data: no such volume/,
  );
  assert.equal((await docker('volume', 'rm', '-f', 'my-data')).status, 0);
});

test('labels and options come back sorted as Docker prints them; ls filters', async () => {
  await docker('volume', 'create', '--label', 'service=api', '--label', 'env=production', 'api_uploads');
  await docker('volume', 'create', '--label', 'env=staging', 'other');
  await docker(
    'volume',
    'create',
    '--driver',
    'local',
    '--opt',
    'type=tmpfs',
    '--opt',
    'device=tmpfs',
    '--opt',
    'o=size=2m,uid=1000',
    'ramvol',
  );
  assert.equal(
    (await docker('volume', 'inspect', '-f', '{{json .Labels}}', 'api_uploads')).out,
    '{"env":"production","service":"api"}',
  );
  assert.equal(
    (await docker('volume', 'inspect', '-f', '{{.Driver}} {{json .Options}}', 'ramvol')).out,
    'local {"device":"tmpfs","o":"size=2m,uid=1000","type":"tmpfs"}',
  );
  const names = async (...f: string[]) =>
    (await docker('volume', 'ls', '-q', ...f.flatMap((x) => ['--filter', x]))).out.split('\n').filter(Boolean).sort();
  assert.deepEqual(await names('label=env'), ['api_uploads', 'other']);
  assert.deepEqual(await names('label=env=production', 'label=service=api'), ['api_uploads']);
  assert.deepEqual(await names('name=ram'), ['ramvol']);
  assert.deepEqual((await names('driver=local')).length, 3);
  // The CLI joins .Labels in Go map order, which varies from run to run: compare as a set.
  const row = (await docker('volume', 'ls', '--filter', 'name=api', '--format', '{{.Name}} {{.Labels}}')).out.split(
    ' ',
  );
  assert.equal(row[0], 'api_uploads');
  assert.deepEqual(row[1]!.split(',').sort(), ['env=production', 'service=api']);
  for (const n of ['api_uploads', 'other', 'ramvol']) await docker('volume', 'rm', n);
});

test('in use: rm and rm -f fail naming the container; dangling follows references', async () => {
  await docker('volume', 'create', 'busy');
  await docker('volume', 'create', 'idle');
  volumes.reference('busy', CID);
  for (const args of [['rm'], ['rm', '-f']]) {
    const r = await docker('volume', ...args, 'busy');
    assert.equal(r.status, 1);
    assert.match(r.err, new RegExp(`Error response from daemon: remove busy: volume is in use - \\[${CID}\\]`));
  }
  assert.deepEqual((await docker('volume', 'ls', '-q', '--filter', 'dangling=true')).out.split('\n'), ['idle']);
  assert.deepEqual((await docker('volume', 'ls', '-q', '--filter', 'dangling=false')).out.split('\n'), ['busy']);
  volumes.release('busy', CID);
  assert.equal((await docker('volume', 'rm', 'busy', 'idle')).out, 'busy\nidle');
});

test('raw API: 201 on create, 404/204 on delete, 400 on bad filters, 501 on PUT', async () => {
  const c = await request('POST', '/v1.41/volumes/create', {
    Name: 't1',
    Labels: { a: 'b' },
    DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' },
  });
  assert.equal(c.status, 201);
  assert.deepEqual(Object.keys(c.json), ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
  const anon = await request('POST', '/v1.41/volumes/create', {});
  assert.equal(anon.status, 201);
  assert.match(anon.json.Name, /^[0-9a-f]{64}$/);
  assert.equal((await request('GET', '/v1.41/volumes/t1')).json.Options.o, 'size=1m');
  const list = await request('GET', '/v1.41/volumes');
  assert.deepEqual(Object.keys(list.json), ['Volumes', 'Warnings']);
  const miss = await request('DELETE', '/v1.41/volumes/nope');
  assert.deepEqual([miss.status, miss.json.message], [404, 'get nope: no such volume']);
  assert.equal((await request('DELETE', '/v1.41/volumes/nope?force=1')).status, 204);
  const bad = await request('GET', `/v1.41/volumes?${q({ dangling: ['maybe'] })}`);
  assert.deepEqual([bad.status, bad.json.message], [400, "invalid filter 'dangling=maybe'"]);
  const unk = await request('POST', `/v1.43/volumes/prune?${q({ foo: ['1'] })}`);
  assert.deepEqual([unk.status, unk.json.message], [400, "invalid filter 'foo'"]);
  const badAll = await request('POST', `/v1.43/volumes/prune?${q({ all: ['maybe'] })}`);
  assert.deepEqual([badAll.status, badAll.json.message], [400, "invalid filter 'all=maybe'"]);
  assert.equal((await request('PUT', '/v1.43/volumes/t1', {})).status, 501);
  const plugin = await request('POST', '/v1.41/volumes/create', { Name: 'ebs', Driver: 'rexray/ebs' });
  assert.deepEqual(
    [plugin.status, plugin.json.message],
    [404, 'create ebs: error looking up volume plugin rexray/ebs: plugin "rexray/ebs" not found'],
  );
  for (const n of ['t1', anon.json.Name]) assert.equal((await request('DELETE', `/v1.41/volumes/${n}`)).status, 204);
});

test('prune: API 1.43 removes anonymous volumes only (all=true for the rest); API 1.41 removes all unused', async () => {
  const label = { 'lab.run': 'p' };
  for (const [Name, Labels] of [
    ['unused', label],
    ['inuse', label],
    ['', label],
    ['unlabelled', {}],
  ] as const) {
    await request('POST', '/v1.43/volumes/create', { Name, Labels });
  }
  volumes.reference('inuse', CID);
  const lf = q({ label: ['lab.run=p'] });
  const p1 = await request('POST', `/v1.43/volumes/prune?${lf}`);
  assert.equal(p1.status, 200);
  assert.equal(p1.json.VolumesDeleted.length, 1);
  assert.match(p1.json.VolumesDeleted[0], /^[0-9a-f]{64}$/);
  assert.equal(typeof p1.json.SpaceReclaimed, 'number');
  const again = await request('POST', `/v1.43/volumes/prune?${lf}`);
  // Checked against dockerd 20.10: an empty list, not null, when nothing was pruned.
  assert.deepEqual(again.json, { VolumesDeleted: [], SpaceReclaimed: 0 });
  // The 1.41 client: every unused local volume matching the filters.
  const p2 = await request('POST', `/v1.41/volumes/prune?${lf}`);
  assert.deepEqual(p2.json.VolumesDeleted, ['unused']);
  const cli = await docker('volume', 'prune', '-f', '--all', '--filter', 'label=nothing-has-this');
  assert.equal(cli.status, 0, cli.err);
  assert.match(cli.out, /Total reclaimed space: 0B/);
  volumes.release('inuse', CID);
  const p3 = await docker('volume', 'prune', '-f', '--all', '--filter', 'label=lab.run=p');
  assert.match(p3.out, /Deleted Volumes:\ninuse\n\nTotal reclaimed space: 0B/);
  assert.deepEqual((await docker('volume', 'ls', '-q')).out, 'unlabelled');
  await docker('volume', 'rm', 'unlabelled');
});

test('strata volume rename through the API: 200 with the volume, 409 in use or taken, 404 missing, 400 without a name', async () => {
  assert.equal((await docker('volume', 'create', '--label', 'k=v', 'rn-old')).status, 0);
  fs.writeFileSync(path.join((await volumes.get('rn-old')).mountpoint, 'f'), 'x');
  const r = await request('POST', '/strata/volumes/rn-old/rename?name=rn-new');
  assert.equal(r.status, 200);
  assert.equal(r.json.Name, 'rn-new');
  assert.deepEqual(r.json.Labels, { k: 'v' });
  assert.equal((await docker('volume', 'ls', '-q', '--filter', 'name=rn-')).out, 'rn-new');
  assert.equal(fs.readFileSync(path.join(r.json.Mountpoint, 'f'), 'utf8'), 'x');
  assert.equal((await request('POST', '/strata/volumes/rn-missing/rename?name=x1')).status, 404);
  assert.equal((await request('POST', '/strata/volumes/rn-new/rename')).status, 400);
  volumes.reference('rn-new', CID);
  const busy = await request('POST', '/strata/volumes/rn-new/rename?name=rn-other');
  assert.equal(busy.status, 409);
  assert.equal(busy.json.message, `rename rn-new: volume is in use - [${CID}]`);
  volumes.release('rn-new', CID);
  assert.equal((await docker('volume', 'create', 'rn-taken')).status, 0);
  assert.equal((await request('POST', '/strata/volumes/rn-new/rename?name=rn-taken')).status, 409);
  assert.equal((await docker('volume', 'rm', 'rn-new', 'rn-taken')).status, 0);
});
