// A volume driver backed by a v1 volume plugin (docs: plugins_volume.md). Every call goes to the
// plugin; it alone knows where the bytes are.
import type { VolumeDriver } from './driver.js';
import type { ActivePlugin } from './plugin-registry.js';

interface MountpointAnswer {
  Mountpoint?: string;
  Err?: string;
}

export class PluginVolumeDriver implements VolumeDriver {
  readonly name: string;
  readonly scope: 'local' | 'global';

  constructor(private readonly plugin: ActivePlugin) {
    this.name = plugin.name;
    this.scope = plugin.scope;
  }

  async create(name: string, opts: Record<string, string>): Promise<void> {
    // Docker asks first and creates only what the plugin does not have.
    const known = await this.plugin.client.call('VolumeDriver.Get', { Name: name }).then(
      () => true,
      () => false,
    );
    if (!known) await this.plugin.client.call('VolumeDriver.Create', { Name: name, Opts: opts });
  }

  async remove(name: string): Promise<void> {
    await this.plugin.client.call('VolumeDriver.Remove', { Name: name });
  }

  async path(name: string): Promise<string> {
    return (await this.plugin.client.call<MountpointAnswer>('VolumeDriver.Path', { Name: name })).Mountpoint ?? '';
  }

  async mount(name: string, _opts: Record<string, string>, id: string): Promise<string> {
    return (
      (await this.plugin.client.call<MountpointAnswer>('VolumeDriver.Mount', { Name: name, ID: id })).Mountpoint ?? ''
    );
  }

  async unmount(name: string, _opts: Record<string, string>, id: string): Promise<void> {
    await this.plugin.client.call('VolumeDriver.Unmount', { Name: name, ID: id });
  }

  async status(name: string): Promise<Record<string, unknown> | undefined> {
    const r = await this.plugin.client.call<{ Volume?: { Status?: Record<string, unknown> }; Err?: string }>(
      'VolumeDriver.Get',
      { Name: name },
    );
    const s = r.Volume?.Status;
    return s && Object.keys(s).length > 0 ? s : undefined;
  }
}
