// docker exec: instances created against a running container, started through the runtime
// (runc exec) with the container's capabilities, environment and user database.
import { randomBytes } from 'node:crypto';
import { Conflict, NotFound } from '../errors.js';
import { buildExecProcess, capabilities } from '../runtime/oci-spec.js';
import { parseSecurityOpts } from './security-opts.js';
import { resolveUser } from '../runtime/user.js';
import type { RuntimeProcess } from '../runtime/types.js';
import type { Ctx } from './context.js';
import { emit } from './context.js';
import { processEnv } from './config-merge.js';
import type { ContainerRecord } from './types.js';

export interface ExecConfig {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  Cmd?: string[];
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  Privileged?: boolean;
  DetachKeys?: string;
  ConsoleSize?: [number, number] | null;
}

export interface ExecInstance {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  started: boolean;
  exitCode: number | null;
  pid: number;
  proc?: RuntimeProcess;
  done?: Promise<number>;
}

export class ExecStore {
  private readonly execs = new Map<string, ExecInstance>();

  constructor(private readonly ctx: Ctx) {}

  create(rec: ContainerRecord, config: ExecConfig): ExecInstance {
    if (!rec.state.Running) throw new Conflict(`Container ${rec.id} is not running`);
    if (rec.state.Status === 'paused')
      throw new Conflict(`Container ${rec.id} is paused, unpause the container before exec`);
    if (!config.Cmd || config.Cmd.length === 0) throw new Conflict('No exec command specified');
    const inst: ExecInstance = {
      id: randomBytes(32).toString('hex'),
      containerId: rec.id,
      config,
      running: false,
      started: false,
      exitCode: null,
      pid: 0,
    };
    this.execs.set(inst.id, inst);
    (rec.execIds ??= []).push(inst.id);
    emit(this.ctx, `exec_create: ${config.Cmd.join(' ')}`, rec, { execID: inst.id });
    return inst;
  }

  get(id: string): ExecInstance {
    const inst = this.execs.get(id);
    if (!inst) throw new NotFound(`No such exec instance: ${id}`);
    return inst;
  }

  /** Starts the process; the caller wires its streams. */
  async start(inst: ExecInstance): Promise<RuntimeProcess> {
    if (inst.started) throw new Conflict(`Error: Exec command ${inst.id} has already run`);
    const rec = this.ctx.store.get(inst.containerId);
    if (!rec.state.Running) throw new Conflict(`Container ${rec.id} is not running`);
    inst.started = true;
    const cfg = inst.config;
    const c = rec.config;
    const user = resolveUser(rec.rootfsPath, cfg.User || c.User, rec.hostConfig.GroupAdd ?? []);
    const env = processEnv(
      { Env: [...(this.ctx.live.get(rec.id)?.linkEnv ?? []), ...(c.Env ?? []), ...(cfg.Env ?? [])] },
      String(c.Hostname),
      !!cfg.Tty,
    );
    const caps = capabilities({
      privileged: cfg.Privileged || rec.hostConfig.Privileged,
      capAdd: rec.hostConfig.CapAdd,
      capDrop: rec.hostConfig.CapDrop,
    });
    // An exec runs under the container's seccomp filter (runc applies it) and no_new_privs.
    const { noNewPrivileges } = parseSecurityOpts(rec.hostConfig.SecurityOpt);
    const size =
      cfg.ConsoleSize && cfg.ConsoleSize[0] ? { height: cfg.ConsoleSize[0], width: cfg.ConsoleSize[1] } : undefined;
    const spec = buildExecProcess({
      args: cfg.Cmd!,
      env,
      cwd: cfg.WorkingDir || c.WorkingDir || '/',
      tty: !!cfg.Tty,
      capabilities: caps,
      noNewPrivileges,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      consoleSize: size,
    });
    emit(this.ctx, `exec_start: ${cfg.Cmd!.join(' ')}`, rec, { execID: inst.id });
    let proc: RuntimeProcess;
    try {
      proc = await this.ctx.runtime.exec(rec.id, inst.id, spec, { tty: !!cfg.Tty, stdin: !!cfg.AttachStdin, size });
    } catch (err) {
      inst.exitCode = 126;
      this.finish(inst, rec);
      throw err;
    }
    inst.proc = proc;
    inst.pid = proc.pid;
    inst.running = true;
    inst.done = proc.exited.then((code) => {
      inst.exitCode = code;
      inst.running = false;
      inst.proc = undefined;
      this.finish(inst, rec);
      emit(this.ctx, 'exec_die', rec, { execID: inst.id, exitCode: String(code) });
      return code;
    });
    return proc;
  }

  /** Docker keeps finished exec instances inspectable for a while; the container's list drops them. */
  private finish(inst: ExecInstance, rec: ContainerRecord): void {
    rec.execIds = (rec.execIds ?? []).filter((x) => x !== inst.id);
    setTimeout(() => this.execs.delete(inst.id), 5 * 60_000).unref();
  }

  /** Drops every instance of a removed container. */
  forget(containerId: string): void {
    for (const [id, inst] of this.execs) if (inst.containerId === containerId && !inst.running) this.execs.delete(id);
  }

  inspect(inst: ExecInstance): Record<string, unknown> {
    const cmd = inst.config.Cmd ?? [];
    return {
      ID: inst.id,
      Running: inst.running,
      ExitCode: inst.exitCode,
      ProcessConfig: {
        tty: !!inst.config.Tty,
        entrypoint: cmd[0] ?? '',
        arguments: cmd.slice(1),
        privileged: !!inst.config.Privileged,
        ...(inst.config.User ? { user: inst.config.User } : {}),
      },
      OpenStdin: !!inst.config.AttachStdin,
      OpenStderr: !!inst.config.AttachStderr,
      OpenStdout: !!inst.config.AttachStdout,
      CanRemove: false,
      ContainerID: inst.containerId,
      DetachKeys: inst.config.DetachKeys ?? '',
      Pid: inst.pid,
    };
  }
}
