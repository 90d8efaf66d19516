// Paths inside a container root: symlinks are resolved inside the root, never on the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mkdirInRoot, readFileInRoot, secureJoin } from '../../src/runtime/rootfs-path.js';
import { resolveUser } from '../../src/runtime/user.js';
import { sortMounts, capabilities } from '../../src/runtime/oci-spec.js';

function tree(t: { after(fn: () => void): void }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-rootfs-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'root');
  const victim = path.join(dir, 'victim');
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.mkdirSync(victim);
  fs.writeFileSync(path.join(victim, 'passwd'), 'evil:x:0:0::/:/bin/sh\n');
  return { root, victim };
}

test('absolute, relative and dot-dot symlinks stay inside the root', (t) => {
  const { root, victim } = tree(t);
  fs.symlinkSync('/', path.join(root, 'abs'));
  fs.symlinkSync('../../../../..', path.join(root, 'up'));
  fs.symlinkSync(victim, path.join(root, 'host'));
  assert.equal(secureJoin(root, '/abs/etc'), path.join(root, 'etc'));
  assert.equal(secureJoin(root, '/up/etc'), path.join(root, 'etc'));
  assert.equal(secureJoin(root, '/../../etc'), path.join(root, 'etc'));
  assert.equal(secureJoin(root, '/host/passwd'), path.join(root, victim, 'passwd'));
});

test('mkdirInRoot creates through links inside the root, never beside it', (t) => {
  const { root, victim } = tree(t);
  fs.symlinkSync(victim, path.join(root, 'work'));
  const made = mkdirInRoot(root, '/work/sub');
  assert.ok(made.startsWith(root + '/'));
  assert.deepEqual(fs.readdirSync(victim), ['passwd']);
});

test('the user database is read from the root, not through a link to the host', (t) => {
  const { root, victim } = tree(t);
  fs.symlinkSync(path.join(victim, 'passwd'), path.join(root, 'etc/passwd'));
  assert.equal(readFileInRoot(root, '/etc/passwd'), undefined);
  assert.throws(() => resolveUser(root, 'evil'), /unable to find user evil: no matching entries in passwd file/);
  fs.rmSync(path.join(root, 'etc/passwd'));
  fs.writeFileSync(
    path.join(root, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n',
  );
  fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\napp:x:1000:\nwheel:x:10:app\n');
  assert.deepEqual(resolveUser(root, 'app'), { uid: 1000, gid: 1000, additionalGids: [1000, 10], home: '/home/app' });
  assert.deepEqual(resolveUser(root, '1234:5678'), { uid: 1234, gid: 5678, additionalGids: [5678], home: '/' });
  assert.deepEqual(resolveUser(root, 'app:wheel').gid, 10);
  assert.throws(() => resolveUser(root, 'app:nogroup'), /unable to find group nogroup/);
});

test('mounts sort parents first; capabilities follow --cap-add/--cap-drop', () => {
  const m = (d: string) => ({ destination: d, type: 'bind', source: '/x', options: [] });
  assert.deepEqual(
    sortMounts([m('/a/b/c'), m('/a'), m('/a/b')]).map((x) => x.destination),
    ['/a', '/a/b', '/a/b/c'],
  );
  const caps = capabilities({ capAdd: ['SYS_ADMIN'], capDrop: ['chown', 'CAP_KILL'] });
  assert.ok(caps.includes('CAP_SYS_ADMIN'));
  assert.ok(!caps.includes('CAP_CHOWN') && !caps.includes('CAP_KILL'));
  assert.deepEqual(capabilities({ capDrop: ['ALL'], capAdd: ['NET_RAW'] }), ['CAP_NET_RAW']);
});
