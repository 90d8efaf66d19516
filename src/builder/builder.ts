// The classic builder's step loop: every instruction starts from the current image of its
// stage and ends in a new image (its parent is the previous one), found in the cache when a
// child of the current image was made from an equal config, or committed otherwise. The
// instructions themselves are in instructions.ts; this file keeps the stages, build args,
// cache and commits.
import crypto from 'node:crypto';
import type { Readable } from 'node:stream';
import type { BuilderDeps } from './deps.js';
import type { ImageRecord, ImageRunConfig } from '../image/types.js';
import { NotFound } from '../errors.js';
import { parseLogicalLine, parseWords, type Instruction, type ParsedDockerfile } from './dockerfile.js';
import { processWord } from './shell-lex.js';
import { BuildOutput, shortId } from './output.js';
import { DEFAULT_PATH_ENV, copyRunConfig, ordered, sameConfig, toRunConfig, type RunConfig } from './run-config.js';
import { dispatch } from './instructions.js';
import { Workspace } from './workspace.js';
import { CacheSources } from './cache-from.js';
import { BuildContainer } from './build-container.js';
import { BuildError } from './build-error.js';
import { ContextContent } from './context-content.js';
import type { BuildOptions, StageState, StepHost } from './step-host.js';

export { BuildError } from './build-error.js';
export type { BuildOptions, StageState } from './step-host.js';

/** Proxy variables Docker passes to RUN without an ARG and never warns about. */
const BUILTIN_ARGS = new Set([
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
]);

export class Builder implements StepHost {
  readonly stages: StageState[] = [];
  readonly metaArgs = new Map<string, string | undefined>();
  private readonly declared = new Set<string>();
  escape = '\\';
  private step = 0;
  private total = 0;
  /** Dispatching a FROM image's ONBUILD triggers. */
  private inTriggers = false;
  private readonly cacheFrom: CacheSources;

  constructor(
    readonly deps: BuilderDeps,
    readonly opts: BuildOptions,
    readonly contextDir: string,
    readonly out: BuildOutput,
    /** Digests (and held bytes) of the context's files. */
    readonly context: ContextContent = new ContextContent(),
  ) {
    this.cacheFrom = new CacheSources(deps.images, opts.cacheFrom);
  }

