// Where a container's live stdio meets its attached clients (docker run, attach, start -a):
// output fans out to every client of the current run; stdin from any client feeds the
// process. Clients may attach before start (docker run attaches first), so stdin is buffered
// in a per-run pipe until the process exists.
import { PassThrough } from 'node:stream';

export interface AttachClient {
  output(stream: 'stdout' | 'stderr', data: Buffer): void;
  /** The run ended: close the connection. */
  end(): void;
}

export class StreamHub {
  private readonly clients = new Set<AttachClient>();
  /** The stdin of the next or current run. */
  stdin = new PassThrough();
  private stdinClosed = false;

  add(client: AttachClient): () => void {
    this.clients.add(client);
    return () => {
      this.clients.delete(client);
    };
  }

  output(stream: 'stdout' | 'stderr', data: Buffer): void {
    for (const c of this.clients) c.output(stream, data);
  }

  writeStdin(data: Buffer): void {
    if (!this.stdinClosed) this.stdin.write(data);
  }

  /** A client closed its stdin with StdinOnce: the process sees EOF. */
  closeStdin(): void {
    if (this.stdinClosed) return;
    this.stdinClosed = true;
    this.stdin.end();
  }

  /** The run ended: every client of this run is done; a fresh stdin waits for the next run. */
  endRun(): void {
    for (const c of this.clients) c.end();
    this.clients.clear();
    this.stdin.destroy();
    this.stdin = new PassThrough();
    this.stdinClosed = false;
  }
}
