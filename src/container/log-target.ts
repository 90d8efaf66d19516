// Where each log driver keeps a container's log and in which format, as dockerd lays them out:
// json-file beside the container's config as <id>-json.log, local in a local-logs/ directory of
// its own (a file dockerd keeps out of inspect's LogPath, its layout being no stable API).
import path from 'node:path';
import type { LogTarget } from './log-file.js';
import { jsonFileFormat } from './json-log.js';
import { localFormat } from './local-log.js';

export function logTargetOf(containerDir: string, id: string, driver: string | undefined): LogTarget {
  if (driver === 'local') return { file: path.join(containerDir, 'local-logs', 'container.log'), format: localFormat };
  return { file: path.join(containerDir, `${id}-json.log`), format: jsonFileFormat };
}

/** inspect's LogPath: json-file's file; nothing for the drivers whose files are private. */
export function inspectLogPath(containerDir: string, id: string, driver: string | undefined): string {
  return driver === 'none' || driver === 'local' ? '' : logTargetOf(containerDir, id, driver).file;
}
