// Signal names as the API accepts them ("KILL", "SIGKILL", "9") and as events report them.
const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGUSR1: 10, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15,
  SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19, SIGTSTP: 20, SIGWINCH: 28,
};

export function normalizeSignal(sig: string): string {
  const s = String(sig).toUpperCase();
  if (/^\d+$/.test(s)) return s;
  return s.startsWith('SIG') ? s : `SIG${s}`;
}

export function signalNumber(sig: string): string {
  return /^\d+$/.test(sig) ? sig : String(SIGNAL_NUMBERS[sig] ?? sig);
}
