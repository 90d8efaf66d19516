import type { Router } from './router.js';

export function registerVolumeBackupRoutes(_router: Router): void {}
