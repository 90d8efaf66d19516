// A container's mount points: parsed once at create by the mount room's parser, turned into
// OCI mounts at every start (binds checked again: a moved source is re-created for -v and
// refused for --mount, as Docker does), and shown as inspect's Mounts.
import fs from 'node:fs';
import path from 'node:path';
import { InvalidParameter } from '../errors.js';
import type { MountSpec } from '../mount/spec-types.js';
import { parseMountSpecs, validateBindSources, type MountSpecInput } from '../mount/spec.js';
import type { VolumeService } from '../volume/types.js';
import type { OciMount } from '../runtime/oci-spec.js';
import { secureJoin } from '../runtime/rootfs-path.js';
import { releaseStaging, stageVolumeSubpath } from '../mount/staging.js';
import type { Snapshotter } from '../snapshot/snapshotter.js';
import { stageImageMount } from './image-mount.js';

export interface MountInput {
  Binds?: string[];
  Mounts?: object[];
  Tmpfs?: Record<string, string>;
  VolumeDriver?: string;
}

/** HostConfig's Binds/Mounts/Tmpfs → MountSpec[], with Docker's errors (InvalidParameter). */
export function parseMounts(input: MountInput, apiVersion: string, daemonRoot: string): MountSpec[] {
  const specs = parseMountSpecs(input as MountSpecInput, apiVersion, { daemonRoot });
  validateBindSources(specs);
  return specs;
}

/** What a start mounted and must release when the container stops. */
export interface StartMounts {
  oci: OciMount[];
  volumes: string[];
}

/**
 * OCI mounts for a start. Bind sources are checked again now: -v re-creates a missing
 * directory, --mount refuses (lab: a moved project folder). A volume-subpath is opened beneath
 * the volume and handed to runc as a staging mount in `stagingDir` (see mount/staging.ts), and
 * an image mount's snapshot is mounted there too (container/image-mount.ts); both are
 * released by releaseStartMounts.
 */
export async function startMounts(
  specs: MountSpec[],
  volumes: VolumeService,
  containerId: string,
  stagingDir: string,
  snapshotter?: Pick<Snapshotter, 'mounts'>,
): Promise<StartMounts> {
  const oci: OciMount[] = [];
  const mounted: string[] = [];
  // Whatever an earlier run could not release would make its mount points exist already.
  if (specs.some((m) => m.subpath || m.type === 'image')) await releaseStaging(stagingDir);
  try {
    for (const [i, m] of specs.entries()) {
      if (m.type === 'bind') {
        if (!fs.existsSync(m.source)) {
          if (!m.createHostPath)
            throw new InvalidParameter(
              `invalid mount config for type "bind": bind source path does not exist: ${m.source}`,
            );
          fs.mkdirSync(m.source, { recursive: true, mode: 0o755 });
        }
        oci.push({
          destination: m.destination,
          type: 'bind',
          source: m.source,
          options: [m.nonRecursive ? 'bind' : 'rbind', m.readOnly ? 'ro' : 'rw', m.propagation || 'rprivate'],
        });
      } else if (m.type === 'volume') {
        let host = await volumes.mount(m.source, containerId);
        mounted.push(m.source);
        if (m.subpath) host = stageVolumeSubpath(stagingDir, String(i), host, m.subpath);
        oci.push({
          destination: m.destination,
          type: 'bind',
          source: host,
          options: ['rbind', m.readOnly ? 'ro' : 'rw', 'rprivate'],
        });
      } else if (m.type === 'image') {
        if (!snapshotter) throw new InvalidParameter(`image mount at ${m.destination}: no storage driver to mount it`);
        const host = await stageImageMount(snapshotter, m, stagingDir, i);
        oci.push({
          destination: m.destination,
          type: 'bind',
          source: host,
          options: ['rbind', m.readOnly ? 'ro' : 'rw', m.propagation || 'rprivate'],
        });
      } else {
        const options = [...(m.tmpfsOptions ?? ['noexec', 'nosuid', 'nodev'])];
        if (m.readOnly && !options.includes('ro')) options.push('ro');
        oci.push({ destination: m.destination, type: 'tmpfs', source: 'tmpfs', options });
      }
    }
  } catch (err) {
    await releaseStartMounts(volumes, mounted, containerId, stagingDir);
    throw err;
  }
  return { oci, volumes: mounted };
}

/** Undoes startMounts: staging mounts first (they hold the volumes' directories), then the volumes. */
export async function releaseStartMounts(
  volumes: VolumeService,
  names: string[],
  containerId: string,
  stagingDir: string,
): Promise<void> {
  try {
    await releaseStaging(stagingDir);
  } finally {
    for (const name of names) await volumes.unmount(name, containerId).catch(() => undefined);
  }
}

/** inspect's Mounts entries (HostConfig.Tmpfs entries are not listed, as in Docker). */
export async function inspectMounts(
  specs: MountSpec[],
  volumes: VolumeService,
  /** The container's staging dir while it runs: where its image mounts are, for Source. */
  stagingDir?: string,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const [i, m] of specs.entries()) {
    if (m.origin === 'tmpfs') continue;
    if (m.type === 'bind') {
      out.push({
        Type: 'bind',
        Source: m.source,
        Destination: m.destination,
        Mode: m.mode,
        RW: !m.readOnly,
        Propagation: m.propagation || 'rprivate',
      });
    } else if (m.type === 'volume') {
      let source = '';
      let driver = m.driver || 'local';
      try {
        const v = await volumes.get(m.source);
        source = v.mountpoint;
        driver = v.driver;
      } catch {
        /* removed behind our back */
      }
      out.push({
        Type: 'volume',
        Name: m.source,
        Source: source,
        Destination: m.destination,
        Driver: driver,
        Mode: m.mode,
        RW: !m.readOnly,
        Propagation: '',
      });
    } else if (m.type === 'image') {
      // Docker shows the reference as given for Name and where the image is mounted as Source
      // (here, while the container runs).
      out.push({
        Type: 'image',
        Name: m.source,
        Source: stagingDir ? path.join(stagingDir, m.subpath ? `image-${i}-subpath` : `image-${i}`) : '',
        Destination: m.destination,
        Mode: '',
        RW: !m.readOnly,
        Propagation: m.propagation || 'rprivate',
      });
    } else {
      out.push({ Type: 'tmpfs', Source: '', Destination: m.destination, Mode: '', RW: !m.readOnly, Propagation: '' });
    }
  }
  return out;
}

/** The image's content at a volume's destination (B5): a directory to copy, a file to refuse, or nothing. */
export function imageContentAt(rootfs: string, destination: string): string | undefined {
  const host = secureJoin(rootfs, destination);
  let st: fs.Stats;
  try {
    st = fs.statSync(host);
  } catch {
    return undefined;
  }
  if (!st.isDirectory())
    throw new InvalidParameter(`cannot mount volume over existing file, file exists ${path.join(rootfs, destination)}`);
  return host;
}
