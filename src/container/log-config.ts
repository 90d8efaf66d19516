// A container's logging configuration, as Docker settles it: the daemon's default driver and
// options (daemon.json `log-driver`/`log-opts`) fill in what the container does not say, the
// option names are checked at create, and the values when the logger starts (`docker start`
// then fails with "failed to initialize logging driver: …", exactly like dockerd).
import { InvalidParameter, SystemError } from '../errors.js';

export interface LogConfig {
  Type: string;
  Config: Record<string, string>;
}

/** Drivers Strata has: json-file, local, and none (nothing kept). Docker would look for a logging plugin next. */
const DRIVERS = new Set(['json-file', 'local', 'none']);

/** The options local accepts (it keeps no attributes, so no labels, env or tag). */
const LOCAL_OPTS = new Set(['max-file', 'max-size', 'compress']);

/** The options json-file accepts (labels, env and tag are accepted and have no effect). */
const JSON_FILE_OPTS = new Set([
  'max-file',
  'max-size',
  'compress',
  'labels',
  'labels-regex',
  'env',
  'env-regex',
  'tag',
]);

export const DEFAULT_LOG_CONFIG: LogConfig = { Type: 'json-file', Config: {} };

/** Docker's mergeAndVerifyLogConfig: daemon defaults merged in, then the names checked. */
export function mergeLogConfig(
  given: Partial<LogConfig> | undefined,
  daemon: LogConfig = DEFAULT_LOG_CONFIG,
): LogConfig {
  const out: LogConfig = { Type: given?.Type || daemon.Type, Config: { ...(given?.Config ?? {}) } };
  if (out.Type === daemon.Type) {
    for (const [k, v] of Object.entries(daemon.Config)) if (!(k in out.Config)) out.Config[k] = v;
  }
  validateLogConfig(out);
  return out;
}

/**
 * The daemon-wide default from daemon.json. As dockerd, bad options of a driver it has refuse
 * the start; a driver it does not have is only refused when a container would use it.
 */
export function daemonLogConfig(driver: string | undefined, opts: Record<string, unknown> | undefined): LogConfig {
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts ?? {})) {
    if (typeof v !== 'string') throw new Error(`failed to set log opts: log-opts ${k} must be a string`);
    config[k] = v;
  }
  const cfg: LogConfig = { Type: driver || 'json-file', Config: config };
  if (DRIVERS.has(cfg.Type)) {
    try {
      validateLogConfig(cfg);
    } catch (err) {
      throw new Error(`failed to set log opts: ${(err as Error).message}`);
    }
  }
  return cfg;
}

export function validateLogConfig(cfg: LogConfig): void {
  if (cfg.Type === 'none') return; // Docker checks nothing for it (the CLI refuses options)
  const mode = cfg.Config.mode;
  if (mode !== undefined && mode !== '' && mode !== 'blocking' && mode !== 'non-blocking') {
    throw new InvalidParameter(`logger: logging mode not supported: ${mode}`);
  }
  // dockerd looks a driver it does not have up as a logging plugin, and says so when there is none.
  if (!DRIVERS.has(cfg.Type))
    throw new InvalidParameter(`error looking up logging plugin ${cfg.Type}: plugin "${cfg.Type}" not found`);
  for (const key of Object.keys(cfg.Config)) {
    if (key === 'mode' || key === 'max-buffer-size') continue;
    if (cfg.Type === 'local') {
      if (!LOCAL_OPTS.has(key)) throw new InvalidParameter(`unknown log opt '${key}' for log driver local`);
    } else if (!JSON_FILE_OPTS.has(key))
      throw new InvalidParameter(`unknown log opt '${key}' for json-file log driver`);
  }
}

/** Whether `docker logs` can read the container's output back. */
export const logsReadable = (cfg: Partial<LogConfig> | undefined): boolean => cfg?.Type !== 'none';

export interface Rotation {
  /** False for the none driver: output goes to attached clients only. */
  keep?: boolean;
  /** Bytes after which the file is rotated; -1 for never. */
  maxSize: number;
  /** Files kept, the current one included. */
  maxFiles: number;
  /** Rotated files are gzipped (`.1.gz` …). */
  compress?: boolean;
}

