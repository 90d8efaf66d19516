import type { Router } from './router.js';

export function registerContainerArchiveRoutes(_router: Router): void {}
