// What a step (instructions.ts, copy-step.ts) may ask of the build that runs it. Declared apart
// from the Builder so the steps and the builder do not import each other.
import type { Readable } from 'node:stream';
import type { ImageRecord } from '../image/types.js';
import type { Instruction } from './dockerfile.js';
import type { BuildOutput } from './output.js';
import type { RunConfig } from './run-config.js';
import type { ContextContent } from './context-content.js';
import type { BuilderDeps } from './deps.js';
import type { BuildContainer } from './build-container.js';
import type { Workspace } from './workspace.js';

export interface BuildOptions {
  tags: string[];
  buildArgs: Record<string, string | null>;
  labels: Record<string, string>;
  target?: string;
  noCache: boolean;
  rm: boolean;
  forceRm: boolean;
  quiet: boolean;
  /** Aborted when the client disconnects: the build stops at the next step (a RUN is stopped). */
  signal?: AbortSignal;
  /** The network the build's containers get (`--network`; Docker's `default` when not given). */
  networkMode: string;
  /** The request's API version, which the build's containers are created with. */
  apiVersion: string;
  /** `--add-host` entries, in the /etc/hosts of every RUN step. */
  extraHosts: string[];
  /** `--cache-from` images: cache sources beside the local parent chains. */
  cacheFrom: string[];
}

export interface StageState {
  name?: string;
  /** The stage's current image; undefined while a `FROM scratch` stage has committed nothing. */
  image?: ImageRecord;
  config: RunConfig;
  /** CMD given in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
  /** ARGs declared in this stage and their values. */
  args: Map<string, string | undefined>;
  author?: string;
}

export interface StepHost {
  readonly deps: BuilderDeps;
  readonly opts: BuildOptions;
  readonly out: BuildOutput;
  readonly contextDir: string;
  /** Digests (and held bytes) of the context's files. */
  readonly context: ContextContent;
  /** The Dockerfile's escape character. */
  readonly escape: string;
  parseArgs(ins: Instruction, env: string[]): [string, string | undefined][];
  declareArg(state: StageState, name: string, dflt: string | undefined): void;
  expand(word: string, env: string[]): string;
  envOf(state: StageState): string[];
  buildArgEnv(state: StageState): string[];
  stageByName(ref: string): StageState | undefined;
  resolveImage(ref: string): Promise<ImageRecord>;
  shell(state: StageState): string[];
  probeCache(state: StageState, probe: RunConfig): Promise<boolean>;
  commitMetadata(state: StageState, comment: string, joined?: boolean): Promise<void>;
  inContainer(
    state: StageState,
    probe: RunConfig,
    cmd: string[],
    env: string[],
    fn: (c: BuildContainer) => Promise<Readable | undefined>,
  ): Promise<void>;
  commitWorkspace(
    state: StageState,
    probe: RunConfig,
    cid: string | undefined,
    fn: (ws: Workspace) => Promise<void>,
  ): Promise<void>;
  finishStep(state: StageState): void;
}
