import type { Router } from './router.js';

export function registerContainerRoutes(_router: Router): void {}
