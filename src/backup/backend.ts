// The backup room's role at the API boundary: Strata's /strata/ endpoints for volumes as tar
// streams, backups in restic repositories, and clones. The engine holds it deferred
// (util/deferred.ts): this file is types only, so naming the role loads nothing of the room.
// A repository is opened with the user's password when one is given, else with the daemon's key.
import type { Readable } from 'node:stream';
import type { VolumeRecord } from '../volume/types.js';
import type { BackupInfo, BackupSummary, Progress, Retention } from './repository.js';
import type { TarSummary } from './tar.js';

export type { BackupInfo, BackupSummary, Progress, Retention } from './repository.js';
export type { TarSummary } from './tar.js';

export interface RepositoryOptions {
  repository: string;
  password?: string;
}

/**
 * Volume export/import, backups, restore, verify, retention and clone. A volume that running
 * containers use is frozen while it is read, and refused (Conflict) as a target unless forced.
 */
export interface BackupBackend {
  /** A tar of the volume; `done` settles once the stream has been read (its users stay frozen until then). */
  export(name: string, opts: { force?: boolean }): Promise<{ stream: Readable; done: Promise<void> }>;
  /** Replaces the volume's content with the tar `input` (created when missing). */
  import(name: string, input: Readable, opts: { force?: boolean }): Promise<TarSummary & { Volume: string }>;
  /** One backup per volume, then the retention policy when one is given. */
  backup(
    names: string[],
    opts: RepositoryOptions & Retention & { force?: boolean },
    onProgress: (volume: string, p: Progress) => void,
  ): Promise<{ backups: BackupSummary[]; removed: string[] }>;
  list(opts: RepositoryOptions, volume: string | undefined): Promise<BackupInfo[]>;
  /** Restores backup `ref` (an ID or `latest`) of `volume` into `opts.target` (default: `volume`). */
  restore(
    volume: string,
    ref: string,
    opts: RepositoryOptions & { target?: string; force?: boolean },
    onProgress: (p: Progress) => void,
  ): Promise<{ Backup: BackupInfo; Volume: string }>;
  verify(opts: RepositoryOptions): Promise<{ ok: true; output: string }>;
  forget(opts: RepositoryOptions & Retention): Promise<{ removed: string[] }>;
  /** A new volume with `source`'s content and labels; Conflict when `dest` exists. */
  clone(source: string, dest: string, opts: { force?: boolean }): Promise<VolumeRecord>;
  /** The daemon's own repository key (created on first use) and where it is kept. */
  key(): { key: string; path: string };
}
