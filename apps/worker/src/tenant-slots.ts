import type { JobData, RunningCap } from '@sbx/shared';
import type { Job } from 'bullmq';

/** A parked job is moved to BullMQ's delayed set right after it is parked: a wake may find it still active. */
const WAKE_RETRY_MS = 50;
const WAKE_TRIES = 20;
/** Parked ids tried per freed slot: those already gone (cancelled, woken by their timer) are skipped. */
const WAKE_CANDIDATES = 10;
/** A parked job's own timer fires this long after the first lease of its tenant ends. */
const PARK_SLACK_MS = 250;
const MIN_PARK_MS = 1000;

/** What entering and leaving a slot needs of the job taken. */
export type SlottedJob = Pick<Job<JobData>, 'id' | 'data' | 'priority' | 'timestamp' | 'moveToDelayed'>;

/** What waking a parked job needs of it. */
export interface Wakeable {
  getState(): Promise<string>;
  promote(): Promise<void>;
}

export interface TenantSlotsOptions {
  cap: RunningCap;
  /** The queued job by id, to wake it; undefined when it is gone. */
  getJob: (id: string) => Promise<Wakeable | undefined>;
  /** How long a job may hold its slot: its worst case run time and then some. */
  leaseMs: (data: JobData) => number;
  onError: (err: unknown) => void;
}

/**
 * The worker's side of the per-tenant running cap (running-cap.ts): a job enters its tenant's slots
 * before it runs, or is parked in BullMQ's delayed set, and leaving wakes the tenant's next parked job.
 */
export class TenantSlots {
  constructor(private readonly opts: TenantSlotsOptions) {}

  /** True: the job holds a slot and must `leave` when done. False: parked, and no attempt spent. */
  async enter(job: SlottedJob, token: string | undefined): Promise<boolean> {
    const cap = job.data.max_running ?? 0;
    if (cap <= 0) return true;
    const now = Date.now();
    const taken = await this.opts.cap.take({
      tenantId: tenantOf(job.data),
      jobId: job.id as string,
      cap,
      leaseMs: this.opts.leaseMs(job.data),
      priority: job.priority,
      acceptedAt: job.timestamp,
      now,
    });
    if (taken.ok) return true;
    await job.moveToDelayed(now + Math.max(MIN_PARK_MS, taken.retryAt - now + PARK_SLACK_MS), token);
    return false;
  }

  /** Never throws: a slot not given back ends with its lease. */
  async leave(job: SlottedJob): Promise<void> {
    if ((job.data.max_running ?? 0) <= 0) return;
    const tenantId = tenantOf(job.data);
    try {
      let candidates = await this.opts.cap.release(tenantId, job.id as string);
      for (let tried = 0; candidates.length && tried < WAKE_CANDIDATES; tried++) {
        if (await this.wake(candidates[0] as string)) return;
        candidates = await this.opts.cap.nextParked(tenantId);
      }
    } catch (err) {
      this.opts.onError(err);
    }
  }

  /** True when the job was woken, or is running (woken by its own timer): the freed slot is spoken for. */
  private async wake(id: string): Promise<boolean> {
    for (let i = 0; i < WAKE_TRIES; i++) {
      const job = await this.opts.getJob(id);
      if (!job) return false;
      const state = await job.getState();
      if (state === 'delayed')
        return job.promote().then(
          () => true,
          () => false,
        );
      if (state !== 'active') return false;
      await new Promise((r) => setTimeout(r, WAKE_RETRY_MS));
    }
    return true;
  }
}

const tenantOf = (data: JobData) => data.tenant_id ?? 'anonymous';
