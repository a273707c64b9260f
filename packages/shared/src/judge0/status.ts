/**
 * Judge0 CE's fourteen statuses (app/enumerations/status.rb in judge0/judge0 v1.13.1), with the
 * descriptions its clients compare against.
 */
export const JUDGE0_STATUSES = [
  { id: 1, description: 'In Queue' },
  { id: 2, description: 'Processing' },
  { id: 3, description: 'Accepted' },
  { id: 4, description: 'Wrong Answer' },
  { id: 5, description: 'Time Limit Exceeded' },
  { id: 6, description: 'Compilation Error' },
  { id: 7, description: 'Runtime Error (SIGSEGV)' },
  { id: 8, description: 'Runtime Error (SIGXFSZ)' },
  { id: 9, description: 'Runtime Error (SIGFPE)' },
  { id: 10, description: 'Runtime Error (SIGABRT)' },
  { id: 11, description: 'Runtime Error (NZEC)' },
  { id: 12, description: 'Runtime Error (Other)' },
  { id: 13, description: 'Internal Error' },
  { id: 14, description: 'Exec Format Error' },
] as const;

export type Judge0StatusId = (typeof JUDGE0_STATUSES)[number]['id'];
export interface Judge0Status {
  id: Judge0StatusId;
  description: string;
}

export const J0 = {
  queue: 1,
  processing: 2,
  accepted: 3,
  wrongAnswer: 4,
  timeLimit: 5,
  sigsegv: 7,
  sigxfsz: 8,
  sigfpe: 9,
  sigabrt: 10,
  nzec: 11,
  other: 12,
  internal: 13,
} as const satisfies Record<string, Judge0StatusId>;

/** Statuses a Python job here never gets: nothing is compiled, and nothing is exec'd from user bytes. */
export const JUDGE0_NEVER_PRODUCED: readonly Judge0StatusId[] = [6, 14];

export function judge0Status(id: Judge0StatusId): Judge0Status {
  const found = JUDGE0_STATUSES.find((s) => s.id === id);
  return { id, description: found?.description ?? 'Internal Error' };
}

/** Judge0's choice for a run killed by signal `n` (Status.find_runtime_error_by_status_code). */
export function statusForSignal(n: number): Judge0StatusId {
  switch (n) {
    case 11:
      return J0.sigsegv;
    case 25:
      return J0.sigxfsz;
    case 8:
      return J0.sigfpe;
    case 6:
      return J0.sigabrt;
    default:
      return J0.other;
  }
}
