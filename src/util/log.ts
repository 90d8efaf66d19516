// Leveled logging to stderr; the daemon's only log sink.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';
const order: LogLevel[] = ['debug', 'info', 'warn', 'error', 'fatal'];

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export function createLogger(level: LogLevel = 'info'): Logger {
  const min = order.indexOf(level);
  const at = (l: LogLevel) => (msg: string) => {
    if (order.indexOf(l) >= min) process.stderr.write(`${new Date().toISOString()} ${l.toUpperCase()} ${msg}\n`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
