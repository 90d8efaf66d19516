// What a daemon loads before its first request: the builder, backup and distribution rooms are
// loaded at their first call (util/deferred.ts), so the modules the daemon's entry imports
// must reach none of them, not even through a helper. A child process imports the daemon, and
// the rooms a start loads (runDaemon loads them while it probes), with a module loader hook
// that lists every project module it loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const srcUrl = new URL('../../src/', import.meta.url).href;

/** The project modules (relative to src/) that importing `entry` loads, in load order. */
function loadedBy(entry: string): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-loaded-'));
  try {
    const list = path.join(dir, 'loaded');
    fs.writeFileSync(list, '');
    const hook = [
      "import { appendFileSync } from 'node:fs';",
      'export async function load(url, context, next) {',
      `  if (url.startsWith(${JSON.stringify(srcUrl)}))`,
      `    appendFileSync(${JSON.stringify(list)}, url.slice(${srcUrl.length}) + '\\n');`,
      '  return next(url, context);',
      '}',
    ].join('\n');
    const script = [
      "import { register } from 'node:module';",
      `register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));`,
      `const m = await import(${JSON.stringify(new URL(entry, srcUrl).href)});`,
      "if (typeof m.loadRooms === 'function') await m.loadRooms();",
    ].join('\n');
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, stdio: 'pipe' });
    return fs.readFileSync(list, 'utf8').split('\n').filter(Boolean);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('the daemon and its API load no module of the builder, backup or distribution rooms', () => {
  const loaded = loadedBy('daemon.js');
  // The hook saw the whole graph: the API's routes and the eagerly built network room are in it.
  assert.ok(loaded.includes('api/routes.js'), loaded.join(' '));
  assert.ok(loaded.includes('network/service.js'), loaded.join(' '));
  assert.deepEqual(
    loaded.filter((m) => /^(builder|backup|distribution)\//.test(m)),
    [],
    'loaded at their first call instead',
  );
});

test('a start loads none of the archive room, nor the verbs that need it: they load at their first call', () => {
  const loaded = loadedBy('daemon.js');
  assert.ok(loaded.includes('image/layer-store.js'), loaded.join(' '));
  assert.ok(loaded.includes('container/service.js'), loaded.join(' '));
  assert.deepEqual(
    loaded.filter(
      (m) =>
        (/^archive\//.test(m) && m !== 'archive/lazy.js') ||
        /^system\/check\//.test(m) ||
        /^image\/(load|save|archive-reader)\.js$/.test(m) ||
        /^container\/(archive|changes|commit)-ops\.js$/.test(m),
    ),
    [],
  );
});
