// Tables owned by the container room.
import type { Migration } from './index.js';

export const containerMigrations: Migration[] = [];
