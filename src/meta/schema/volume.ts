// Tables owned by the volume room.
import type { Migration } from './index.js';

export const volumeMigrations: Migration[] = [];
