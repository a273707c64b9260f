import type { Environment } from '@sbx/shared';
import type { Logger } from 'pino';
import type { Checkpoint, CheckpointBuilder, ColdReason } from './checkpoints.js';
import { environmentOf, type SandboxSpec } from './container-spec.js';
import type { CheckpointSource } from './docker-runner.js';

export interface CheckpointRegistryOptions {
  builder: Pick<CheckpointBuilder, 'engineSupport' | 'checkpointFor' | 'prune'>;
  /**
   * Runs a program in a sandbox restored from `checkpoint` and throws unless it answers as it should:
   * no checkpoint is used before one restore of it has worked on this host.
   */
  verify: (checkpoint: Checkpoint) => Promise<void>;
  log: Pick<Logger, 'info' | 'warn'>;
  /** Told how each environment starts now: from a checkpoint, or cold and why. */
  onState?: (environment: Environment, state: 'restore' | ColdReason) => void;
  /** Told of each restore, and of each that failed. */
  onRestore?: (environment: Environment, outcome: 'restored' | 'failed') => void;
}

/**
 * Which environments' sandboxes start from a checkpoint. Until an environment's checkpoint is found
 * or taken and a restore of it has worked, and after any restore of it fails, its sandboxes start
 * cold: restoring only ever saves time, it never fails a job (docs/operations.md).
 */
export class CheckpointRegistry implements CheckpointSource {
  private readonly usable = new Map<Environment, Checkpoint>();
  dockerRoot: string | null = null;
  /** Set when the worker stops: no further take or verification starts (each holds a sandbox). */
  private stopped = false;

  constructor(private readonly opts: CheckpointRegistryOptions) {}

  for(spec: SandboxSpec): Checkpoint | null {
    const checkpoint = this.usable.get(environmentOf(spec));
    return checkpoint && checkpoint.memoryMb === spec.memory_mb ? checkpoint : null;
  }

  restored(checkpoint: Checkpoint): void {
    this.opts.onRestore?.(checkpoint.environment, 'restored');
  }

  failed(checkpoint: Checkpoint, err: unknown): void {
    this.opts.onRestore?.(checkpoint.environment, 'failed');
    if (this.usable.get(checkpoint.environment) !== checkpoint) return;
    this.usable.delete(checkpoint.environment);
    this.opts.onState?.(checkpoint.environment, 'restore_failed');
    this.opts.log.warn(
      { err, environment: checkpoint.environment, checkpoint: checkpoint.key },
      'a restore from the checkpoint failed: this environment starts its sandboxes cold from now on',
    );
  }

  /**
   * Finds or takes the checkpoint of each environment for the limits its pool starts sandboxes with,
   * verifies it, and from then on hands it out. Never throws: what fails leaves its environment cold.
   */
  async prepare(pools: SandboxSpec[]): Promise<void> {
    if (pools.length === 0) return;
    const support = await this.opts.builder.engineSupport().catch(() => ({ cold: 'no_docker_root' as const }));
    if ('cold' in support) {
      for (const spec of pools) this.cold(environmentOf(spec), support.cold);
      return;
    }
    this.dockerRoot = support.dockerRoot;
    // One at a time: each take is a sandbox start's worth of CPU, beside whatever jobs run.
    for (const spec of pools) {
      const environment = environmentOf(spec);
      if (this.stopped) return;
      try {
        const checkpoint = await this.verified(spec, support.dockerRoot);
        await this.opts.builder.prune(checkpoint.key);
        this.usable.set(environment, checkpoint);
        this.opts.onState?.(environment, 'restore');
        this.opts.log.info(
          { environment, checkpoint: checkpoint.key, takenWith: checkpoint.takenWith },
          'sandboxes start from a checkpoint',
        );
      } catch (err) {
        this.cold(environment, 'build_failed', err);
      }
    }
  }

  /** Lets a take or verification under way finish, and starts no other: the worker is stopping. */
  stop(): void {
    this.stopped = true;
  }

  /** The stored checkpoint if it restores; if it does not (a host changed under it), one taken anew. */
  private async verified(spec: SandboxSpec, dockerRoot: string): Promise<Checkpoint> {
    const { builder, verify, log } = this.opts;
    const found = await builder.checkpointFor(spec, dockerRoot);
    try {
      if (this.stopped) throw new Error('the worker is stopping');
      await verify(found.checkpoint);
      return found.checkpoint;
    } catch (err) {
      if (found.taken || this.stopped) throw err;
      log.warn({ err, checkpoint: found.checkpoint.key }, 'the stored checkpoint did not restore: taking it anew');
    }
    const retaken = await builder.checkpointFor(spec, dockerRoot, true);
    await verify(retaken.checkpoint);
    return retaken.checkpoint;
  }

  private cold(environment: Environment, reason: ColdReason, err?: unknown): void {
    this.opts.onState?.(environment, reason);
    const why: Record<ColdReason, string> = {
      off: 'checkpoints are off for it',
      not_experimental:
        'Docker runs without "experimental": true, which checkpoints need (npm run up, or infra/host/ensure-host.sh, turns it on)',
      no_docker_root: "the worker cannot reach Docker's data root, where a restore's checkpoint must be put",
      build_failed: 'its checkpoint could not be taken or did not restore',
      restore_failed: 'a restore failed',
    };
    this.opts.log.warn({ err, environment, reason }, `sandboxes start cold: ${why[reason]}`);
  }
}
