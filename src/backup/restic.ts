// Drives the restic binary: one child process per operation, JSON on stdout, the repository
// and password passed through the environment (never on a command line others can read).
import { execFile, spawn } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { Forbidden, InvalidParameter, NotFound, SystemError, Unavailable } from '../errors.js';
import { initRepository } from './restic-init.js';

const run = promisify(execFile);

/** Used when the user gives none: the repository is then checksummed but not secret. */
export const DEFAULT_PASSWORD = 'strata';

export interface Repository {
  /** An absolute directory, or a restic location such as `rclone:remote:path`. */
  location: string;
  password: string;
}

export function isLocal(location: string): boolean {
  return location.startsWith('/');
}

/** Validates a user-given repository location. */
export function repositoryOf(location: string | undefined, password?: string): Repository {
  if (!location) throw new InvalidParameter('a backup repository is required (--to/--from DIR or rclone:REMOTE:PATH)');
  if (!isLocal(location) && !/^(rclone|sftp|s3|rest|b2|azure|gs|swift):/.test(location)) {
    throw new InvalidParameter(
      `invalid backup repository "${location}": give an absolute directory or rclone:REMOTE:PATH`,
    );
  }
  return { location: isLocal(location) ? path.resolve(location) : location, password: password || DEFAULT_PASSWORD };
}

export interface RunOptions {
  /** Called with each JSON object restic prints (status lines of --json commands). */
  onJson?: (msg: Record<string, any>) => void;
  cwd?: string;
  signal?: AbortSignal;
}

/** Runs `restic ARGS` against `repo`; resolves with stdout, rejects with a typed error from restic's message. */
export function restic(repo: Repository, args: string[], opts: RunOptions = {}): Promise<string> {
  const global = ['--repo', repo.location];
  // A local repository is as fast to read as a cache of it; remote ones use restic's default cache.
  if (isLocal(repo.location)) global.push('--no-cache');
  return new Promise((resolve, reject) => {
    const child = spawn('restic', [...global, ...args], {
      cwd: opts.cwd,
      env: {
        ...process.env,
        RESTIC_PASSWORD: repo.password,
        RESTIC_PASSWORD_FILE: '',
        RESTIC_PASSWORD_COMMAND: '',
        RESTIC_REPOSITORY: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: opts.signal,
    });
    let out = '';
    let err = '';
    let pending = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      if (!opts.onJson) {
        out += s;
        return;
      }
      pending += s;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        out += line + '\n';
        if (line.startsWith('{')) {
          try {
            opts.onJson(JSON.parse(line));
          } catch {
            /* a partial or non-JSON line: keep it in out */
          }
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      if (err.length < 65536) err += s;
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'ENOENT' ? new Unavailable('restic is not installed: run scripts/install-deps.sh') : e);
    });
    child.on('close', (code) => {
      out += pending;
      if (code === 0) resolve(out);
      else reject(resticError(repo, err || out, code));
    });
  });
}

function resticError(repo: Repository, text: string, code: number | null): Error {
  const msg =
    text
      .trim()
      .split('\n')
      .filter((l) => l && !l.startsWith('{'))
      .slice(-3)
      .join('; ') || `restic exited with ${code}`;
  if (
    /Is there a repository at the following location|unable to open config file|repository does not exist/.test(text)
  ) {
    return new NotFound(`no backup repository at ${repo.location}`);
  }
  if (/wrong password or no key found/.test(text))
    return new Forbidden(`wrong password for backup repository ${repo.location}`);
  if (/no matching ID found|invalid snapshot ID|no snapshot found|ambiguous/.test(text))
    return new NotFound(msg.replace(/^Fatal: /, ''));
  return new SystemError(`restic: ${msg.replace(/^Fatal: /, '')}`);
}

/** Creates the repository (format 2: zstd compression) unless one is there already. */
export async function ensureRepository(repo: Repository): Promise<void> {
  if (isLocal(repo.location)) {
    if (fs.existsSync(path.join(repo.location, 'config'))) return;
    const entries = fs.existsSync(repo.location) ? fs.readdirSync(repo.location) : [];
    if (entries.length > 0) throw new InvalidParameter(`${repo.location} is not empty and is not a backup repository`);
    initRepository(repo.location, repo.password);
    return;
  }
  try {
    await restic(repo, ['--no-lock', 'cat', 'config']);
  } catch (err) {
    if (!(err instanceof NotFound)) throw err;
    if (!repo.location.startsWith('rclone:')) {
      await restic(repo, ['init', '--repository-version', '2']);
      return;
    }
    // Made locally (with the light key) and copied up: the same repository restic would make.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-repository-'));
    try {
      initRepository(path.join(tmp, 'repo'), repo.password);
      await run('rclone', [
        'copy',
        '--create-empty-src-dirs',
        '--',
        path.join(tmp, 'repo'),
        repo.location.slice('rclone:'.length),
      ]);
    } catch (e) {
      throw new SystemError(
        `creating ${repo.location}: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`,
      );
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
}
