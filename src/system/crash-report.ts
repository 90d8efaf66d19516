// A daemon that dies must say why in its own log. glibc writes its fatal messages (heap
// corruption, failed assertions) to the terminal unless LIBC_FATAL_STDERR_ is set when the
// process starts (bin/strata sets it); V8's fatal errors (out of memory, a failed check) get
// Node's diagnostic report, written to stderr, which is the daemon's log.
export function reportFatalErrorsToStderr(): void {
  process.report.reportOnFatalError = true;
  process.report.filename = 'stderr';
}
