// The unix socket path of a --host or DOCKER_HOST value. Kept apart from the daemon so the CLI
// need not load it: the CLI's start-up is part of every short command's time.
export function socketPathOf(host: string): string {
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  if (host.startsWith('/')) return host;
  throw new Error(`unsupported host ${host}: only unix:// sockets are served`);
}
