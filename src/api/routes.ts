// The whole API surface, one registration per resource file.
import { Router } from './router.js';
import { registerSystemRoutes } from './system.js';
import { registerImageRoutes } from './images.js';
import { registerDistributionRoutes } from './distribution.js';
import { registerContainerRoutes } from './containers.js';
import { registerContainerArchiveRoutes } from './container-archive.js';
import { registerContainerStatsRoutes } from './container-stats.js';
import { registerVolumeRoutes } from './volumes.js';
import { registerVolumeBackupRoutes } from './volume-backup.js';
import { registerBuildRoutes } from './build.js';
import { registerNetworkRoutes } from './networks.js';
import { registerSystemDfRoutes } from './system-df.js';
import { registerSystemCheckRoutes } from './system-check.js';
import { registerUnimplementedRoutes } from './unimplemented.js';

export function buildRouter(): Router {
  const router = new Router();
  registerSystemRoutes(router);
  registerDistributionRoutes(router);
  registerImageRoutes(router);
  registerContainerRoutes(router);
  registerContainerArchiveRoutes(router);
  registerContainerStatsRoutes(router);
  registerVolumeRoutes(router);
  registerVolumeBackupRoutes(router);
  registerBuildRoutes(router);
  registerNetworkRoutes(router);
  registerSystemDfRoutes(router);
  registerSystemCheckRoutes(router);
  registerUnimplementedRoutes(router);
  return router;
}
