// The rule between rooms (DESIGN.md): dependencies point down only. api/ and cli/ on top;
// services (image, container, volume, builder, backup, distribution, network, system) below them; mechanisms (content,
// archive, snapshot, runtime, mount, meta, native, util) at the bottom. daemon.ts is the
// composition root and the only place besides api/ that sees the whole Engine.
const MECHANISMS = '^src/(content|archive|snapshot|runtime|mount|meta|native|util)/';
const SERVICES = '^src/(image|container|volume|builder|system|backup|distribution|network)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle makes both rooms one; break it with an interface the lower side declares.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'mechanisms-never-import-services',
      severity: 'error',
      comment: 'A mechanism serves every service and knows none of them.',
      from: { path: MECHANISMS },
      to: { path: `${SERVICES}|^src/(api|cli)/|^src/(daemon|engine)\\.ts$` },
    },
    {
      name: 'services-never-import-api-or-cli',
      severity: 'error',
      comment: 'The API and the CLI call services, never the other way round.',
      from: { path: SERVICES },
      to: { path: '^src/(api|cli)/|^src/daemon\\.ts$' },
    },
    {
      name: 'only-api-and-daemon-see-engine',
      severity: 'error',
      comment: 'A room below api/ declares the small interface it needs instead of taking the whole Engine.',
      from: { path: '^src/', pathNot: '^src/(api/|daemon\\.ts$|engine\\.ts$)' },
      to: { path: '^src/engine\\.ts$' },
    },
    {
      name: 'api-calls-roles-not-classes',
      severity: 'error',
      comment:
        'The API reaches containers and images through their roles (container/backend.ts, image/backend.ts), never the classes behind them.',
      from: { path: '^src/api/' },
      to: { path: '^src/(container/service|image/service|image/store-backend)\\.ts$' },
    },
    {
      name: 'tests-do-not-ship',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