/**
 * The json-file driver's rotation settings (jsonfilelog.New). As in Docker, max-file without
 * max-size is accepted and has no effect, since nothing is ever rotated.
 */
export function rotationOf(cfg: Record<string, string> | undefined, type = 'json-file'): Rotation {
  if (type === 'none') return { keep: false, maxSize: -1, maxFiles: 1 };
  if (type === 'local') return localRotationOf(cfg);
  let maxSize = -1;
  let maxFiles = 1;
  const fail = (msg: string) => new SystemError(`failed to initialize logging driver: ${msg}`);
  const size = cfg?.['max-size'];
  if (size !== undefined) {
    maxSize = fromHumanSize(size);
    if (Number.isNaN(maxSize)) throw fail(`invalid size: '${size}'`);
    if (maxSize <= 0) throw fail('max-size must be a positive number');
  }
  const files = cfg?.['max-file'];
  if (files !== undefined) {
    if (!/^[+-]?\d+$/.test(files)) throw fail(`strconv.Atoi: parsing ${JSON.stringify(files)}: invalid syntax`);
    maxFiles = Number(files);
    if (maxFiles < 1) throw fail('max-file cannot be less than 1');
  }
  let compress = false;
  const c = cfg?.compress;
  if (c !== undefined) {
    const b = GO_BOOLS[c];
    if (b === undefined) throw fail(`strconv.ParseBool: parsing ${JSON.stringify(c)}: invalid syntax`);
    compress = b;
    if (compress && (maxFiles === 1 || maxSize === -1))
      throw fail('compress cannot be true when max-file is less than 2 or max-size is not set');
  }
  return compress ? { maxSize, maxFiles, compress } : { maxSize, maxFiles };
}

/**
 * The local driver's settings (local.New): it rotates by default (20 MiB, 5 files, compressed),
 * a max-size of 0 rotates before every entry, and its errors are worded its own way.
 */
function localRotationOf(cfg: Record<string, string> | undefined): Rotation {
  const fail = (msg: string) => new SystemError(`failed to initialize logging driver: ${msg}`);
  let maxSize = 20 * 1024 * 1024;
  let maxFiles = 5;
  let compress = true;
  const size = cfg?.['max-size'];
  if (size !== undefined) {
    maxSize = fromHumanSize(size);
    if (Number.isNaN(maxSize)) throw fail(`invalid value for max-size: ${size}: invalid size: '${size}'`);
  }
  const files = cfg?.['max-file'];
  if (files !== undefined) {
    if (!/^[+-]?\d+$/.test(files))
      throw fail(
        `invalid value for max-file: ${files}: strconv.Atoi: parsing ${JSON.stringify(files)}: invalid syntax`,
      );
    maxFiles = Number(files);
  }
  const c = cfg?.compress;
  if (c !== undefined) {
    const b = GO_BOOLS[c];
    if (b === undefined)
      throw fail(`error reading compress log option: strconv.ParseBool: parsing ${JSON.stringify(c)}: invalid syntax`);
    compress = b;
  }
  if (maxFiles < 0) throw fail('max file count cannot be less than 0');
  if (compress && maxFiles <= 1) throw fail('compression cannot be enabled when max file count is 1');
  return compress ? { maxSize, maxFiles, compress } : { maxSize, maxFiles };
}

const GO_BOOLS: Record<string, boolean> = {
  '1': true,
  t: true,
  T: true,
  TRUE: true,
  true: true,
  True: true,
  '0': false,
  f: false,
  F: false,
  FALSE: false,
  false: false,
  False: false,
};

const DECIMAL: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };

/** go-units FromHumanSize: decimal multiples ("10m" is 10,000,000 bytes); NaN when unparsable. */
export function fromHumanSize(s: string): number {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(s);
  if (!m) return NaN;
  const n = Number(m[1]);
  if (Number.isNaN(n)) return NaN;
  return Math.trunc(n * DECIMAL[(m[2] ?? '').toLowerCase()]!);
}
