// Signal names as the API accepts them ("KILL", "SIGKILL", "9", "RTMIN+3") and as events report
// them, with Docker's refusals: an unknown name or 0 is the caller's mistake (400), a number
// Linux has no signal for is refused when the kill is attempted.
import { InvalidParameter, SystemError } from '../errors.js';

const BASE: Record<string, number> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  IOT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  POLL: 29,
  PWR: 30,
  SYS: 31,
  UNUSED: 31,
};
const RTMIN = 34;
const RTMAX = 64;

/** Every name Docker's Linux signal map knows, without the SIG prefix, the real-time ones included. */
const SIGNALS: Record<string, number> = (() => {
  const map: Record<string, number> = { ...BASE, RTMIN, RTMAX };
  for (let i = 1; i <= 15; i++) {
    map[`RTMIN+${i}`] = RTMIN + i;
    map[`RTMAX-${i}`] = RTMAX - i;
  }
  return map;
})();

/** The signal `raw` names, as dockerd parses the kill and stop `signal` parameters. */
export function parseSignal(raw: string): number {
  if (/^[-+]?\d+$/.test(raw)) {
    const n = Number(raw);
    if (n === 0) throw new InvalidParameter(`Invalid signal: ${raw}`);
    return n;
  }
  const n = SIGNALS[raw.toUpperCase().replace(/^SIG/, '')];
  if (n === undefined) throw new InvalidParameter(`Invalid signal: ${raw}`);
  return n;
}

/** Refuses a number Linux has no signal for, in dockerd's words (Go prints it as unsigned). */
export function checkSignalForPlatform(sig: number, ref: string): void {
  if (sig >= 1 && sig <= RTMAX) return;
  const shown = sig < 0 ? BigInt.asUintN(64, BigInt(sig)).toString() : String(sig);
  throw new SystemError(`Cannot kill container: ${ref}: The linux daemon does not support signal ${shown}`);
}

export function normalizeSignal(sig: string): string {
  const s = String(sig).toUpperCase();
  if (/^\d+$/.test(s)) return s;
  return s.startsWith('SIG') ? s : `SIG${s}`;
}

export function signalNumber(sig: string): string {
  return /^\d+$/.test(sig) ? sig : String(SIGNALS[sig.replace(/^SIG/, '')] ?? sig);
}
