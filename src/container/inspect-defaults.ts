// The shape of Config and HostConfig in `docker inspect`: dockerd answers with every field of
// its Go structs, zero values included (SDKs and compose index them without checking), in the
// structs' order. A container created through the API with a sparse body is shown the same way.

/** Field order of dockerd 20.10's HostConfig; undefined means "shown only when set" (daemon-filled). */
const HOST_CONFIG: [string, unknown][] = [
  ['Binds', null],
  ['ContainerIDFile', ''],
  ['LogConfig', undefined],
  ['NetworkMode', undefined],
  ['PortBindings', null],
  ['RestartPolicy', { Name: '', MaximumRetryCount: 0 }],
  ['AutoRemove', false],
  ['VolumeDriver', ''],
  ['VolumesFrom', null],
  ['CapAdd', null],
  ['CapDrop', null],
  ['CgroupnsMode', undefined],
  ['Dns', null],
  ['DnsOptions', null],
  ['DnsSearch', null],
  ['ExtraHosts', null],
  ['GroupAdd', null],
  ['IpcMode', undefined],
  ['Cgroup', ''],
  ['Links', null],
  ['OomScoreAdj', 0],
  ['PidMode', ''],
  ['Privileged', false],
  ['PublishAllPorts', false],
  ['ReadonlyRootfs', false],
  ['SecurityOpt', null],
  ['StorageOpt', undefined],
  ['Tmpfs', undefined],
  ['UTSMode', ''],
  ['UsernsMode', ''],
  ['ShmSize', undefined],
  ['Sysctls', undefined],
  ['Runtime', undefined],
  ['ConsoleSize', [0, 0]],
  ['Isolation', ''],
  ['CpuShares', 0],
  ['Memory', 0],
  ['NanoCpus', 0],
  ['CgroupParent', ''],
  ['BlkioWeight', 0],
  ['BlkioWeightDevice', null],
  ['BlkioDeviceReadBps', null],
  ['BlkioDeviceWriteBps', null],
  ['BlkioDeviceReadIOps', null],
  ['BlkioDeviceWriteIOps', null],
  ['CpuPeriod', 0],
  ['CpuQuota', 0],
  ['CpuRealtimePeriod', 0],
  ['CpuRealtimeRuntime', 0],
  ['CpusetCpus', ''],
  ['CpusetMems', ''],
  ['Devices', null],
  ['DeviceCgroupRules', null],
  ['DeviceRequests', null],
  ['KernelMemory', 0],
  ['KernelMemoryTCP', 0],
  ['MemoryReservation', 0],
  ['MemorySwap', 0],
  ['MemorySwappiness', null],
  ['OomKillDisable', false],
  ['PidsLimit', null],
  ['Ulimits', null],
  ['CpuCount', 0],
  ['CpuPercent', 0],
  ['IOMaximumIOps', 0],
  ['IOMaximumBandwidth', 0],
  ['Mounts', undefined],
  ['MaskedPaths', undefined],
  ['ReadonlyPaths', undefined],
  ['Init', undefined],
];

/** Field order of dockerd 20.10's container Config. */
const CONFIG: [string, unknown][] = [
  ['Hostname', ''],
  ['Domainname', ''],
  ['User', ''],
  ['AttachStdin', false],
  ['AttachStdout', false],
  ['AttachStderr', false],
  ['ExposedPorts', undefined],
  ['Tty', false],
  ['OpenStdin', false],
  ['StdinOnce', false],
  ['Env', undefined],
  ['Cmd', undefined],
  ['Healthcheck', undefined],
  ['ArgsEscaped', undefined],
  ['Image', ''],
  ['Volumes', null],
  ['WorkingDir', ''],
  ['Entrypoint', null],
  ['NetworkDisabled', undefined],
  ['MacAddress', undefined],
  ['OnBuild', null],
  ['Labels', {}],
  ['StopSignal', undefined],
  ['StopTimeout', undefined],
  ['Shell', undefined],
];

function ordered(fields: [string, unknown][], stored: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, zero] of fields) {
    if (stored[k] !== undefined) out[k] = stored[k];
    else if (zero !== undefined) out[k] = zero;
  }
  for (const [k, v] of Object.entries(stored)) if (!(k in out) && v !== undefined) out[k] = v;
  return out;
}

export function hostConfigJson(hostConfig: Record<string, unknown>): Record<string, unknown> {
  return ordered(HOST_CONFIG, hostConfig);
}

export function configJson(config: Record<string, unknown>): Record<string, unknown> {
  const out = ordered(CONFIG, config);
  // dockerd keeps no empty volume set: `{}` from the CLI reads back as null.
  if (out.Volumes && typeof out.Volumes === 'object' && Object.keys(out.Volumes).length === 0) out.Volumes = null;
  return out;
}
