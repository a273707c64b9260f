/**
 * x86-64 Linux signal numbers 1-31 and their names, as signal(7) lists them: one table for the
 * worker's messages and the compat APIs (Judge0 picks its status by number, Piston reports names).
 */
const SIGNALS: readonly (readonly [number, string])[] = [
  [1, 'SIGHUP'],
  [2, 'SIGINT'],
  [3, 'SIGQUIT'],
  [4, 'SIGILL'],
  [5, 'SIGTRAP'],
  [6, 'SIGABRT'],
  [7, 'SIGBUS'],
  [8, 'SIGFPE'],
  [9, 'SIGKILL'],
  [10, 'SIGUSR1'],
  [11, 'SIGSEGV'],
  [12, 'SIGUSR2'],
  [13, 'SIGPIPE'],
  [14, 'SIGALRM'],
  [15, 'SIGTERM'],
  [16, 'SIGSTKFLT'],
  [17, 'SIGCHLD'],
  [18, 'SIGCONT'],
  [19, 'SIGSTOP'],
  [20, 'SIGTSTP'],
  [21, 'SIGTTIN'],
  [22, 'SIGTTOU'],
  [23, 'SIGURG'],
  [24, 'SIGXCPU'],
  [25, 'SIGXFSZ'],
  [26, 'SIGVTALRM'],
  [27, 'SIGPROF'],
  [28, 'SIGWINCH'],
  [29, 'SIGIO'],
  [30, 'SIGPWR'],
  [31, 'SIGSYS'],
];

const BY_NUMBER = new Map(SIGNALS);
const BY_NAME = new Map(SIGNALS.map(([n, name]) => [name, n]));

/** "SIGSEGV" for 11; null for a number outside 1-31. */
export function signalName(n: number): string | null {
  return BY_NUMBER.get(n) ?? null;
}

/** 11 for "SIGSEGV" (or "SEGV", any case); null for a name not in the table. */
export function signalNumber(name: string): number | null {
  const upper = name.trim().toUpperCase();
  return BY_NAME.get(upper.startsWith('SIG') ? upper : `SIG${upper}`) ?? null;
}
