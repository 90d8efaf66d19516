// Manifests as registries serve them: Docker v2 schema 2 manifests and manifest lists, OCI
// image manifests and indexes. Parses and checks the shape, and picks the entry of a list for a
// platform (this machine's unless `--platform` says otherwise), with Docker's error when none fits.
import { parsePlatformSpecifier } from '../image/platform.js';
import { InvalidParameter, NotFound } from '../errors.js';

export const MediaType = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

export const MANIFEST_ACCEPT = [
  MediaType.dockerManifest,
  MediaType.dockerList,
  MediaType.ociManifest,
  MediaType.ociIndex,
].join(', ');

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform & { 'os.version'?: string; 'os.features'?: string[] };
  urls?: string[];
  annotations?: Record<string, string>;
}

export type Manifest =
  | { kind: 'image'; mediaType: string; config: Descriptor; layers: Descriptor[] }
  | { kind: 'index'; mediaType: string; manifests: Descriptor[] };

const digestRe = /^sha256:[a-f0-9]{64}$/;

function descriptor(d: unknown, what: string): Descriptor {
  const o = d as Descriptor;
  if (
    !o ||
    typeof o !== 'object' ||
    typeof o.digest !== 'string' ||
    !digestRe.test(o.digest) ||
    typeof o.size !== 'number' ||
    o.size < 0
  ) {
    throw new InvalidParameter(`invalid manifest: bad ${what} descriptor`);
  }
  return { ...o, mediaType: typeof o.mediaType === 'string' ? o.mediaType : '' };
}

/** Parses a manifest body; the media type comes from the body, else the Content-Type. */
export function parseManifest(raw: Buffer, contentType: string | undefined): Manifest {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new InvalidParameter(`invalid manifest: ${(err as Error).message}`);
  }
  const mediaType = (typeof j.mediaType === 'string' && j.mediaType) || (contentType ?? '').split(';')[0]!.trim();
  if (j.schemaVersion === 1 || mediaType.startsWith('application/vnd.docker.distribution.manifest.v1')) {
    throw new InvalidParameter(
      'unsupported manifest format: Docker Image manifest version 2, schema 1 is no longer supported; push the image again with a newer client',
    );
  }
  if (
    Array.isArray(j.manifests) &&
    (mediaType === MediaType.dockerList || mediaType === MediaType.ociIndex || !j.config)
  ) {
    return {
      kind: 'index',
      mediaType: mediaType || MediaType.ociIndex,
      manifests: j.manifests.map((m) => descriptor(m, 'manifest')),
    };
  }
  if (j.config && Array.isArray(j.layers)) {
    return {
      kind: 'image',
      mediaType: mediaType || MediaType.ociManifest,
      config: descriptor(j.config, 'config'),
      layers: j.layers.map((l) => descriptor(l, 'layer')),
    };
  }
  throw new InvalidParameter(`unsupported manifest media type ${mediaType || '(none)'}`);
}

const archOf: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
};

export function hostPlatform(): Platform {
  const architecture = archOf[process.arch] ?? process.arch;
  return { os: 'linux', architecture, ...(architecture === 'arm64' ? { variant: 'v8' } : {}) };
}

/** `os[/arch[/variant]]` as `--platform` takes it (dockerd's words for a bad one); empty means this machine. */
export function parsePlatform(s: string | null | undefined): Platform {
  if (!s) return hostPlatform();
  const p = parsePlatformSpecifier(s);
  // Manifest lists name arm64's variant; a plain arm64 asks for v8.
  return p.architecture === 'arm64' && !p.variant ? { ...p, variant: 'v8' } : p;
}

export const platformString = (p: Platform): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

/** The list entry for `want`: same os and architecture, and the variant when both name one. */
export function chooseManifest(index: Manifest & { kind: 'index' }, want: Platform): Descriptor {
  const fits = (d: Descriptor) => {
    const p = d.platform;
    if (!p) return false;
    if (p.os !== want.os || p.architecture !== want.architecture) return false;
    if (want.variant && p.variant && p.variant !== want.variant) return false;
    return true;
  };
  // An exact variant first, then one without a variant (arm64 images rarely name v8).
  const hit =
    index.manifests.find((d) => fits(d) && (d.platform?.variant ?? '') === (want.variant ?? '')) ??
    index.manifests.find(fits);
  if (!hit) throw new NotFound(`no matching manifest for ${platformString(want)} in the manifest list entries`);
  return hit;
}
