// Discovery and lazy activation of v1 volume plugins, as Docker's pkg/plugins does: a plugin
// named NAME is NAME.sock (or NAME/NAME.sock) in the sockets directory, else NAME.spec (a URL)
// or NAME.json ({"Addr": …}) in the spec directories; the first found wins. It is activated with
// /Plugin.Activate the first time something asks for it, and must implement VolumeDriver.
import fs from 'node:fs';
import path from 'node:path';
import { NotFound, SystemError } from '../errors.js';
import { PluginClient, parsePluginAddress, type PluginAddress } from './plugin-client.js';

export const DEFAULT_PLUGIN_DIRS = ['/run/docker/plugins', '/etc/docker/plugins', '/usr/lib/docker/plugins'];

/** The discovery directories: STRATA_PLUGIN_DIRS (colon-separated) overrides Docker's three. */
export function pluginDirsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const v = env.STRATA_PLUGIN_DIRS;
  return v ? v.split(':').filter(Boolean) : DEFAULT_PLUGIN_DIRS;
}

export interface ActivePlugin {
  name: string;
  client: PluginClient;
  scope: 'local' | 'global';
}

export class PluginRegistry {
  private readonly active = new Map<string, ActivePlugin>();

  constructor(private readonly dirs: string[]) {}

  /** Activated plugin names, for `docker info`. */
  names(): string[] {
    return [...this.active.keys()].sort();
  }

  /**
   * The volume plugin `name`, activating it on first use. Docker keeps looking for a missing
   * plugin for about 15 s (a plugin may still be starting); Strata answers at once, since a
   * plugin that is not there when asked is nearly always not installed.
   */
  async get(name: string): Promise<ActivePlugin> {
    const known = this.active.get(name);
    if (known) return known;
    const address = this.discover(name);
    const wrap = (msg: string) => `error looking up volume plugin ${name}: ${msg}`;
    if (!address) throw new NotFound(wrap(`plugin ${JSON.stringify(name)} not found`));
    const client = new PluginClient(address);
    let implementsList: string[];
    try {
      implementsList = (await client.call<{ Implements?: string[]; Err?: string }>('Plugin.Activate')).Implements ?? [];
    } catch (err) {
      throw new SystemError(wrap((err as Error).message));
    }
    if (!implementsList.includes('VolumeDriver'))
      throw new NotFound(wrap('Plugin does not implement the requested driver'));
    let scope: 'local' | 'global' = 'local';
    try {
      const caps = await client.call<{ Capabilities?: { Scope?: string }; Err?: string }>('VolumeDriver.Capabilities');
      if (caps.Capabilities?.Scope === 'global') scope = 'global';
    } catch {
      /* Capabilities is optional: the defaults apply */
    }
    const plugin = { name, client, scope };
    this.active.set(name, plugin);
    return plugin;
  }

  private discover(name: string): PluginAddress | undefined {
    // A name is a relative path below the directories; nothing may climb out of them.
    if (
      !/^[A-Za-z0-9][A-Za-z0-9_.\-/:]*$/.test(name) ||
      name.split('/').some((s) => s === '..' || s === '.' || s === '')
    )
      return undefined;
    const base = path.basename(name);
    for (const dir of this.dirs) {
      for (const p of [path.join(dir, `${name}.sock`), path.join(dir, name, `${base}.sock`)]) {
        if (isSocket(p)) return { socketPath: p };
      }
    }
    for (const dir of this.dirs) {
      for (const p of [path.join(dir, `${name}.spec`), path.join(dir, name, `${base}.spec`)]) {
        const text = readIfFile(p);
        if (text !== undefined) return parsePluginAddress(text);
      }
      for (const p of [path.join(dir, `${name}.json`), path.join(dir, name, `${base}.json`)]) {
        const text = readIfFile(p);
        if (text === undefined) continue;
        let spec: { Addr?: string };
        try {
          spec = JSON.parse(text) as { Addr?: string };
        } catch (err) {
          throw new SystemError(`plugin spec ${p}: ${(err as Error).message}`);
        }
        if (!spec.Addr) throw new SystemError(`plugin spec ${p} has no Addr`);
        return parsePluginAddress(spec.Addr);
      }
    }
    return undefined;
  }
}

function isSocket(p: string): boolean {
  try {
    return fs.statSync(p).isSocket();
  } catch {
    return false;
  }
}

function readIfFile(p: string): string | undefined {
  try {
    return fs.statSync(p).isFile() ? fs.readFileSync(p, 'utf8') : undefined;
  } catch {
    return undefined;
  }
}
