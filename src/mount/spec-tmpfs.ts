// tmpfs options as dockerd builds them: every tmpfs mount starts from noexec,nosuid,nodev and
// the default propagation, then the options asked for are merged in, a later option replacing an
// earlier one that sets the same flag (so `--tmpfs /x:exec` gives an executable tmpfs).
import { InvalidParameter } from '../errors.js';

export const TMPFS_DEFAULT_OPTIONS = ['noexec', 'nosuid', 'nodev', 'rprivate'];

/** mount(8) flags Docker knows, keyed by the flag they set or clear: options with one key collide. */
const FLAG_KEYS: Record<string, string> = {
  ro: 'rdonly',
  rw: 'rdonly',
  suid: 'nosuid',
  nosuid: 'nosuid',
  dev: 'nodev',
  nodev: 'nodev',
  exec: 'noexec',
  noexec: 'noexec',
  sync: 'sync',
  async: 'sync',
  dirsync: 'dirsync',
  remount: 'remount',
  mand: 'mand',
  nomand: 'mand',
  atime: 'noatime',
  noatime: 'noatime',
  diratime: 'nodiratime',
  nodiratime: 'nodiratime',
  bind: 'bind',
  rbind: 'rbind',
  relatime: 'relatime',
  norelatime: 'relatime',
  strictatime: 'strictatime',
  nostrictatime: 'strictatime',
  // There is only one propagation mode per mount.
  unbindable: 'propagation',
  runbindable: 'propagation',
  private: 'propagation',
  rprivate: 'propagation',
  shared: 'propagation',
  rshared: 'propagation',
  slave: 'propagation',
  rslave: 'propagation',
};

/** tmpfs data options (key=value) the kernel's tmpfs accepts and Docker lets through. */
const DATA_KEYS = new Set(['size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol']);

/** Go's %q of a []string, as Docker prints the offending option: ["nosuid" "1"]. */
function goQuoteList(parts: string[]): string {
  return `[${parts.map((p) => JSON.stringify(p)).join(' ')}]`;
}

/** Merges tmpfs options, last one wins per flag or data key; order is that of the winners. */
export function mergeTmpfsOptions(options: string[]): string[] {
  const seenFlags = new Set<string>();
  const seenData = new Set<string>();
  const merged: string[] = [];
  for (let i = options.length - 1; i >= 0; i--) {
    const option = options[i]!;
    if (option === 'defaults') continue;
    const key = FLAG_KEYS[option];
    if (key !== undefined) {
      if (!seenFlags.has(key)) {
        merged.unshift(option);
        seenFlags.add(key);
      }
      continue;
    }
    const eq = option.indexOf('=');
    const parts = eq < 0 ? [option] : [option.slice(0, eq), option.slice(eq + 1)];
    if (parts.length !== 2 || !DATA_KEYS.has(parts[0]!)) {
      throw new InvalidParameter(`invalid tmpfs option ${goQuoteList(parts)}`);
    }
    if (!seenData.has(parts[0]!)) {
      merged.unshift(option);
      seenData.add(parts[0]!);
    }
  }
  return merged;
}

/** The OCI option list for a `--tmpfs dest:data` entry. */
export function tmpfsOptionsFromData(data: string): string[] {
  // Empty items (a trailing comma) carry nothing; Docker's own parser skips them too.
  const given = data === '' ? [] : data.split(',').filter((o) => o !== '');
  return mergeTmpfsOptions([...TMPFS_DEFAULT_OPTIONS, ...given]);
}

export interface ApiTmpfsOptions {
  SizeBytes?: number;
  Mode?: number;
  /** API 1.46: [["noexec"]], [["exec"]]. */
  Options?: string[][];
}

/** The tmpfs options that only exist as TmpfsOptions.Options entries (API 1.46). */
const API_TMPFS_OPTIONS = new Set(['exec', 'noexec']);

/**
 * TmpfsOptions (--mount type=tmpfs,tmpfs-size=…,tmpfs-mode=…) as mount data, exactly as Docker
 * converts them: the size in the largest unit that divides it evenly, the mode in octal.
 */
export function convertTmpfsOptions(
  opts: ApiTmpfsOptions | null | undefined,
  readOnly: boolean,
  withOptions: boolean,
): string[] {
  const raw: string[] = [];
  if (readOnly) raw.push('ro');
  if (opts?.Mode) raw.push(`mode=${opts.Mode.toString(8)}`);
  if (opts?.SizeBytes) {
    let size = opts.SizeBytes;
    let suffix = '';
    for (const [s, divisor] of [
      ['g', 2 ** 30],
      ['m', 2 ** 20],
      ['k', 2 ** 10],
    ] as const) {
      if (size % divisor === 0) {
        size = size / divisor;
        suffix = s;
        break;
      }
    }
    raw.push(`size=${size}${suffix}`);
  }
  if (withOptions && opts?.Options && opts.Options.length > 0) {
    for (const opt of opts.Options) {
      if (!Array.isArray(opt) || opt.length < 1 || opt.length > 2) throw new Error('invalid option array length');
      if (!API_TMPFS_OPTIONS.has(opt[0]!)) throw new Error(`invalid option: ${opt[0]}`);
      raw.push(opt.length === 1 ? opt[0]! : `${opt[0]}=${opt[1]}`);
    }
  }
  return raw;
}
