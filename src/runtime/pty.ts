// Pseudo-terminals through libc (Node has no openpty): the daemon keeps the master, the
// runtime gets the slave as its stdio and bridges it to the container's own terminal.
import fs from 'node:fs';
import koffi from 'koffi';

interface Libc {
  posix_openpt(flags: number): number;
  grantpt(fd: number): number;
  unlockpt(fd: number): number;
  ptsname_r(fd: number, buf: Buffer, len: number): number;
  ioctl(fd: number, req: number, arg: Buffer): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  tcgetattr(fd: number, termios: Buffer): number;
  cfmakeraw(termios: Buffer): void;
  tcsetattr(fd: number, action: number, termios: Buffer): number;
}

let libc: Libc | undefined;
function load(): Libc {
  if (libc) return libc;
  const lib = koffi.load('libc.so.6');
  libc = {
    posix_openpt: lib.func('int posix_openpt(int flags)'),
    grantpt: lib.func('int grantpt(int fd)'),
    unlockpt: lib.func('int unlockpt(int fd)'),
    ptsname_r: lib.func('int ptsname_r(int fd, _Out_ uint8_t *buf, size_t len)'),
    ioctl: lib.func('int ioctl(int fd, unsigned long req, _Inout_ uint8_t *arg)'),
    fcntl: lib.func('int fcntl(int fd, int cmd, int arg)'),
    tcgetattr: lib.func('int tcgetattr(int fd, _Out_ uint8_t *termios)'),
    cfmakeraw: lib.func('void cfmakeraw(_Inout_ uint8_t *termios)'),
    tcsetattr: lib.func('int tcsetattr(int fd, int action, const uint8_t *termios)'),
  } as unknown as Libc;
  return libc;
}

const TIOCSWINSZ = 0x5414;
const F_GETFL = 3;
const F_SETFL = 4;
const TCSANOW = 0;
/** struct termios is 60 bytes with glibc on every Linux architecture Node runs on; room to spare. */
const TERMIOS_SIZE = 128;

export interface Pty {
  master: number;
  slave: number;
}

export function openPty(): Pty {
  const c = load();
  const master = c.posix_openpt(fs.constants.O_RDWR | fs.constants.O_NOCTTY);
  if (master < 0) throw new Error('posix_openpt failed');
  try {
    if (c.grantpt(master) !== 0 || c.unlockpt(master) !== 0) throw new Error('grantpt/unlockpt failed');
    const buf = Buffer.alloc(128);
    if (c.ptsname_r(master, buf, buf.length) !== 0) throw new Error('ptsname_r failed');
    const name = buf.toString('utf8', 0, buf.indexOf(0));
    const slave = fs.openSync(name, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
    try {
      makeRaw(c, slave);
    } catch (err) {
      fs.closeSync(slave);
      throw err;
    }
    return { master, slave };
  } catch (err) {
    fs.closeSync(master);
    throw err;
  }
}

/**
 * This terminal only carries bytes between the daemon and the runtime, which bridges it to the
 * container's own terminal, where the line discipline belongs. Left cooked, it would translate
 * output a second time (the container's "\r\n" arriving as "\r\r\n") whenever the process wrote
 * before the runtime set it raw, and echo input the container's terminal already echoes.
 */
function makeRaw(c: Libc, fd: number): void {
  const t = Buffer.alloc(TERMIOS_SIZE);
  if (c.tcgetattr(fd, t) !== 0) throw new Error('tcgetattr failed');
  c.cfmakeraw(t);
  if (c.tcsetattr(fd, TCSANOW, t) !== 0) throw new Error('tcsetattr failed');
}

export function setWindowSize(fd: number, height: number, width: number): void {
  const ws = Buffer.alloc(8);
  ws.writeUInt16LE(height, 0);
  ws.writeUInt16LE(width, 2);
  load().ioctl(fd, TIOCSWINSZ, ws);
}

/**
 * libuv keeps a terminal it cannot reopen (a master) in blocking mode; then one write to a
 * terminal whose process reads no input, or one read too many, stops the whole daemon.
 */
export function setNonBlocking(fd: number): void {
  const c = load();
  const flags = c.fcntl(fd, F_GETFL, 0);
  if (flags < 0 || c.fcntl(fd, F_SETFL, flags | fs.constants.O_NONBLOCK) < 0)
    throw new Error('fcntl O_NONBLOCK failed');
}