  /** Runs the whole Dockerfile; resolves with the final image. */
  async build(df: ParsedDockerfile): Promise<ImageRecord> {
    this.escape = df.escape;
    let stages = df.stages;
    if (this.opts.target) {
      const i = stages.findIndex((s) => s.name === this.opts.target!.toLowerCase());
      if (i < 0) throw new BuildError(`failed to reach build target ${this.opts.target} in Dockerfile`);
      stages = stages.slice(0, i + 1);
    }
    const last = stages[stages.length - 1]!;
    for (const k of Object.keys(this.opts.labels).sort()) {
      // Docker appends one LABEL step per --label; the value is quoted so that it is taken as is.
      const ins = parseLogicalLine(`LABEL ${JSON.stringify(k)}='${this.opts.labels[k]}'`, 0);
      last.instructions.push({ ...ins, original: `LABEL ${k}=${this.opts.labels[k]}` });
    }
    this.total = df.metaArgs.length + stages.length + stages.reduce((n, s) => n + s.instructions.length, 0);

    for (const ins of df.metaArgs) {
      this.printStep(ins);
      for (const [k, v] of this.parseArgs(ins, this.metaEnv())) {
        this.declared.add(k);
        this.metaArgs.set(k, this.userArg(k) ?? v);
      }
    }
    for (const s of stages) {
      this.printStep(s.from);
      const state = await this.from(s.from, s.name);
      this.stages.push(state);
      for (const ins of s.instructions) {
        this.printStep(ins);
        await dispatch(this, state, ins);
      }
    }
    const final = this.stages[this.stages.length - 1]!.image;
    if (!final) throw new BuildError('No image was generated. Is your Dockerfile empty?');
    const unused = Object.keys(this.opts.buildArgs)
      .filter((k) => !this.declared.has(k) && !BUILTIN_ARGS.has(k))
      .sort();
    if (unused.length) this.out.stream(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
    return final;
  }

  private printStep(ins: Instruction): void {
    if (this.opts.signal?.aborted) throw new BuildError('context canceled');
    this.step++;
    this.out.stream(`Step ${this.step}/${this.total} : ${ins.original}`);
    this.out.stream('\n');
  }

  private userArg(name: string): string | undefined {
    const v = this.opts.buildArgs[name];
    return v === null ? undefined : v;
  }

  private metaEnv(): string[] {
    return [...this.metaArgs].filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  }

  /** `ARG a=1 b`: names with their defaults, expanded. */
  parseArgs(ins: Instruction, env: string[]): [string, string | undefined][] {
    const words = parseWords(ins.rest, this.escape);
    if (words.length === 0) throw new BuildError('ARG requires exactly one argument');
    return words.map((w) => {
      const i = w.indexOf('=');
      if (i < 0) return [w, undefined];
      return [w.slice(0, i), this.expand(w.slice(i + 1), env)];
    });
  }

  /** Declares stage ARGs: the user's --build-arg wins, then the default, then a global ARG's value. */
  declareArg(state: StageState, name: string, dflt: string | undefined): void {
    this.declared.add(name);
    state.args.set(name, this.userArg(name) ?? dflt ?? this.metaArgs.get(name));
  }

  expand(word: string, env: string[]): string {
    try {
      return processWord(word, env, this.escape);
    } catch (err) {
      throw new BuildError(`failed to process "${word}": ${(err as Error).message}`);
    }
  }

  /** What words are expanded with: ENV first (it wins), then the stage's build args. */
  envOf(state: StageState): string[] {
    return [...(state.config.Env ?? []), ...this.buildArgEnv(state)];
  }

  /** Build args declared in the stage with a value and not overridden by ENV, as `k=v`. */
  buildArgEnv(state: StageState): string[] {
    const envKeys = new Set((state.config.Env ?? []).map((e) => e.split('=')[0]));
    const out: string[] = [];
    for (const [k, v] of state.args) if (v !== undefined && !envKeys.has(k)) out.push(`${k}=${v}`);
    for (const k of BUILTIN_ARGS) {
      const v = this.userArg(k);
      if (v !== undefined && !state.args.has(k) && !envKeys.has(k)) out.push(`${k}=${v}`);
    }
    return out;
  }

  private async from(ins: Instruction, name?: string): Promise<StageState> {
    const ref = this.expand(ins.rest.split(/\s+/)[0]!, this.metaEnv());
    let image: ImageRecord | undefined;
    const stage = this.stageByName(ref);
    if (stage) image = stage.image;
    else if (ref.toLowerCase() !== 'scratch') image = await this.resolveImage(ref);
    const config = toRunConfig(image?.config.config, image?.id ?? '');
    if (!image) config.Env = [DEFAULT_PATH_ENV];
    const state: StageState = { name, image, config, cmdSet: false, args: new Map() };
    const triggers = config.OnBuild ?? [];
    config.OnBuild = null;
    if (triggers.length > 0) {
      // The triggers are part of the FROM step: its one ` ---> <id>` line comes after them.
      this.out.stream(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
      this.inTriggers = true;
      try {
        for (const t of triggers) await dispatch(this, state, parseLogicalLine(t, 0));
      } finally {
        this.inTriggers = false;
      }
    }
    this.out.stream(` ---> ${state.image ? shortId(state.image.id) : ''}\n`);
    return state;
  }

  stageByName(ref: string): StageState | undefined {
    const lower = ref.toLowerCase();
    return this.stages.find((s) => s.name === lower) ?? (/^\d+$/.test(ref) ? this.stages[Number(ref)] : undefined);
  }

  async resolveImage(ref: string): Promise<ImageRecord> {
    try {
      return await this.deps.images.resolve(ref);
    } catch (err) {
      if (!(err instanceof NotFound)) throw err;
    }
    const pull = this.deps.pull;
    if (!pull) {
      const repo = ref.split('@')[0]!.replace(/:[^/]*$/, '');
      throw new BuildError(
        `pull access denied for ${repo}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`,
      );
    }
    // As the classic builder does: an absent FROM image is pulled, its progress in the build's output.
    try {
      await pull(ref, (msg) => this.out.progress(msg));
    } catch (err) {
      throw new BuildError((err as Error).message);
    }
    return this.deps.images.resolve(ref);
  }

  shell(state: StageState): string[] {
    return state.config.Shell?.length ? [...state.config.Shell] : ['/bin/sh', '-c'];
  }

  /** The legacy cache: the newest child of the current image made from an equal container config. */
  async probeCache(state: StageState, probe: RunConfig): Promise<boolean> {
    if (this.opts.noCache) return false;
    const parent = state.image?.id ?? '';
    const hits = (await this.deps.images.list())
      .filter((img) => img.parent === parent && sameConfig(img.config.container_config as Record<string, any>, probe))
      .sort((a, b) => String(b.config.created ?? '').localeCompare(String(a.config.created ?? '')));
    let hit: ImageRecord | undefined = hits[0];
    if (this.cacheFrom.active) {
      if (hit && !(await this.cacheFrom.allows(hit))) hit = undefined;
      hit ??= await this.cacheFrom.lookup(state.image, probe, state.config);
    }
    if (!hit) return false;
    this.out.stream(' ---> Using cache\n');
    state.image = hit;
    this.finishStep(state);
    return true;
  }

  /** A metadata instruction: cached, or a new image with an empty layer. */
  async commitMetadata(state: StageState, comment: string, joined = false): Promise<void> {
    const cmd = [...this.shell(state), ...(joined ? [`#(nop) ${comment}`] : ['#(nop) ', comment])];
    const probe = copyRunConfig(state.config, { Cmd: cmd });
    if (await this.probeCache(state, probe)) return;
    if (state.image) {
      // As in Docker, a container is made (never started) and committed.
      await this.inContainer(state, probe, cmd, [], async () => undefined);
      return;
    }
    // A `FROM scratch` stage has no image to make a container of yet.
    const cid = newContainerId();
    this.out.stream(` ---> Running in ${shortId(cid)}\n`);
    await this.commit(state, probe, undefined, cid);
    if (this.opts.rm || this.opts.forceRm) this.out.stream(`Removing intermediate container ${shortId(cid)}\n`);
    this.finishStep(state);
  }

  /**
   * A step in an intermediate container of the stage's image running `cmd` (with build-arg
   * `env`): `fn` does the work and gives the layer, which is committed with `probe` as the
   * cache key. The container is removed after a good step unless --rm=false, and after a failed
   * one only with --force-rm, as Docker leaves it.
   */
  async inContainer(
    state: StageState,
    probe: RunConfig,
    cmd: string[],
    env: string[],
    fn: (c: BuildContainer) => Promise<Readable | undefined>,
  ): Promise<void> {
    const c = await BuildContainer.create(this.deps, this.opts, state.config, state.image!.id, cmd, env);
    this.out.stream(` ---> Running in ${shortId(c.id)}\n`);
    let done = false;
    try {
      await this.commit(state, probe, await fn(c), c.id);
      done = true;
    } finally {
      if (done ? this.opts.rm || this.opts.forceRm : this.opts.forceRm) {
        // After a failed step, a removal that fails too must not hide why the step failed.
        await c.remove().catch((err: unknown) => {
          if (done) throw err;
          this.deps.log.warn(`build: removing container ${c.id}: ${(err as Error).message}`);
        });
        this.out.stream(`Removing intermediate container ${shortId(c.id)}\n`);
      }
    }
    this.finishStep(state);
  }

  /** WORKDIR-like steps that change files without running anything: cached, or committed from a workspace. */
  async commitWorkspace(
    state: StageState,
    probe: RunConfig,
    cid: string | undefined,
    fn: (ws: Workspace) => Promise<void>,
  ): Promise<void> {
    const ws = await Workspace.open(this.deps, state.image);
    try {
      await fn(ws);
      await this.commit(state, probe, await ws.layer(), cid);
    } finally {
      await ws.remove();
    }
  }

  /** Creates the step's image on the current one and makes it current. */
  async commit(state: StageState, probe: RunConfig, layer: Readable | undefined, cid?: string): Promise<void> {
    const parent = state.image?.id ?? '';
    const config = ordered({ ...state.config, Image: parent });
    const containerConfig = ordered({
      ...probe,
      Image: parent,
      Hostname: cid && !layer ? shortId(cid) : probe.Hostname,
    });
    const history = { created_by: (probe.Cmd ?? []).join(' '), ...(layer ? {} : { empty_layer: true }) };
    state.image = await this.deps.images.create({
      parentId: state.image?.id,
      layer,
      config: config as unknown as ImageRunConfig,
      history,
      extra: {
        container: cid ?? '',
        container_config: containerConfig,
        ...(state.author ? { author: state.author } : {}),
      },
    });
  }

  /** The step's ` ---> <id>` line (one for a FROM and all its triggers). */
  finishStep(state: StageState): void {
    if (!this.inTriggers) this.out.stream(` ---> ${shortId(state.image!.id)}\n`);
  }
}

export function newContainerId(): string {
  return crypto.randomBytes(32).toString('hex');
}
