import { DEFAULT_LANE, type Judge0Field, NotUtf8Error, type Tenant } from '@sbx/shared';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { toErrorBody } from '../../plugins/errors.js';
import { invalidFieldsError, requestedFields } from './fields.js';
import { NOT_FOUND, paramsOf, route } from './http.js';
import { MAX_BATCH } from './info.js';
import type { Judge0Submissions } from './submissions.js';

export interface SubmissionRouteOptions {
  submissions: Judge0Submissions;
  /** How long `wait=true` waits (SBX_RUN_WAIT_MS); unfinished then, it answers with the status so far. */
  waitMs: number;
}

interface Reading {
  base64: boolean;
  fields: readonly Judge0Field[];
}

/** base64_encoded and fields as Judge0 reads them; null after answering 400 for unknown fields. */
function readingOf(params: Record<string, unknown>, reply: FastifyReply): Reading | null {
  const { fields, invalid } = requestedFields(params.fields);
  if (invalid.length > 0) {
    reply.status(400).send(invalidFieldsError(invalid));
    return null;
  }
  return { base64: params.base64_encoded === 'true', fields };
}

export function submissionRoutes(app: FastifyInstance, { submissions, waitMs }: SubmissionRouteOptions): void {
  const show = async (token: string, tenant: Tenant, reading: Reading, reply: FastifyReply, status = 200) => {
    try {
      const shown = await submissions.show(token, tenant, reading);
      if (!shown) return reply.status(404).send(NOT_FOUND);
      if (shown.ourStatus) reply.header('x-sbx-status', shown.ourStatus);
      return reply.status(status).send(shown.body);
    } catch (err) {
      if (!(err instanceof NotUtf8Error)) throw err;
      return reply
        .status(status === 201 ? 201 : 400)
        .send({ ...(status === 201 ? { token } : {}), error: err.message });
    }
  };

  route(app, 'POST', '/submissions', async (req, reply) => {
    const params = paramsOf(req);
    const reading = readingOf(params, reply);
    if (!reading) return reply;
    const wait = params.wait === 'true';
    const lane = wait ? DEFAULT_LANE.run : DEFAULT_LANE.jobs;
    const made = await submissions.create(params, {
      base64: reading.base64,
      lane,
      tenant: req.tenant,
      requestId: req.id,
    });
    if ('errors' in made) return reply.status(422).send(made.errors);
    if (!wait) return reply.status(201).send({ token: made.token });
    await submissions.waitFor(made.token, app.queueEvents, waitMs, req.tenant);
    return show(made.token, req.tenant, reading, reply, 201);
  });

  // Listing every submission needs Judge0's authorization token, which we have no notion of.
  route(app, 'GET', '/submissions', async (_req, reply) => reply.status(403).send(''));

  batchRoutes(app, submissions, readingOf);

  route(app, 'GET', '/submissions/:token', async (req, reply) => {
    const reading = readingOf(paramsOf(req), reply);
    if (!reading) return reply;
    return show((req.params as { token: string }).token, req.tenant, reading, reply);
  });

  route(app, 'DELETE', '/submissions/:token', async (_req, reply) =>
    reply.status(400).send({ error: 'delete not allowed' }),
  );
}

const TOO_MANY = { error: `number of submissions in a batch should be less than or equal to ${MAX_BATCH}` };
const NONE = { error: 'there should be at least one submission in a batch' };

/** POST and GET /submissions/batch: each submission on its own, as Judge0 saves each on its own. */
function batchRoutes(
  app: FastifyInstance,
  submissions: Judge0Submissions,
  readingOf: (params: Record<string, unknown>, reply: FastifyReply) => Reading | null,
): void {
  route(app, 'POST', '/submissions/batch', async (req, reply) => {
    const list = (paramsOf(req).submissions ?? []) as unknown;
    const items = Array.isArray(list) ? list : [];
    if (items.length > MAX_BATCH) return reply.status(400).send(TOO_MANY);
    if (items.length === 0) return reply.status(400).send(NONE);
    const base64 = paramsOf(req).base64_encoded === 'true';
    const answers: unknown[] = [];
    for (const item of items) {
      const params = item && typeof item === 'object' ? (item as Record<string, unknown>) : {};
      answers.push(await createOne(submissions, params, { base64, tenant: req.tenant, requestId: req.id }, answers));
    }
    const anyQueued = answers.some((a) => typeof (a as { token?: unknown }).token === 'string');
    return reply.status(anyQueued ? 201 : 422).send(answers);
  });

  route(app, 'GET', '/submissions/batch', async (req, reply) => {
    const params = paramsOf(req);
    const reading = readingOf(params, reply);
    if (!reading) return reply;
    const raw = req.headers.tokens ?? params.tokens;
    const tokens = String(raw ?? '')
      .trim()
      .split(',')
      .filter((t) => t !== '');
    if (tokens.length > MAX_BATCH) return reply.status(400).send(TOO_MANY);
    if (tokens.length === 0) return reply.status(400).send(NONE);
    try {
      const shown = await Promise.all(tokens.map((t) => submissions.show(t.trim(), req.tenant, reading)));
      return { submissions: shown.map((s) => s?.body ?? null) };
    } catch (err) {
      if (!(err instanceof NotUtf8Error)) throw err;
      return reply.status(400).send({
        error:
          'some attributes for one or more submissions cannot be converted to UTF-8, use base64_encoded=true query parameter',
      });
    }
  });
}

/**
 * One submission of a batch. A refusal of the whole queue (full, rate limited) before any was queued
 * is the batch's answer, as Judge0 checks the queue first; after some were queued, their tokens must
 * not be lost, so it becomes this one's `{"error": ...}`.
 */
async function createOne(
  submissions: Judge0Submissions,
  params: Record<string, unknown>,
  ctx: { base64: boolean; tenant: Tenant; requestId: string },
  earlier: unknown[],
): Promise<unknown> {
  try {
    const made = await submissions.create(params, { ...ctx, lane: DEFAULT_LANE.jobs });
    return 'errors' in made ? made.errors : { token: made.token };
  } catch (err) {
    if (!earlier.some((a) => typeof (a as { token?: unknown }).token === 'string')) throw err;
    const body = toErrorBody(err as Error);
    return { error: body.code === 'queue_full' ? 'queue is full' : body.message };
  }
}
