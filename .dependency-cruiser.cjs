// The rule between rooms (DESIGN.md): dependencies point down only. api/ and cli/ on top;
// services (image, container, volume, builder, backup, distribution, network, system) below them; mechanisms (content,
// archive, snapshot, runtime, mount, meta, native, util) at the bottom. daemon.ts is the
// composition root and the only place besides api/ that sees the whole Engine.
const MECHANISMS = '^src/(content|archive|snapshot|runtime|mount|meta|native|util)/';
const SERVICES = '^src/(image|container|volume|builder|system|backup|distribution|network)/';
// Rooms the API reaches through their backend.ts roles only; the deferred ones load at first call.
const ROLE_ROOMS = '^src/(network|builder|backup|distribution)/';
const DEFERRED_ROOMS = '^src/(builder|backup|distribution)/';

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
        'The API reaches each service through its roles (the backend.ts of container, image, network, builder, backup and distribution), never the classes behind them.',
      from: { path: '^src/api/' },
      to: {
        path: '^src/(container/service|image/(service|store-backend)|network/service|builder/(service|builder)|backup/service|distribution/service)\\.ts$',
      },
    },
    {
      name: 'api-sees-only-role-types',
      severity: 'error',
      comment:
        'Of the network, builder, backup and distribution rooms the API knows only the roles in their backend.ts, and their types only: nothing of a deferred room is loaded before its first call.',
      from: { path: '^src/api/' },
      to: { path: `${ROLE_ROOMS}`, pathNot: '/backend\\.ts$' },
    },
    {
      name: 'api-imports-roles-as-types',
      severity: 'error',
      comment: 'A role is a type: importing its file for a value would load the room with the API.',
      from: { path: '^src/api/' },
      to: { path: `${ROLE_ROOMS}`, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'deferred-rooms-load-at-first-call',
      severity: 'error',
      comment:
        'The builder, backups and the registry client are loaded at their first call (util/deferred.ts): outside their rooms they are imported for types or dynamically, never statically for a value.',
      from: { path: '^src/', pathNot: DEFERRED_ROOMS },
      to: { path: DEFERRED_ROOMS, dependencyTypesNot: ['type-only', 'dynamic-import'] },
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
