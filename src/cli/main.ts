// The `strata` command: the daemon, and the few things the docker CLI cannot do.
import { Command } from 'commander';
import { mergeConfig, readConfigFile } from '../system/daemon-config.js';
import { DEFAULT_HOST, requestJson, resolveHost } from './client.js';
import { STRATA_VERSION } from '../version.js';
import { registerVolumeCommands } from './volume.js';
import { registerSystemCommands } from './system.js';
import { registerImageCommands } from './image.js';

const program = new Command('strata')
  .description("Strata: Docker's storage system as a daemon, driven by the docker CLI")
  .version(STRATA_VERSION)
  // Program options only before the subcommand, so `strata daemon --host` is the daemon's own listen address.
  .enablePositionalOptions()
  .option('-H, --host <host>', 'daemon socket to connect to (default: $DOCKER_HOST or ' + DEFAULT_HOST + ')');

program
  .command('daemon')
  .description('run the engine: serve the Docker Engine API on a unix socket')
  .option('--data-root <dir>', 'root of persistent state', '/var/lib/strata')
  .option('--host <host>', 'socket to listen on', DEFAULT_HOST)
  .option('--exec-root <dir>', 'root of runtime state (default: beside the socket)')
  .option(
    '--storage-driver <name>',
    'overlay2, fuse-overlayfs, vfs or btrfs (default: btrfs on a btrfs data-root, else overlay2 where the kernel can mount it, else fuse-overlayfs where installed, else vfs)',
  )
  .option('--log-level <level>', 'debug, info, warn, error or fatal', 'info')
  .option('--metrics-addr <host:port>', 'serve Prometheus metrics at http://host:port/metrics (off by default)')
  .option(
    '--seccomp-profile <file>',
    "seccomp profile in Docker's format for containers without --security-opt seccomp= (default: Docker's)",
  )
  .option('--init', 'run an init inside containers by default (docker-init, i.e. tini)')
  .option('--init-path <path>', 'the init binary bound into containers at /sbin/docker-init')
  .option('--config-file <file>', 'daemon configuration file (daemon.json keys)', '/etc/strata/daemon.json')
  .option(
    '--insecure-registry <registry...>',
    'registries (host:port or CIDR) spoken to without verified TLS; loopback ones always are',
  )
  .option('--registry-mirror <url...>', 'mirrors tried before Docker Hub')
  .option(
    '--certs-dir <dir>',
    'root of per-registry TLS files (<dir>/<host:port>/ca.crt, client.cert, client.key)',
    process.env.STRATA_CERTS_DIR || '/etc/docker/certs.d',
  )
  .action(
    async (
      flags: {
        dataRoot: string;
        host: string;
        execRoot?: string;
        storageDriver?: string;
        logLevel: string;
        configFile: string;
        metricsAddr?: string;
        insecureRegistry?: string[];
        registryMirror?: string[];
        certsDir: string;
        seccompProfile?: string;
        init?: boolean;
        initPath?: string;
      },
      cmd: Command,
    ) => {
      try {
        const given = new Set(Object.keys(flags).filter((k) => cmd.getOptionValueSource(k) === 'cli'));
        const file = readConfigFile(flags.configFile, given.has('configFile'));
        const opts = mergeConfig(
          { ...flags, insecureRegistries: flags.insecureRegistry, registryMirrors: flags.registryMirror },
          renameFlags(given),
          file,
          flags.configFile,
        );
        // Loaded only here: the client commands start without the daemon's modules.
        const { runDaemon } = await import('../daemon.js');
        const { reportFatalErrorsToStderr } = await import('../system/crash-report.js');
        reportFatalErrorsToStderr();
        await runDaemon(opts);
      } catch (err) {
        process.stderr.write(`strata daemon: ${(err as Error).message}\n`);
        process.exit(1);
      }
    },
  );

/** The registry flags are singular (as dockerd's), their daemon.json keys plural. */
function renameFlags(given: Set<string>): Set<string> {
  const out = new Set(given);
  if (out.delete('insecureRegistry')) out.add('insecureRegistries');
  if (out.delete('registryMirror')) out.add('registryMirrors');
  return out;
}

program
  .command('version')
  .description('show the client and daemon versions')
  .action(async () => {
    const host = resolveHost(program.opts().host);
    const v = await requestJson<{ Version: string; ApiVersion: string }>(host, 'GET', '/version');
    process.stdout.write(`client: ${STRATA_VERSION}\nserver: ${v.Version} (API ${v.ApiVersion}) at ${host}\n`);
  });

registerVolumeCommands(program, () => resolveHost(program.opts().host));
registerSystemCommands(program, () => resolveHost(program.opts().host));
registerImageCommands(program, () => resolveHost(program.opts().host));

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
