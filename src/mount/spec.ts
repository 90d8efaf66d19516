// The one mount parser: HostConfig.Binds (-v), Mounts (--mount) and Tmpfs (--tmpfs) become
// MountSpec[], with dockerd's rules and words. Every caller (container create, run, build)
// goes through parseMountSpecs, then validateBindSources before creating anything.
import fs from 'node:fs';
import { InvalidParameter } from '../errors.js';
import type { MountSpec } from './spec-types.js';
import { parseBind } from './spec-binds.js';
import { tmpfsOptionsFromData, mergeTmpfsOptions, convertTmpfsOptions, TMPFS_DEFAULT_OPTIONS } from './spec-tmpfs.js';
import {
  cleanPath,
  mountConfigError,
  mountConfigMessage,
  strayOptionsError,
  validateAbsolute,
  validateNotRoot,
  type ApiMount,
} from './spec-validate.js';
import { versionAtLeast } from '../util/api-version.js';

export type { MountSpec } from './spec-types.js';
export type { ApiMount } from './spec-validate.js';
export { mergeTmpfsOptions } from './spec-tmpfs.js';

export interface MountSpecInput {
  Binds?: string[] | null;
  Mounts?: ApiMount[] | null;
  Tmpfs?: Record<string, string> | null;
  VolumeDriver?: string;
}

export interface ParseMountOptions {
  /**
   * The daemon's data root. A bind whose source holds it (or lies inside it) must propagate
   * mounts into the container (rslave) so that a container never pins the daemon's own mounts.
   */
  daemonRoot?: string;
}

const duplicate = (dest: string) => new InvalidParameter(`Duplicate mount point: ${dest}`);

export function parseMountSpecs(input: MountSpecInput, apiVersion: string, opts: ParseMountOptions = {}): MountSpec[] {
  const tmpfs = input.Tmpfs ?? {};
  // Tmpfs destinations are checked first, as dockerd verifies them before any mount point.
  for (const dest of Object.keys(tmpfs)) {
    const reason = validateNotRoot(dest) ?? validateAbsolute(dest);
    if (reason) throw new InvalidParameter(reason);
  }

  const mounts = input.Mounts ?? [];
  for (const m of mounts) checkApiVersion(m, apiVersion);

  const specs: MountSpec[] = [];
  const taken = new Set<string>();
  for (const raw of input.Binds ?? []) {
    const { mount, mode } = parseBind(raw, input.VolumeDriver ?? '', apiVersion);
    const spec = specFromMount(mount, 'binds', mode, apiVersion, opts);
    if (taken.has(spec.destination) || Object.hasOwn(tmpfs, spec.destination)) throw duplicate(spec.destination);
    taken.add(spec.destination);
    specs.push(spec);
  }

  for (const m of mounts) {
    const reason = mountConfigError(m, apiVersion);
    if (reason) throw new InvalidParameter(mountConfigMessage(m, reason));
    const spec = specFromMount(m, 'mounts', '', apiVersion, opts);
    // Docker names the target as the client wrote it here, not cleaned.
    if (taken.has(spec.destination)) throw duplicate(m.Target ?? '');
    taken.add(spec.destination);
    specs.push(spec);
  }

  for (const [dest, data] of Object.entries(tmpfs)) {
    // A --mount tmpfs at the same place wins: dockerd mounts only one of them.
    if (specs.some((s) => s.origin === 'mounts' && s.destination === cleanPath(dest))) continue;
    specs.push({
      type: 'tmpfs',
      source: '',
      destination: cleanPath(dest),
      readOnly: false,
      mode: '',
      propagation: '',
      origin: 'tmpfs',
      tmpfsOptions: tmpfsOptionsFromData(data),
    });
  }
  return specs;
}

/** What each API version makes of fields it does not know yet, as dockerd's router does. */
function checkApiVersion(m: ApiMount, apiVersion: string): void {
  // Before 1.42 the parser's own checks apply, as Docker 20.10 answers (CreateMountpoint is
  // ignored in specFromMount); an image mount is refused at every version before 1.48.
  if (versionAtLeast(apiVersion, '1.42')) {
    const stray = strayOptionsError(m);
    if (stray) throw new InvalidParameter(stray);
    if (!versionAtLeast(apiVersion, '1.45') && m.VolumeOptions?.Subpath) {
      throw new InvalidParameter('VolumeOptions.Subpath needs API v1.45 or newer');
    }
  }
  if (!versionAtLeast(apiVersion, '1.48') && m.Type === 'image') {
    throw new InvalidParameter('Mount type "Image" needs API v1.48 or newer');
  }
}

