// The socket a client connects to, without loading the daemon: the CLI's start-up is part of
// every short command's time.
export function socketPathOf(host: string): string {
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  if (host.startsWith('/')) return host;
  throw new Error(`unsupported host ${host}: only unix:// sockets are served`);
}
