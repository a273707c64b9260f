import type { Readable } from 'node:stream';

/**
 * The most of a refused body read before answering anyway: 64 MiB, or four times the body limit on a
 * server configured for bigger bodies. Past it the client that is still sending gets a reset, as it would
 * without the drain; below it, every mistaken upload we can imagine (a data file pasted as code) is read.
 */
export const drainLimitFor = (bodyLimit: number): number => Math.max(64 * 1024 * 1024, 4 * bodyLimit);

/** A refused body may not hold its connection longer than this, however slowly it trickles in. */
export const DRAIN_TIMEOUT_MS = 30_000;

/**
 * Reads what is left of a request body and throws it away, so that a client which writes its whole body
 * before reading (Python's urllib, most simple clients) gets to read the answer instead of a broken pipe.
 * Chunks are dropped as they come, so memory stays flat; only bandwidth is spent, and that is bounded.
 * Resolves true when the body ended within `maxBytes` and `timeoutMs`, false when it was given up on.
 */
export function drainBody(stream: Readable, maxBytes: number, timeoutMs: number = DRAIN_TIMEOUT_MS): Promise<boolean> {
  if (stream.readableEnded) return Promise.resolve(true);
  if (stream.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    let seen = 0;
    const finish = (ended: boolean) => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onGone);
      stream.off('close', onGone);
      // Removing the listener alone leaves the stream flowing: stop reading what nobody will look at.
      if (!ended) stream.pause();
      resolve(ended);
    };
    const onData = (chunk: Buffer | string) => {
      seen += chunk.length;
      if (seen > maxBytes) finish(false);
    };
    const onEnd = () => finish(true);
    const onGone = () => finish(stream.readableEnded);
    const timer = setTimeout(() => finish(false), timeoutMs);
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onGone);
    stream.on('close', onGone);
    stream.resume();
  });
}
