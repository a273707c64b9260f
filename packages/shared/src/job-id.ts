import { randomUUID } from 'node:crypto';

/**
 * The one shape of a job id: the API's own random UUID (v4, lowercase). Only a string of this shape
 * ever becomes part of a Redis key or a BullMQ call: anything else a client sends (BullMQ's own key
 * names such as `meta`, `events` or `<id>:lock` among them) is refused before Redis is asked.
 */
export const JOB_ID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$';

const JOB_ID = new RegExp(JOB_ID_PATTERN);

export const isJobId = (id: string): boolean => JOB_ID.test(id);

export const newJobId = (): string => randomUUID();
