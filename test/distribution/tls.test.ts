// HTTPS registries: a registry on this machine's non-loopback address (so not insecure by
// default) with a certificate from a self-signed CA and client certificates required. The
// daemon trusts it only through certs.d/<host:port>/ (ca.crt, client.cert, client.key).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ok, startDaemon } from '../helpers/daemon.js';
import { dockerArchive } from '../image/fixture-archive.js';
import { errorOf, pullImage, pushImage, startRegistry } from './registry.js';

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** A CA, a server certificate for `ip` signed by it, and a client certificate. */
function makeCerts(dir: string, ip: string): void {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '2',
      '-subj',
      '/CN=strata test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  for (const [name, ext] of [
    ['server', `subjectAltName=IP:${ip},IP:127.0.0.1\nextendedKeyUsage=serverAuth`],
    ['client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    fs.writeFileSync(path.join(dir, `${name}.ext`), `${ext}\n`);
    openssl(
      ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`],
      dir,
    );
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.crt`,
        '-days',
        '2',
        '-extfile',
        `${name}.ext`,
      ],
      dir,
    );
  }
}

const externalIPv4 = () =>
  Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

test('TLS with a self-signed CA and a client certificate from certs.d', async (t) => {
  const ip = externalIPv4();
  if (!ip) {
    t.skip('no non-loopback IPv4 address on this machine');
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-tls-'));
  makeCerts(work, ip);
  const certsDir = path.join(work, 'certs.d');
  fs.mkdirSync(certsDir);
  const reg = await startRegistry({
    host: ip,
    tls: {
      cert: path.join(work, 'server.crt'),
      key: path.join(work, 'server.key'),
      clientcas: path.join(work, 'ca.crt'),
    },
  });
  const d = await startDaemon(['--certs-dir', certsDir]);
  try {
    fs.writeFileSync(path.join(work, 'img.tar'), (await dockerArchive({ tag: 'layered:1' })).tar);
    ok(d.docker(['load', '-i', path.join(work, 'img.tar')]), 'load');
    const name = `${reg.addr}/team/tls`;
    ok(d.docker(['tag', 'layered:1', `${name}:1`]), 'tag');

    const untrusted = await pushImage(d.socket, name, '1');
    assert.match(
      errorOf(untrusted) ?? '',
      /certificate|self.signed|unable to verify/i,
      `the registry's CA is not trusted yet: ${untrusted.text}`,
    );

    const hostDir = path.join(certsDir, reg.addr);
    fs.mkdirSync(hostDir);
    fs.copyFileSync(path.join(work, 'ca.crt'), path.join(hostDir, 'ca.crt'));
    const noClientCert = await pushImage(d.socket, name, '1');
    assert.notEqual(errorOf(noClientCert), undefined, 'the registry wants a client certificate');

    fs.copyFileSync(path.join(work, 'client.crt'), path.join(hostDir, 'client.cert'));
    fs.copyFileSync(path.join(work, 'client.key'), path.join(hostDir, 'client.key'));
    const pushed = await pushImage(d.socket, name, '1');
    assert.equal(errorOf(pushed), undefined, pushed.text);
    ok(d.docker(['rmi', `${name}:1`, 'layered:1']), 'rmi');
    const pulled = await pullImage(d.socket, name, { tag: '1' });
    assert.equal(errorOf(pulled), undefined, pulled.text);
    assert.equal(
      ok(d.docker(['image', 'inspect', '-f', '{{.Id}}', `${name}:1`]), 'inspect').trim(),
      (await dockerArchive({ tag: 'layered:1' })).id,
    );
  } finally {
    await d.stop();
    await reg.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
});
