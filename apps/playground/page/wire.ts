/**
 * The API's wire types, from the server's own schemas (type-only: nothing of @sbx/shared reaches the
 * bundle), plus what the interactive-input contract of issue 21 adds until the shared schemas carry it.
 */
import type { JobEventPayloads, JobRequest, ServiceInfo } from '@sbx/shared';

export type {
  Artifact,
  ErrorBody,
  JobAccepted,
  JobEventType,
  JobView,
  OutputChunk,
  RunResult,
  RunStatus,
  StatusPayload,
  TestCase,
  TestResult,
  TestVerdict,
} from '@sbx/shared';
export type { JobEventPayloads };

/** `limits.interactive` in GET /info: present once the server runs interactive jobs. */
export interface InteractiveLimits {
  wall_ms: number;
  idle_input_ms: number;
  max_input_call_bytes: number;
  max_input_bytes: number;
}

export type Info = ServiceInfo & { limits: ServiceInfo['limits'] & { interactive?: InteractiveLimits } };

/** A job as the page submits it: `interactive` keeps the program's stdin open for POST /jobs/:id/stdin. */
export type Submission = JobRequest & { interactive?: boolean };

/** POST /jobs/:id/stdin's answer: the bytes accepted so far (after the body's stdin), and whether stdin is closed. */
export interface StdinAccepted {
  offset: number;
  eof: boolean;
}
