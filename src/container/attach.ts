// `docker attach` and `run -a`: what a client attached to a container gets — its logs first if
// asked, then the live output (framed by stdcopy without a TTY), its input routed to the
// container's stdin through the detach keys, and Docker's rules for closing stdin. The API room
// only hijacks the connection and hands it over.
import type { Ctx } from './context.js';
import { emit, liveOf } from './context.js';
import type { ContainerRecord } from './types.js';
import { streamLogs } from './logs.js';
import { frame } from './stdcopy.js';
import { detachFilter, parseDetachKeys } from './detach-keys.js';
import type { AttachClient } from './stream-hub.js';

export interface AttachOptions {
  logs: boolean;
  stream: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Docker's `detachKeys` (e.g. `ctrl-p,ctrl-q`); its default when unset. */
  detachKeys?: string | null;
}

/** The client's side, already hijacked: bytes out, its input in, and when it went away. */
export interface AttachConnection {
  write(data: Buffer): void;
  end(): void;
  input: NodeJS.ReadableStream;
  closed: Promise<void>;
}

export async function attachContainer(
  ctx: Ctx,
  rec: ContainerRecord,
  opts: AttachOptions,
  conn: AttachConnection,
  attachOutput: (id: string, client: AttachClient) => () => void,
): Promise<void> {
  const tty = !!rec.config.Tty;
  const want = { stdout: opts.stdout, stderr: opts.stderr };
  const write = (s: 'stdout' | 'stderr', d: Buffer) => {
    if (want[s]) conn.write(tty ? d : frame(s, d));
  };
  if (opts.logs) await streamLogs(ctx, rec, { ...want, follow: false, timestamps: false }, write, conn.closed);
  if (!opts.stream) {
    emit(ctx, 'attach', rec);
    conn.end();
    return;
  }
  const detach = attachOutput(rec.id, { output: write, end: () => conn.end() });
  const live = liveOf(ctx, rec.id);
  void conn.closed.then(detach);
  if (!opts.stdin || !rec.config.OpenStdin) return;
  const filter = tty ? detachFilter(parseDetachKeys(opts.detachKeys ?? null)) : undefined;
  conn.input.on('data', (d: Buffer) => {
    if (!filter) {
      live.hub.writeStdin(d);
      return;
    }
    const { forward, detach: detached } = filter(d);
    if (forward.length) live.hub.writeStdin(forward);
    if (detached) {
      detach();
      conn.end();
      ctx.events.emitEvent('container', 'detach', rec.id, { image: rec.imageRef, name: rec.name });
    }
  });
  // Docker closes the container's stdin when a StdinOnce client's stdin ends, never with a TTY.
  conn.input.on('end', () => {
    if (rec.config.StdinOnce && !tty) live.hub.closeStdin();
  });
}
