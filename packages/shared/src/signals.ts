/**
 * Linux signal names on x86-64 (signal(7)), numbers 1-31: the one table compat APIs name a
 * program's signal with (Piston's `signal`, Judge0's statuses). Real-time signals have no name here.
 */
const SIGNAL_NAMES: readonly string[] = [
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGILL',
  'SIGTRAP',
  'SIGABRT',
  'SIGBUS',
  'SIGFPE',
  'SIGKILL',
  'SIGUSR1',
  'SIGSEGV',
  'SIGUSR2',
  'SIGPIPE',
  'SIGALRM',
  'SIGTERM',
  'SIGSTKFLT',
  'SIGCHLD',
  'SIGCONT',
  'SIGSTOP',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGURG',
  'SIGXCPU',
  'SIGXFSZ',
  'SIGVTALRM',
  'SIGPROF',
  'SIGWINCH',
  'SIGIO',
  'SIGPWR',
  'SIGSYS',
];

/** The name of signal `n` ("SIGKILL" for 9); null outside 1-31. */
export function signalName(n: number): string | null {
  return Number.isInteger(n) && n >= 1 && n <= SIGNAL_NAMES.length ? (SIGNAL_NAMES[n - 1] ?? null) : null;
}

/** The number of a signal named with or without its SIG prefix, in any case ("SIGKILL", "kill": 9); null when unknown. */
export function signalNumber(name: string): number | null {
  const upper = name.trim().toUpperCase();
  const index = SIGNAL_NAMES.indexOf(upper.startsWith('SIG') ? upper : `SIG${upper}`);
  return index < 0 ? null : index + 1;
}
