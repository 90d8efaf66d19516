// The bench's plumbing: raw HTTP on a unix socket, waiting for a daemon, small-file tars.
import http from 'node:http';
import tar from 'tar-stream';

/** One request; a Buffer body is sent as is, anything else as JSON. */
export function request(socketPath, method, urlPath, body, contentType) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const headers = data ? { 'Content-Type': contentType ?? 'application/json', 'Content-Length': data.length } : {};
    const req = http.request({ socketPath, method, path: urlPath, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

export async function waitForPing(socket, child, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`daemon for ${socket} exited with ${child.exitCode}`);
    try {
      if ((await request(socket, 'GET', '/_ping')).status === 200) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`no answer on ${socket}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `count` files of 1–500 bytes spread over 20 directories under `prefix`. */
export async function buildFilesTar(prefix, count, tag) {
  const pack = tar.pack();
  const chunks = [];
  pack.on('data', (c) => chunks.push(c));
  const done = new Promise((r) => pack.on('end', r));
  const base = prefix ? `${prefix}/` : '';
  if (prefix) pack.entry({ name: base, type: 'directory', mode: 0o755 });
  for (let d = 0; d < Math.min(20, count); d++) pack.entry({ name: `${base}d${d}/`, type: 'directory', mode: 0o755 });
  for (let i = 0; i < count; i++) {
    pack.entry({ name: `${base}d${i % 20}/${tag}${i}`, mode: 0o644 }, Buffer.alloc((i * 37) % 500 + 1, 97));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
