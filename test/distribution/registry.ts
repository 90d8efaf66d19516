// A real registry for tests: Debian's docker-registry (CNCF distribution) on a free loopback
// port with its config and storage in a temp dir, killed and removed by stop(). Also raw helpers
// to write blobs and manifests into it, and to drive the daemon's registry endpoints with
// X-Registry-Auth (the docker CLI would store logins in the user's config).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';

export const sha256 = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');

export interface TestRegistry {
  /** host:port as references name it. */
  addr: string;
  port: number;
  dir: string;
  /** The registry's storage root (docker/registry/v2/…). */
  root: string;
  log(): string;
  stop(): Promise<void>;
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startRegistry(
  opts: {
    host?: string;
    extra?: string;
    tls?: { cert: string; key: string; clientcas?: string };
    /** Basic auth with one user (htpasswd, bcrypt as the registry requires). */
    htpasswd?: { user: string; password: string };
  } = {},
): Promise<TestRegistry> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-registry-'));
  let auth = '';
  if (opts.htpasswd) {
    const file = path.join(dir, 'htpasswd');
    const r = spawnSync('htpasswd', ['-Bbn', opts.htpasswd.user, opts.htpasswd.password], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`htpasswd: ${r.stderr}`);
    fs.writeFileSync(file, r.stdout);
    auth = `auth:\n  htpasswd:\n    realm: basic-realm\n    path: ${file}\n`;
  }
  const host = opts.host ?? '127.0.0.1';
  const port = await freePort(host);
  const root = path.join(dir, 'storage');
  const tls = opts.tls
    ? `\n  tls:\n    certificate: ${opts.tls.cert}\n    key: ${opts.tls.key}${opts.tls.clientcas ? `\n    clientcas:\n      - ${opts.tls.clientcas}` : ''}`
    : '';
  fs.writeFileSync(
    path.join(dir, 'config.yml'),
    `version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: ${root}
  delete:
    enabled: true
http:
  addr: ${host}:${port}${tls}
${auth}${opts.extra ?? ''}
`,
  );
  const logFile = path.join(dir, 'registry.log');
  const fd = fs.openSync(logFile, 'a');
  const proc: ChildProcess = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], {
    stdio: ['ignore', fd, fd],
  });
  fs.closeSync(fd);
  const log = () => fs.readFileSync(logFile, 'utf8');
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`docker-registry exited:\n${log()}`);
    const up = await new Promise<boolean>((r) => {
      const c = net.connect(port, host, () => {
        c.destroy();
        r(true);
      });
      c.on('error', () => r(false));
    });
    if (up) break;
    if (i > 200) throw new Error(`docker-registry did not listen:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    addr: `${host}:${port}`,
    port,
    dir,
    root,
    log,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export function raw(
  url: string,
  method: string,
  headers: Record<string, string> = {},
  body?: Buffer,
  socketPath?: string,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request(
      {
        socketPath,
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        headers: { ...headers, ...(body ? { 'Content-Length': String(body.length) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Uploads a blob monolithically (POST, then PUT with the digest); returns its digest. */
export async function putBlob(addr: string, repo: string, data: Buffer): Promise<string> {
  const start = await raw(`http://${addr}/v2/${repo}/blobs/uploads/`, 'POST');
  if (start.status !== 202) throw new Error(`upload start: ${start.status} ${start.body}`);
  const loc = new URL(start.headers.location!, `http://${addr}`);
  const digest = sha256(data);
  loc.searchParams.set('digest', digest);
  const put = await raw(loc.toString(), 'PUT', { 'Content-Type': 'application/octet-stream' }, data);
  if (put.status !== 201) throw new Error(`blob put: ${put.status} ${put.body}`);
  return digest;
}

export async function putManifest(
  addr: string,
  repo: string,
  ref: string,
  mediaType: string,
  body: Buffer,
): Promise<string> {
  const res = await raw(`http://${addr}/v2/${repo}/manifests/${ref}`, 'PUT', { 'Content-Type': mediaType }, body);
  if (res.status !== 201) throw new Error(`manifest put: ${res.status} ${res.body}`);
  return sha256(body);
}

export const registryAuth = (a: Record<string, string>) => Buffer.from(JSON.stringify(a)).toString('base64url');

/** A pull, push or other streamed call to the daemon: the status and the JSON messages. */
export async function apiStream(
  socket: string,
  method: string,
  urlPath: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<{ status: number; messages: Record<string, any>[]; text: string }> {
  const r = await raw(`http://localhost${urlPath}`, method, headers, body, socket);
  const text = r.body.toString('utf8');
  const messages = text
    .split(/\r?\n/)
    .filter(Boolean)
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, any>;
      } catch {
        return { raw: l };
      }
    });
  return { status: r.status, messages, text };
}

export async function pullImage(
  socket: string,
  ref: string,
  opts: { tag?: string; platform?: string; auth?: Record<string, string> } = {},
) {
  const q = new URLSearchParams({ fromImage: ref });
  if (opts.tag) q.set('tag', opts.tag);
  if (opts.platform) q.set('platform', opts.platform);
  return apiStream(
    socket,
    'POST',
    `/images/create?${q}`,
    opts.auth ? { 'X-Registry-Auth': registryAuth(opts.auth) } : {},
  );
}

/** An empty tag pushes every local tag of the repository (docker push --all-tags). */
export async function pushImage(socket: string, name: string, tag: string, auth: Record<string, string> = {}) {
  return apiStream(socket, 'POST', `/images/${name}/push${tag ? `?tag=${encodeURIComponent(tag)}` : ''}`, {
    'X-Registry-Auth': registryAuth(auth),
  });
}

/** The error a stream ended with, or the HTTP error's message. */
export function errorOf(r: { status: number; messages: Record<string, any>[] }): string | undefined {
  if (r.status !== 200) return r.messages[0]?.message as string | undefined;
  return r.messages.find((m) => m.error)?.error as string | undefined;
}

/** Listens on a free loopback port: the address to give a daemon, and a stop that drops every connection. */
export async function serveOnLoopback(server: http.Server): Promise<{ addr: string; stop: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    addr: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
