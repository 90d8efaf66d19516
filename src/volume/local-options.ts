// The local driver's options (`docker volume create -o type=… -o o=… -o device=… -o size=…`),
// validated in the order and with the words of moby's daemon/volume/local/local_unix.go.
import { InvalidParameter } from '../errors.js';

const validOptions = new Set(['type', 'o', 'device', 'size']);
/** An option that is set requires these others. */
const mandatoryOptions: Array<[string, string[]]> = [
  ['device', ['type']],
  ['type', ['device']],
  ['o', ['device']],
];

export interface LocalMountOptions {
  type: string;
  o: string;
  device: string;
  /** Bytes of quota on _data (a btrfs qgroup or an xfs/ext4 project quota); 0 = none. */
  quotaSize: number;
}

/**
 * Checks `opts`; `quotaSupported` says whether the volumes directory can take a size
 * quota (only asked when `size` is given).
 */
export function validateLocalOptions(opts: Record<string, string>, quotaSupported: () => boolean): void {
  const keys = Object.keys(opts);
  if (keys.length === 0) return;
  for (const k of keys.sort()) {
    if (!validOptions.has(k)) throw new InvalidParameter(`invalid option: ${JSON.stringify(k)}`);
  }
  if (opts.type === 'cifs' && opts.device) {
    let port = '';
    try {
      port = new URL(opts.device.replace(/\\/g, '/').replace(/^\/\//, 'cifs://')).port;
    } catch {
      /* not a URL: nothing to refuse */
    }
    if (port) throw new InvalidParameter("port not allowed in CIFS device URL, include 'port' in 'o='");
  }
  if (opts.size !== undefined) {
    const size = parseRamInBytes(opts.size);
    if (size > 0 && !quotaSupported()) throw new InvalidParameter('quota size requested but no quota support');
  }
  for (const [opt, required] of mandatoryOptions) {
    if (opts[opt] === undefined) continue;
    for (const r of required) {
      if (opts[r] === undefined) throw new InvalidParameter(`missing required option: ${JSON.stringify(r)}`);
    }
  }
}

/** Whether the volume needs a mount on its _data (type/device given), as opposed to a quota only. */
export function needsMount(opts: Record<string, string>): boolean {
  return opts.type !== undefined && opts.device !== undefined;
}

export function localMountOptions(opts: Record<string, string>): LocalMountOptions {
  return {
    type: opts.type ?? '',
    o: opts.o ?? '',
    device: opts.device ?? '',
    quotaSize: opts.size !== undefined ? parseRamInBytes(opts.size) : 0,
  };
}

/** go-units RAMInBytes: binary units, `100`, `64m`, `1.5GiB`. */
export function parseRamInBytes(s: string): number {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(s);
  if (!m) throw new InvalidParameter(`invalid size: '${s}'`);
  const unit = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 }[(m[2] ?? '').toLowerCase()] ?? 1;
  return Math.floor(Number(m[1]) * unit);
}

/** Hides a `password=` mount option in error text, as Docker does for cifs. */
export function maskPassword(text: string, o: string): string {
  const pw = /(?:^|,)password=([^,]*)/.exec(o)?.[1];
  return pw ? text.split(pw).join('********') : text;
}
