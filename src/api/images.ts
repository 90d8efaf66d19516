import type { Router } from './router.js';

export function registerImageRoutes(_router: Router): void {}
