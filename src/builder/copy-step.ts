// COPY and ADD: sources from the build context or, with --from, from another stage's (or an
// image's) root mounted read-only; the cache key carries the sources' content hash in the
// command comment (`COPY file:<sha256> in /dst `), so a changed file misses the cache.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Instruction } from './dockerfile.js';
import { parseJSONOrWords } from './dockerfile.js';
import { BuildError } from './build-error.js';
import type { StepHost, StageState } from './step-host.js';
import { copyRunConfig } from './run-config.js';
import { resolveSources, sourcesHash, type CopySource } from './copy-sources.js';
import { copyIntoRoot } from './copy-into.js';
import { readFileInRoot } from '../runtime/rootfs-path.js';
import { mountAll, unmount } from '../mount/kernel.js';
import { StrataError } from '../errors.js';
import { lazyUnmountOnExit } from './exit-hooks.js';
import { EXTRACT_KEY_PREFIX } from '../snapshot/snapshotter.js';

const isURL = (s: string) => /^https?:\/\//i.test(s);

export async function copyStep(b: StepHost, s: StageState, ins: Instruction): Promise<void> {
  const kw = ins.keyword;
  const env = b.envOf(s);
  const words = parseJSONOrWords(ins.rest).map((w) => b.expand(w, env));
  if (words.length < 2) throw new BuildError(`${kw} requires at least two arguments`);
  const destArg = words.pop()!;
  for (const src of words) {
    if (!isURL(src)) continue;
    if (kw === 'COPY') throw new BuildError(`${kw} failed: source can't be a URL for COPY`);
    throw new BuildError(
      `${kw} failed: cannot download ${src}: remote URLs are not supported (this daemon has no network access for builds)`,
    );
  }
  const from = ins.flags.get('from');
  if (from !== undefined && kw === 'ADD') throw new BuildError('ADD does not support the --from flag');
  const chown = ins.flags.has('chown') ? b.expand(ins.flags.get('chown')!, env) : undefined;
  const chmodFlag = ins.flags.get('chmod');
  let chmod: number | undefined;
  if (chmodFlag !== undefined) {
    if (!/^[0-7]{1,4}$/.test(chmodFlag)) throw new BuildError(`invalid chmod parameter: ${chmodFlag}`);
    chmod = parseInt(chmodFlag, 8);
  }

  const source = from !== undefined ? await mountFrom(b, from) : { root: b.contextDir, release: async () => undefined };
  try {
    let sources: CopySource[];
    try {
      sources = resolveSources(source.root, words, from === undefined ? b.context.sums : undefined);
    } catch (err) {
      if (err instanceof StrataError) throw new BuildError(`${kw} failed: ${err.message}`);
      throw err;
    }
    const hash = sourcesHash(sources);
    const comment = `${kw} ${hash} in ${destArg} `;
    const probe = copyRunConfig(s.config, { Cmd: [...b.shell(s), `#(nop) ${comment}`] });
    if (await b.probeCache(s, probe)) return;

    const dest = normalizeDest(s.config.WorkingDir, destArg);
    if (from === undefined) for (const src of sources) b.context.fill(src.host);
    await b.commitWorkspace(s, probe, undefined, async (ws) => {
      const owner = chown === undefined ? { uid: 0, gid: 0 } : parseChown(ws.rootfs, chown, kw);
      try {
        await copyIntoRoot(ws.rootfs, sources, dest, { ...owner, chmod, extractArchives: kw === 'ADD' });
      } catch (err) {
        throw new BuildError(`${kw} failed: ${(err as Error).message}`);
      }
    });
    b.finishStep(s);
  } finally {
    await source.release();
  }
}

/** A relative destination is under WORKDIR; a trailing slash (a directory) is kept. */
function normalizeDest(workdir: string, dest: string): string {
  if (dest.startsWith('/')) return dest;
  const joined = path.posix.join('/', workdir || '/', dest);
  return dest.endsWith('/') || dest === '.' ? (joined.endsWith('/') ? joined : joined + '/') : joined;
}

/** `--chown=user[:group]`, names looked up in the image's own /etc/passwd and /etc/group. */
function parseChown(root: string, spec: string, kw: string): { uid: number; gid: number } {
  const [user = '', group = user] = spec.split(':', 2);
  const lookup = (file: string, name: string, what: string): number => {
    if (/^\d+$/.test(name)) return Number(name);
    const line = (readFileInRoot(root, file) ?? '').split('\n').find((l) => l.split(':')[0] === name);
    const id = line ? Number(line.split(':')[2]) : NaN;
    if (!Number.isInteger(id)) {
      throw new BuildError(
        `${kw} failed: unable to convert uid/gid chown string to host mapping: can't find ${what} for user ${name}: no such ${what === 'uid' ? 'user' : 'group'}: ${name}`,
      );
    }
    return id;
  };
  return { uid: lookup('/etc/passwd', user, 'uid'), gid: lookup('/etc/group', group, 'gid') };
}

/** The root of a previous stage's image (or any image) for --from, as a read-only mount. */
async function mountFrom(b: StepHost, from: string): Promise<{ root: string; release: () => Promise<void> }> {
  const stage = b.stageByName(from);
  const image = stage ? stage.image : await b.resolveImage(from);
  const id = crypto.randomBytes(16).toString('hex');
  const dir = path.join(b.deps.execRoot, 'build', `from-${id}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!image?.topChainID) return { root: dir, release: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  const key = `${EXTRACT_KEY_PREFIX}build-from-${id}`;
  const snapshotter = b.deps.snapshotter;
  try {
    await mountAll(await snapshotter.view(key, image.topChainID), dir);
  } catch (err) {
    await snapshotter.remove(key).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const forgetExitHook = lazyUnmountOnExit(dir);
  return {
    root: dir,
    release: async () => {
      forgetExitHook();
      await unmount(dir).catch(() => unmount(dir, { lazy: true }));
      await snapshotter.remove(key).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
