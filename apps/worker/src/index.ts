export { CancelChannel, type CancelChannelOptions, type CancelSubscriber } from './cancel-channel.js';
export { classify, lostBecause } from './classify.js';
export { CONTAINERD_SOCKETS, reapContainerdOrphans } from './containerd-orphans.js';
export { DeferredDisposer } from './deferred-disposer.js';
export { DockerWatch } from './docker-watch.js';
export {
  type EngineListener,
  EngineOutage,
  type EngineOutageContext,
  type EngineVerdict,
} from './engine-outage.js';
export { executeJob, fitOutput } from './execute-job.js';
export { HealthCheck, type HealthCheckContext } from './health-check.js';
export { reapLeftovers, runscProcesses } from './janitor.js';
export { type FailedJob, JobProcessor, type JobProcessorContext, type TakenJob } from './job-processor.js';
export {
  cancelledRunResult,
  engineAwayResult,
  failedForGoodResult,
  finishedResult,
  type RunCounts,
  runStart,
  runsBefore,
} from './job-results.js';
export { LeftoverSweeper, type LeftoverSweeperOptions } from './leftover-sweeper.js';
export { JobEventPublisher, type JobEventPublisherOptions, type RunEventWriter } from './live/event-publisher.js';
export { InputFollower, type InputFollowerOptions } from './live/input-follower.js';
export { LiveOutput, type LiveOutputOptions, type OutputSink } from './live/live-output.js';
export { type LiveRun, LiveRuns, type LiveRunsOptions } from './live/live-runs.js';
export { LockKeeper, type LockKeeperOptions } from './lock-keeper.js';
export { type MemoryLimitContext, watchMemoryLimit } from './memory-limit.js';
export { createWorkerMetrics } from './metrics.js';
export {
  type JobOutcome,
  lockRenewMsFor,
  openQueueWorker,
  QueueGate,
  type QueueWorker,
  type QueueWorkerOptions,
} from './queue-worker.js';
export { QuietPeriod } from './quiet-period.js';
export { openRedisConnections, type RedisConnections } from './redis-connections.js';
export { type PatientConfirmOptions, patientReplicaConfirm } from './replica-confirm.js';
export { ResultRecorder, type ResultRecorderContext } from './result-recorder.js';
export {
  parseRunLog,
  ResultStore,
  type ResultStoreOptions,
  RUN_LOG_CAP,
  type RunStart,
  withRun,
} from './result-store.js';
export { watchdogMs, withinWatchdog } from './run-watchdog.js';
export { CgroupOom, counterFiles, parseOomKills } from './sandbox/cgroup-oom.js';
export { CheckpointRegistry, type CheckpointRegistryOptions } from './sandbox/checkpoint-registry.js';
export {
  CHECKPOINT_STATES,
  type Checkpoint,
  CheckpointBuilder,
  type ColdReason,
  checkpointKey,
  containerCheckpointDir,
  installCheckpoint,
} from './sandbox/checkpoints.js';
export {
  buildContainerSpec,
  DEFAULT_SANDBOX_USER,
  LABELS,
  PROGRAM_USER,
  type SandboxSpec,
  SUPERVISOR_CAPS,
  sandboxMemoryMb,
  sandboxSettingsFromConfig,
} from './sandbox/container-spec.js';
export {
  BACKGROUND_CPU_SHARES,
  capIdleCpu,
  IDLE_CPU_PERIOD_US,
  IDLE_CPU_QUOTA_US,
  liftCpuCap,
  raiseCpuPriority,
  StartTicket,
} from './sandbox/cpu-priority.js';
export {
  type CheckpointSource,
  DockerSandboxRunner,
  SandboxLostError,
  SandboxStartError,
} from './sandbox/docker-runner.js';
export { type HarnessReport, isArtifactName, parseReport } from './sandbox/harness-report.js';
export { HarnessStream, type TestSlice } from './sandbox/harness-stream.js';
export { OomEvents } from './sandbox/oom-events.js';
export { type PoolBounds, poolBounds } from './sandbox/pool-bounds.js';
export { READY_MARKER, ReadyGate } from './sandbox/ready-gate.js';
export { RecentIds } from './sandbox/recent-ids.js';
export {
  checkRuntime,
  describeRuntime,
  effectiveFlags,
  inspectRuntime,
  parseFlagListing,
  type RuntimeFacts,
  supportsFlag,
} from './sandbox/runtime-probe.js';
export type { RawRun, Sandbox, SandboxRunner } from './sandbox/types.js';
export { type PoolOutcome, type WarmPoolOptions, WarmPoolRunner } from './sandbox/warm-pool.js';
export { encodeJobLine, encodeTestInput, WIRE } from './sandbox/wire.js';
export { Sandboxes, type SandboxesConfig, type SandboxesContext } from './sandboxes.js';
export { canaries, checkSandboxRuntime, runSelfCheck, SAFE_NPROC_CEILING, type SelfCheckResult } from './self-check.js';
export { type SlottedJob, TenantSlots, type TenantSlotsOptions, type Wakeable } from './tenant-slots.js';
export { finishedTestPassed, judgeTests } from './test-cases.js';
export { createWorkerService, JOB_ATTEMPTS, type WorkerService } from './worker-service.js';
