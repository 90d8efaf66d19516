// The runtime room's contract: how the container room runs processes in an OCI bundle.
// runc is the implementation (runc.ts); anything that speaks runc's command line (crun) can
// stand in by changing the binary.
import type { Readable, Writable } from 'node:stream';

export interface StdioOptions {
  /** Allocate a terminal: stdout carries both streams, stderr is absent. */
  tty: boolean;
  /** Keep a stdin pipe open to the process; otherwise stdin is /dev/null. */
  stdin: boolean;
  /** Initial terminal size. */
  size?: { height: number; width: number };
}

/** A process the runtime started and the daemon supervises. */
export interface RuntimeProcess {
  /** Host PID of the container process (the init of the container, or the exec'd process). */
  readonly pid: number;
  readonly stdin: Writable | null;
  readonly stdout: Readable;
  /** null with a terminal. */
  readonly stderr: Readable | null;
  /** Resolves with the exit status: the code, or 128 + signal number. */
  readonly exited: Promise<number>;
  /** Changes the terminal size (no-op without a terminal). */
  resize(height: number, width: number): void;
}

export interface RuntimeState {
  id: string;
  pid: number;
  status: string;
}

export interface ContainerRuntime {
  readonly name: string;
  /**
   * Creates and starts the container of `bundle` (config.json + rootfs) in the foreground: the
   * returned process is the runtime's child, so its exit status is the container's exit code.
   * Rejects with the runtime's own error when the container cannot start.
   */
  run(id: string, bundle: string, stdio: StdioOptions): Promise<RuntimeProcess>;
  /** Runs `process` (an OCI process object) inside a running container. */
  exec(id: string, execId: string, process: Record<string, unknown>, stdio: StdioOptions): Promise<RuntimeProcess>;
  kill(id: string, signal: string | number, all?: boolean): Promise<void>;
  /** Freezes / thaws every process of the container (cgroup freezer). */
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  state(id: string): Promise<RuntimeState | null>;
  /** Host PIDs of every process in the container. */
  pids(id: string): Promise<number[]>;
  /** Removes the runtime's record of a container, killing what is left. */
  delete(id: string): Promise<void>;
  /** Changes the cgroup limits of a running container (OCI linux.resources: memory, cpu, pids, blockIO). */
  update(id: string, resources: Record<string, unknown>): Promise<void>;
  /** IDs the runtime knows about (leftovers after a daemon crash). */
  list(): Promise<string[]>;
}
