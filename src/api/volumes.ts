import type { Router } from './router.js';

export function registerVolumeRoutes(_router: Router): void {}
