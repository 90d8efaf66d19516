// Tables owned by the image room.
import type { Migration } from './index.js';

export const imageMigrations: Migration[] = [];
