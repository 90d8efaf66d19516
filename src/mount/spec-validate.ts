// Validation of one API mount object (HostConfig.Mounts entry, or what a -v string becomes),
// with dockerd's checks in dockerd's order and its error texts.
import path from 'node:path';
import { convertTmpfsOptions, type ApiTmpfsOptions } from './spec-tmpfs.js';
import { versionAtLeast } from '../util/api-version.js';

/** HostConfig.Mounts[i] as the API sends it. */
export interface ApiMount {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean; CreateMountpoint?: boolean } | null;
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Record<string, string> | null;
    DriverConfig?: { Name?: string; Options?: Record<string, string> | null } | null;
    Subpath?: string;
  } | null;
  TmpfsOptions?: ApiTmpfsOptions | null;
  ImageOptions?: { Subpath?: string } | null;
}

export const PROPAGATION_MODES = new Set(['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared']);

/** Go's path.Clean for slash paths. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** Go's filepath.IsLocal: relative, non-empty, and not climbing out with "..". */
export function isLocalPath(p: string): boolean {
  if (p === '' || p.startsWith('/')) return false;
  const c = cleanPath(p);
  return c !== '..' && !c.startsWith('../');
}

export function validateNotRoot(p: string): string | undefined {
  return cleanPath(p.replaceAll('\\', '/')) === '/' ? "invalid specification: destination can't be '/'" : undefined;
}

export function validateAbsolute(p: string): string | undefined {
  const s = p.replaceAll('\\', '/');
  return s.startsWith('/') ? undefined : `invalid mount path: '${s}' mount path must be absolute`;
}

/**
 * From API 1.42 dockerd refuses options given for another mount type before it parses any
 * mount, in its router's words.
 */
export function strayOptionsError(m: ApiMount): string | undefined {
  const type = JSON.stringify(m.Type ?? '');
  if (m.VolumeOptions && m.Type !== 'volume') return `VolumeOptions must not be specified on mount type ${type}`;
  if (m.BindOptions && m.Type !== 'bind') return `BindOptions must not be specified on mount type ${type}`;
  if (m.TmpfsOptions && m.Type !== 'tmpfs') return `TmpfsOptions must not be specified on mount type ${type}`;
  return undefined;
}

/** The reason `m` is invalid, without Docker's `invalid mount config for type` prefix; undefined when valid. */
export function mountConfigError(m: ApiMount, apiVersion: string): string | undefined {
  const target = m.Target ?? '';
  if (target === '') return 'field Target must not be empty';
  const targetError = validateNotRoot(target) ?? validateAbsolute(target);
  if (targetError) return targetError;
  const source = m.Source ?? '';
  switch (m.Type) {
    case 'bind': {
      if (source === '') return 'field Source must not be empty';
      const prop = m.BindOptions?.Propagation;
      if (prop && !PROPAGATION_MODES.has(prop)) return `invalid propagation mode: ${prop}`;
      if (m.VolumeOptions) return 'field VolumeOptions must not be specified';
      if (m.ImageOptions) return 'field ImageOptions must not be specified';
      return validateAbsolute(source);
    }
    case 'volume': {
      if (m.BindOptions) return 'field BindOptions must not be specified';
      if (m.ImageOptions) return 'field ImageOptions must not be specified';
      const anonymous = source === '';
      const subpath = versionAtLeast(apiVersion, '1.45') ? (m.VolumeOptions?.Subpath ?? '') : '';
      if (subpath !== '') {
        if (anonymous) return 'must not set Subpath when using anonymous volumes';
        if (!isLocalPath(subpath)) return 'subpath must be a relative path within the volume';
      }
      if (m.ReadOnly && anonymous) return 'must not set ReadOnly mode when using anonymous volumes';
      return undefined;
    }
    case 'tmpfs': {
      if (m.BindOptions) return 'field BindOptions must not be specified';
      if (m.ImageOptions) return 'field ImageOptions must not be specified';
      if (source !== '') return 'field Source must not be specified';
      try {
        convertTmpfsOptions(m.TmpfsOptions, !!m.ReadOnly, versionAtLeast(apiVersion, '1.46'));
      } catch (err) {
        return (err as Error).message;
      }
      return undefined;
    }
    case 'image': {
      if (m.BindOptions) return 'field BindOptions must not be specified';
      if (m.VolumeOptions) return 'field VolumeOptions must not be specified';
      if (source === '') return 'field Source must not be empty';
      const subpath = m.ImageOptions?.Subpath ?? '';
      if (subpath !== '' && !isLocalPath(subpath)) return 'subpath must be a relative path within the volume';
      return undefined;
    }
    default:
      return 'mount type unknown';
  }
}

export function mountConfigMessage(m: ApiMount, reason: string): string {
  return `invalid mount config for type "${m.Type ?? ''}": ${reason}`;
}
