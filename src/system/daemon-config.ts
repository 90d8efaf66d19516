// The daemon configuration file (daemon.json), with Docker's rules: unknown keys refuse to
// start, and a setting given both as a flag and in the file is a conflict, not an override.
import fs from 'node:fs';

/** daemon.json keys Strata understands, mapped to the `strata daemon` option they set. */
export const CONFIG_KEYS: Record<string, string> = {
  'data-root': 'dataRoot',
  'exec-root': 'execRoot',
  'storage-driver': 'storageDriver',
  'log-level': 'logLevel',
  hosts: 'host',
  'log-driver': 'logDriver',
  'log-opts': 'logOpts',
  'metrics-addr': 'metricsAddr',
  'seccomp-profile': 'seccompProfile',
  'insecure-registries': 'insecureRegistries',
  'registry-mirrors': 'registryMirrors',
  init: 'init',
  'init-path': 'initPath',
};

export type FileConfig = Record<string, unknown>;

/** Reads the file; a missing default file is an empty config, a missing explicit one an error. */
export function readConfigFile(file: string, explicit: boolean): FileConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return {};
    throw new Error(`unable to configure the Docker daemon with file ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`unable to configure the Docker daemon with file ${file}: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`unable to configure the Docker daemon with file ${file}: not a JSON object`);
  }
  const unknown = Object.keys(parsed).filter((k) => !(k in CONFIG_KEYS));
  if (unknown.length) {
    throw new Error(
      `unable to configure the Docker daemon with file ${file}: the following directives don't match any configuration option: ${unknown.join(', ')}`,
    );
  }
  return parsed as FileConfig;
}

/**
 * Merges file settings into the options: flags given on the command line (`fromFlags`) may
 * not also appear in the file.
 */
export function mergeConfig<T extends Record<string, unknown>>(
  options: T,
  fromFlags: Set<string>,
  file: FileConfig,
  fileName: string,
): T {
  const conflicts: string[] = [];
  const out: Record<string, unknown> = { ...options };
  for (const [key, value] of Object.entries(file)) {
    const opt = CONFIG_KEYS[key]!;
    if (fromFlags.has(opt)) {
      conflicts.push(`${key}: (from flag: ${String(options[opt])}, from file: ${JSON.stringify(value)})`);
      continue;
    }
    if (
      (key === 'insecure-registries' || key === 'registry-mirrors') &&
      (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
    ) {
      throw new Error(`unable to configure the Docker daemon with file ${fileName}: ${key} must be a list of strings`);
    }
    out[opt] = key === 'hosts' ? (Array.isArray(value) ? value[0] : value) : value;
  }
  if (conflicts.length) {
    throw new Error(
      `unable to configure the Docker daemon with file ${fileName}: the following directives are specified both as a flag and in the configuration file: ${conflicts.join(', ')}`,
    );
  }
  return out as T;
}