function specFromMount(
  m: ApiMount,
  origin: 'binds' | 'mounts',
  mode: string,
  apiVersion: string,
  opts: ParseMountOptions,
): MountSpec {
  const destination = cleanPath((m.Target ?? '').replaceAll('\\', '/'));
  const readOnly = !!m.ReadOnly;
  switch (m.Type) {
    case 'bind': {
      const source = cleanPath(m.Source ?? '');
      const asked = m.BindOptions?.Propagation ?? '';
      const propagation = bindPropagation(source, asked, opts.daemonRoot) ?? (asked || 'rprivate');
      const createMountpoint = versionAtLeast(apiVersion, '1.42') && !!m.BindOptions?.CreateMountpoint;
      const spec: MountSpec = {
        type: 'bind',
        source,
        destination,
        readOnly,
        mode,
        propagation,
        origin,
        createHostPath: origin === 'binds' || createMountpoint,
      };
      if (m.BindOptions?.NonRecursive) spec.nonRecursive = true;
      return spec;
    }
    case 'volume': {
      const vo = m.VolumeOptions ?? {};
      const driver = vo.DriverConfig?.Name ?? '';
      const spec: MountSpec = {
        type: 'volume',
        source: m.Source ?? '',
        destination,
        readOnly,
        // dockerd shows "z" for a local volume given no mode (it would relabel it under SELinux).
        mode: mode === '' && (driver === '' || driver === 'local') ? 'z' : mode,
        propagation: '',
        origin,
        noCopy: !!vo.NoCopy,
      };
      if (driver) spec.driver = driver;
      if (vo.DriverConfig?.Options) spec.driverOptions = { ...vo.DriverConfig.Options };
      if (vo.Labels) spec.volumeLabels = { ...vo.Labels };
      if (vo.Subpath && versionAtLeast(apiVersion, '1.45')) spec.subpath = vo.Subpath;
      return spec;
    }
    case 'image': {
      const spec: MountSpec = {
        type: 'image',
        source: m.Source ?? '',
        destination,
        // Docker mounts an image read-only whatever ReadOnly says (the docker CLI never sends
        // false); a ReadOnly sent as false on purpose is Podman's read-write image mount.
        readOnly: m.ReadOnly !== false,
        mode: '',
        propagation: 'rprivate',
        origin,
      };
      if (m.ImageOptions?.Subpath) spec.subpath = m.ImageOptions.Subpath;
      return spec;
    }
    default: {
      const data = convertTmpfsOptions(m.TmpfsOptions, readOnly, versionAtLeast(apiVersion, '1.46'));
      return {
        type: 'tmpfs',
        source: '',
        destination,
        readOnly,
        mode,
        propagation: '',
        origin,
        tmpfsOptions: mergeTmpfsOptions([...TMPFS_DEFAULT_OPTIONS, ...data]),
      };
    }
  }
}

/**
 * rslave when the bind source holds the daemon root (or is inside it) and no propagation was
 * asked; Docker's error when a propagation other than rslave/rshared was asked there.
 */
function bindPropagation(source: string, asked: string, daemonRoot: string | undefined): string | undefined {
  if (!daemonRoot) return undefined;
  // Plain prefix tests, as dockerd does them.
  if (!source.startsWith(daemonRoot) && !daemonRoot.startsWith(source)) return undefined;
  if (asked === '') return 'rslave';
  if (asked === 'rslave' || asked === 'rshared') return asked;
  throw new InvalidParameter(
    `invalid mount config: must use either propagation mode "rslave" or "rshared" when mount source is within the daemon root, ` +
      `daemon root: ${JSON.stringify(daemonRoot)}, bind mount source: ${JSON.stringify(source)}, propagation: ${JSON.stringify(asked)}`,
  );
}

/**
 * --mount type=bind refuses a missing source (unless CreateMountpoint); -v creates it later.
 * Run before anything is created so that a refused container leaves nothing behind.
 */
export function validateBindSources(specs: MountSpec[]): void {
  for (const s of specs) {
    if (s.type !== 'bind' || s.createHostPath) continue;
    try {
      fs.statSync(s.source);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const reason =
        code === 'ENOENT' || code === 'ENOTDIR'
          ? `bind source path does not exist: ${s.source}`
          : (err as Error).message;
      throw new InvalidParameter(`invalid mount config for type "bind": ${reason}`);
    }
  }
}

/** The mount point an image VOLUME gets when nothing else is mounted there: an anonymous local volume. */
export function imageVolumeSpec(destination: string): MountSpec {
  return {
    type: 'volume',
    source: '',
    destination: cleanPath(destination),
    readOnly: false,
    mode: '',
    propagation: '',
    origin: 'image',
    noCopy: false,
  };
}
