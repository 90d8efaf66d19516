// `docker build` with the classic builder: the context is unpacked, the Dockerfile parsed (a
// bad context or Dockerfile fails the request before any output, as in Docker), then the steps
// stream their progress and the final image gets the requested tags. A failed build tags
// nothing; its committed steps stay as untagged images, which is what the cache reuses.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { BuilderDeps } from './deps.js';
import type { BuildBackend, PreparedBuild } from './backend.js';
import { familiar, normalizeTagged } from '../image/reference.js';
import { Builder, BuildError, type BuildOptions } from './builder.js';
import { extractContext, readDockerfile, readDockerignore } from './context.js';
import { ContextContent } from './context-content.js';
import { RecentContent } from './recent-content.js';
import { parseDockerfile, type ParsedDockerfile } from './dockerfile.js';
import { BuildOutput, shortId, type JsonWriter } from './output.js';

/** The builder, built once by the daemon: it keeps the files of recent builds (see RecentContent). */
export class BuilderService implements BuildBackend {
  private readonly recent = new RecentContent();

  constructor(private readonly deps: BuilderDeps) {}

  /** Unpacks the context and parses the Dockerfile; throws (→ an HTTP error) when either is unusable. */
  prepare(context: Readable, dockerfileName: string | null, opts: BuildOptions): Promise<PreparedBuild> {
    return prepareBuild(this.deps, this.recent, context, dockerfileName, opts);
  }
}

async function prepareBuild(
  engine: BuilderDeps,
  recent: RecentContent,
  context: Readable,
  dockerfileName: string | null,
  opts: BuildOptions,
): Promise<PreparedBuild> {
  const tags = opts.tags.map((t) => normalizeTagged(t));
  const contextDir = path.join(engine.dataRoot, 'tmp', `build-context-${crypto.randomBytes(12).toString('hex')}`);
  fs.mkdirSync(contextDir, { recursive: true, mode: 0o700 });
  const content = new ContextContent(recent);
  // Removed in the background: the client has its answer by then.
  const dispose = () => {
    content.release();
    fs.rm(contextDir, { recursive: true, force: true }, () => undefined);
  };
  try {
    const started = performance.now();
    await extractContext(context, contextDir, content);
    engine.log.debug(`build: context unpacked in ${(performance.now() - started).toFixed(1)}ms`);
    const { text, name } = readDockerfile(contextDir, dockerfileName);
    const dockerfile = parseDockerfile(text);
    dropIgnoredBuildFiles(contextDir, name);
    return {
      dispose,
      run: (write) => runBuild(engine, contextDir, content, dockerfile, opts, tags, write),
    };
  } catch (err) {
    dispose();
    throw err;
  }
}

/** The Dockerfile and .dockerignore leave the context when .dockerignore names them, as Docker does. */
function dropIgnoredBuildFiles(contextDir: string, dockerfile: string): void {
  const patterns = readDockerignore(contextDir);
  for (const f of ['.dockerignore', dockerfile]) {
    if (patterns.some((p) => p.replace(/^\//, '') === f)) fs.rmSync(path.join(contextDir, f), { force: true });
  }
}

async function runBuild(
  engine: BuilderDeps,
  contextDir: string,
  content: ContextContent,
  df: ParsedDockerfile,
  opts: BuildOptions,
  tags: string[],
  write: JsonWriter,
): Promise<string | undefined> {
  const out = new BuildOutput(write, opts.quiet);
  try {
    const builder = new Builder(engine, opts, contextDir, out, content);
    const started = performance.now();
    const image = await builder.build(df);
    engine.log.debug(`build: steps done in ${(performance.now() - started).toFixed(1)}ms`);
    out.aux({ ID: image.id });
    if (opts.quiet) out.result(`${image.id}\n`);
    else out.stream(`Successfully built ${shortId(image.id)}\n`);
    for (const t of tags) {
      await engine.images.tag(image.id, t);
      if (!opts.quiet) out.stream(`Successfully tagged ${familiar(t)}\n`);
    }
    return image.id;
  } catch (err) {
    if (!(err instanceof BuildError)) engine.log.warn(`build: ${(err as Error)?.stack ?? err}`);
    out.error((err as Error).message ?? String(err), err instanceof BuildError ? err.code : undefined);
    return undefined;
  }
}
