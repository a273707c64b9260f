/** What Run submits (pure: unit-tested). */
import type { Info, Submission } from './wire.js';

export interface TestCaseDraft {
  stdin: string;
  expected_output: string;
}

export interface RunRequest {
  code: string;
  environment: string | undefined;
  stdin: string;
  /** Judge against these; null for a plain run. */
  tests: TestCaseDraft[] | null;
}

/**
 * Whether a run keeps the program's stdin open for the input line: when the server runs interactive
 * jobs (GET /info lists `limits.interactive`) and the run is not judged against tests (the API takes
 * `interactive` only for a single run).
 */
export function wantsInteractive(request: RunRequest, info: Info | null): boolean {
  return request.tests === null && info?.limits.interactive !== undefined;
}

/** The job the page submits: interactive when the server supports it, in the interactive lane when allowed. */
export function submission(request: RunRequest, info: Info | null, interactive: boolean): Submission {
  const body: Submission = { code: request.code };
  if (request.environment) body.environment = request.environment;
  if (request.stdin) body.stdin = request.stdin;
  if (request.tests) body.tests = request.tests.map((t) => ({ stdin: t.stdin, expected_output: t.expected_output }));
  if (info?.lanes.includes('interactive')) body.lane = 'interactive';
  if (interactive) body.interactive = true;
  return body;
}
