// `-v` strings (HostConfig.Binds): `/host:/ctr[:mode]`, `name:/ctr[:mode]`, `/ctr`. A string is
// first turned into the API mount object it stands for, then validated like --mount, so both
// forms share one set of rules; errors carry Docker's `invalid volume specification` prefix.
import { InvalidParameter } from '../errors.js';
import { PROPAGATION_MODES, mountConfigError, mountConfigMessage, type ApiMount } from './spec-validate.js';

const RW_MODES = new Set(['rw', 'ro']);
const LABEL_MODES = new Set(['z', 'Z']);
const COPY_MODES = new Set(['nocopy']);
/** Docker Desktop's consistency flags: accepted and ignored on Linux. */
const CONSISTENCY_MODES = new Set(['consistent', 'cached', 'delegated']);

/** A mode string is valid when each item is known and each kind appears at most once. */
export function validMountMode(mode: string): boolean {
  if (mode === '') return true;
  const counts = [0, 0, 0, 0, 0];
  for (const o of mode.split(',')) {
    if (RW_MODES.has(o)) counts[0]!++;
    else if (LABEL_MODES.has(o)) counts[1]!++;
    else if (PROPAGATION_MODES.has(o)) counts[2]!++;
    else if (COPY_MODES.has(o)) counts[3]!++;
    else if (CONSISTENCY_MODES.has(o)) counts[4]!++;
    else return false;
  }
  return counts.every((c) => c <= 1);
}

/** Go's strings.SplitN(s, sep, n). */
function splitN(s: string, sep: string, n: number): string[] {
  const parts = s.split(sep);
  if (parts.length <= n) return parts;
  return [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)];
}

export interface ParsedBind {
  mount: ApiMount;
  mode: string;
}

/** Turns one Binds entry into the API mount it means, or throws Docker's InvalidParameter. */
export function parseBind(raw: string, volumeDriver: string, apiVersion: string): ParsedBind {
  const invalidSpec = `invalid volume specification: '${raw}'`;
  const arr = splitN(raw, ':', 4);
  if (arr[0] === '') throw new InvalidParameter(invalidSpec);
  const m: ApiMount = {};
  let mode = '';
  switch (arr.length) {
    case 1:
      m.Target = arr[0];
      break;
    case 2:
      // `/foo:rw` names no source: a mode alone is not a volume.
      if (validMountMode(arr[1]!)) throw new InvalidParameter(invalidSpec);
      m.Source = arr[0];
      m.Target = arr[1];
      break;
    case 3:
      m.Source = arr[0];
      m.Target = arr[1];
      mode = arr[2]!;
      break;
    default:
      throw new InvalidParameter(invalidSpec);
  }
  if (!validMountMode(mode)) throw new InvalidParameter(`invalid mode: ${mode}`);
  const items = mode === '' ? [] : mode.split(',');

  m.Type = (m.Source ?? '').startsWith('/') ? 'bind' : 'volume';
  m.ReadOnly = items.includes('ro');
  if (volumeDriver !== '' && m.Type === 'volume') m.VolumeOptions = { DriverConfig: { Name: volumeDriver } };
  if (items.includes('nocopy')) m.VolumeOptions = { ...(m.VolumeOptions ?? {}), NoCopy: true };
  const propagation = items.find((o) => PROPAGATION_MODES.has(o));
  if (propagation) m.BindOptions = { Propagation: propagation };

  const reason = mountConfigError(m, apiVersion);
  if (reason) throw new InvalidParameter(`${invalidSpec}: ${mountConfigMessage(m, reason)}`);
  return { mount: m, mode };
}
