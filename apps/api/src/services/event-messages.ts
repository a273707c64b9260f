import {
  compareEventIds,
  type JobEventPayloads,
  type JobEventType,
  type JobView,
  nextEventId,
  type OutputChunk,
  parseEventId,
  type StoredJobEvent,
} from '@sbx/shared';

/** One Server-Sent Event of `GET /jobs/:id/events`; no id for what is not in the stream (a queued job's place). */
export interface EventMessage {
  id?: string;
  event: JobEventType;
  /** The payload; for `result`, the job's view as `GET /jobs/:id` answers it. */
  data: JobEventPayloads[Exclude<JobEventType, 'result'>] | JobView;
}

/** How long a browser waits before reconnecting a dropped stream (SSE `retry:`). */
export const RECONNECT_MS = 1000;

/** A stream entry as a message; the result marker becomes the view the caller read. */
export function messageOf(event: StoredJobEvent, view: JobView): EventMessage {
  if (event.type === 'result') return { id: event.id, event: 'result', data: view };
  return { id: event.id, event: event.type, data: event.data };
}

/**
 * The events of a finished job whose stream is gone (expired after its result, or never written):
 * its output as one event per stream, `truncated` if the cap cut it, then the result. Ids `0-1`,
 * `0-2`, ... sort below any real entry's and are the same on every call, so a resume skips exactly
 * what the viewer has. A viewer resuming from a real id (its stream expired while it was away) is
 * told `run` first: what it shows is replaced by the rebuilt output.
 */
export function rebuiltMessages(view: JobView, lastEventId: string | null, capBytes: number): EventMessage[] {
  const result = view.result;
  const events: Omit<EventMessage, 'id'>[] = [];
  if (result) {
    const encoded = result.output_encoding === 'base64';
    const chunk = (s: string): OutputChunk => (encoded ? { base64: s } : { text: s });
    if (result.stdout) events.push({ event: 'stdout', data: chunk(result.stdout) });
    if (result.stderr) events.push({ event: 'stderr', data: chunk(result.stderr) });
    if (result.stdout_truncated || result.stderr_truncated)
      events.push({ event: 'truncated', data: { limit_bytes: capBytes } });
  }
  events.push({ event: 'result', data: view });
  const numbered = events.map((e, i) => ({ ...e, id: `0-${i + 1}` }));
  const last = parseEventId(lastEventId);
  if (!last) return numbered;
  if (last.ms > 0n) return [{ event: 'run', data: { attempt: result?.attempts ?? 1 } }, ...numbered];
  return numbered.filter((m) => compareEventIds(m.id, lastEventId as string) > 0);
}

/**
 * Where a stream without its result marker ends (the result was stored where no marker is written,
 * or the marker was lost): the result, with the id right after the stream's last.
 */
export function closingResult(lastStreamId: string, view: JobView): EventMessage {
  return { id: nextEventId(lastStreamId), event: 'result', data: view };
}
