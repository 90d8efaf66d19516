import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mergeConfig, readConfigFile } from '../../src/system/daemon-config.js';

// Every file goes in its own temp dir, all removed when the file's tests end.
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

const write = (obj: unknown): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-config-'));
  dirs.push(dir);
  const file = path.join(dir, 'daemon.json');
  fs.writeFileSync(file, typeof obj === 'string' ? obj : JSON.stringify(obj));
  return file;
};

test('a missing default file is empty; a missing explicit file is an error', () => {
  assert.deepEqual(readConfigFile('/nonexistent/daemon.json', false), {});
  assert.throws(
    () => readConfigFile('/nonexistent/daemon.json', true),
    /unable to configure the Docker daemon with file/,
  );
});

test("unknown keys are refused with Docker's words", () => {
  const file = write({ 'data-root': '/x', foo: 1, bar: 2 });
  assert.throws(
    () => readConfigFile(file, true),
    /the following directives don't match any configuration option: foo, bar/,
  );
  assert.throws(() => readConfigFile(write('{nope'), true), /unable to configure/);
});

test('file values apply; the same setting as flag and in the file is a conflict', () => {
  const file = write({ 'data-root': '/from/file', 'storage-driver': 'vfs', hosts: ['unix:///s.sock'] });
  const cfg = readConfigFile(file, true);
  const merged = mergeConfig(
    { dataRoot: '/var/lib/strata', logLevel: 'info' } as Record<string, unknown>,
    new Set(),
    cfg,
    file,
  );
  assert.equal(merged.dataRoot, '/from/file');
  assert.equal(merged.storageDriver, 'vfs');
  assert.equal(merged.host, 'unix:///s.sock');
  assert.throws(
    () => mergeConfig({ dataRoot: '/flag' } as Record<string, unknown>, new Set(['dataRoot']), cfg, file),
    /specified both as a flag and in the configuration file: data-root: \(from flag: \/flag, from file: "\/from\/file"\)/,
  );
});

test('insecure-registries and registry-mirrors are lists of strings', () => {
  const file = write({
    'insecure-registries': ['10.0.0.0/8', 'reg.example:5000'],
    'registry-mirrors': ['https://mirror.example'],
  });
  const merged = mergeConfig({} as Record<string, unknown>, new Set(), readConfigFile(file, true), file);
  assert.deepEqual(merged.insecureRegistries, ['10.0.0.0/8', 'reg.example:5000']);
  assert.deepEqual(merged.registryMirrors, ['https://mirror.example']);
  const bad = write({ 'insecure-registries': 'reg.example:5000' });
  assert.throws(
    () => mergeConfig({} as Record<string, unknown>, new Set(), readConfigFile(bad, true), bad),
    /insecure-registries must be a list of strings/,
  );
});
