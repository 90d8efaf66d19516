// The classic builder's intermediate containers. RUN and the metadata steps run as containers
// of the container service, as in Docker: they show in `docker ps -a` and `docker events` while
// they exist, the image's VOLUMEs are mounted as anonymous volumes (so what a step writes under
// a VOLUME path never reaches the image), and a step that fails leaves its container behind for
// inspection (unless --force-rm), as --rm=false leaves every one.
import { validateExtraHosts } from '../container/extra-hosts.js';
import type { Readable } from 'node:stream';
import type { BuilderDeps, BuildContainers } from './deps.js';
import type { ContainerRecord } from '../container/types.js';
import { stepLayer } from './workspace.js';
import type { RunConfig } from './run-config.js';

/** What the build request says about its containers. */
export interface BuildContainerOptions {
  networkMode: string;
  /** The build request's API version: containers are created as that client would create them. */
  apiVersion: string;
  /** `--add-host` entries for the container's /etc/hosts. */
  extraHosts: string[];
}

export class BuildContainer {
  private constructor(
    private readonly containers: BuildContainers,
    private readonly deps: BuilderDeps,
    readonly rec: ContainerRecord,
  ) {}

  get id(): string {
    return this.rec.id;
  }

  /**
   * A container of the step's config on `image`. `cmd` is what it runs (for RUN, the command;
   * for other steps, the `#(nop)` line), with extra `env` (build args) that the image will not keep.
   */
  static async create(
    deps: BuilderDeps,
    opts: BuildContainerOptions,
    config: RunConfig,
    image: string,
    cmd: string[],
    env: string[] = [],
  ): Promise<BuildContainer> {
    // dockerd refuses bad entries before the step's container exists, so none is left behind.
    validateExtraHosts(opts.extraHosts);
    const containers = deps.containers;
    const rec = await containers.create(
      {
        Config: {
          ...config,
          Image: image,
          Cmd: cmd,
          // [""] is "no entrypoint" (the image's is not taken); an empty list would mean "the image's".
          Entrypoint: [''],
          Env: [...(config.Env ?? []), ...env],
          // Build steps never run a health check, as in Docker.
          Healthcheck: { Test: ['NONE'] },
        },
        // Docker's build containers log nothing: the output goes to the build stream only.
        HostConfig: {
          NetworkMode: opts.networkMode,
          LogConfig: { Type: 'none', Config: {} },
          ExtraHosts: opts.extraHosts,
        },
      },
      null,
      opts.apiVersion,
    );
    return new BuildContainer(containers, deps, rec);
  }

  /** Runs the command to its end, output as it comes; resolves with the exit code. Aborting kills it. */
  async run(onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void, signal?: AbortSignal): Promise<number> {
    const detach = this.containers.attachOutput(this.id, { output: onOutput, end: () => undefined });
    const onAbort = () => void this.containers.kill(this.id, 'KILL').catch(() => undefined);
    try {
      const { done } = this.containers.waitFor(this.id, 'next-exit');
      await this.containers.start(this.id);
      signal?.addEventListener('abort', onAbort, { once: true });
      return await done;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      detach();
    }
  }

  /** Runs `fn` on the container's root filesystem (mounted, not running). */
  withRootfs<T>(fn: (rootfs: string) => Promise<T>): Promise<T> {
    return this.containers.withRootfs(this.id, (rootfs) => fn(rootfs));
  }

  /** What the container changed, as a layer tar; undefined when nothing (an empty layer). */
  layer(): Promise<Readable | undefined> {
    return stepLayer(this.deps.snapshotter, this.rec.snapshotKey);
  }

  /** Removes the container with its anonymous volumes, as the builder does. */
  async remove(): Promise<void> {
    await this.containers.remove(this.id, { force: true, volumes: true });
  }
}
