// Backups to a remote store through rclone, against a real OpenSSH SFTP server on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { LIGHT_KDF } from '../../src/backup/restic-key.js';
import { fillTree, makeService, manifest, tempDir } from './fixture.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function startSshd(
  dir: string,
): Promise<{ port: number; key: string; proc: ChildProcess; madeRunDir: boolean } | string> {
  const sshd = ['/usr/sbin/sshd', '/usr/bin/sshd'].find((p) => fs.existsSync(p));
  if (!sshd) return 'sshd is not installed (Debian package openssh-server)';
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'client_key')]);
  fs.copyFileSync(path.join(dir, 'client_key.pub'), path.join(dir, 'authorized_keys'));
  // sshd's privilege separation needs this empty directory; it is removed again if made here.
  const madeRunDir = !fs.existsSync('/run/sshd');
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const port = await freePort();
  const config = path.join(dir, 'sshd_config');
  fs.writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(dir, 'host_key')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
  );
  const proc = spawn(sshd, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => {
    err += d;
  });
  for (let i = 0; i < 50; i++) {
    if (proc.exitCode !== null) return `sshd could not start: ${err.trim()}`;
    const up = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.destroy();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (up) return { port, key: path.join(dir, 'client_key'), proc, madeRunDir };
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill();
  return `sshd did not listen on 127.0.0.1:${port}: ${err.trim()}`;
}

test('backup to and restore from an SFTP server through rclone', async (t) => {
  const root = tempDir();
  const sshDir = path.join(root, 'ssh');
  fs.mkdirSync(sshDir);
  const server = await startSshd(sshDir);
  if (typeof server === 'string') {
    fs.rmSync(root, { recursive: true, force: true });
    t.skip(server);
    return;
  }
  const env = {
    RCLONE_CONFIG_STRATATEST_TYPE: 'sftp',
    RCLONE_CONFIG_STRATATEST_HOST: '127.0.0.1',
    RCLONE_CONFIG_STRATATEST_PORT: String(server.port),
    RCLONE_CONFIG_STRATATEST_USER: 'root',
    RCLONE_CONFIG_STRATATEST_KEY_FILE: server.key,
    RCLONE_CONFIG: path.join(root, 'rclone.conf'),
    RESTIC_CACHE_DIR: path.join(root, 'restic-cache'),
  };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    const { svc, volumes } = makeService(path.join(root, 'engine'));
    const remoteDir = path.join(root, 'remote-store');
    const repository = `rclone:stratatest:${remoteDir}`;
    const vol = await volumes.create({ name: 'app' });
    fillTree(vol.mountpoint, { absoluteLink: true });
    const { backups } = await svc.backup(['app'], { repository });
    assert.ok(fs.existsSync(path.join(remoteDir, 'config')), 'the repository lives on the SFTP side');
    const keys = fs.readdirSync(path.join(remoteDir, 'keys'));
    assert.equal(JSON.parse(fs.readFileSync(path.join(remoteDir, 'keys', keys[0]!), 'utf8')).N, LIGHT_KDF.N);
    const list = await svc.list({ repository });
    assert.deepEqual(
      list.map((b) => b.ID),
      [backups[0]!.ID],
    );
    await svc.restore('app', 'latest', { repository, target: 'app-copy' });
    assert.equal(manifest((await volumes.get('app-copy')).mountpoint), manifest(vol.mountpoint));
    await svc.verify({ repository });
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    server.proc.kill('SIGTERM');
    await new Promise((r) => server.proc.once('exit', r));
    if (server.madeRunDir) fs.rmSync('/run/sshd', { recursive: true, force: true });
    fs.rmSync(root, { recursive: true, force: true });
  }
});
