export { classify } from './classify.js';
export { executeJob, fitOutput } from './execute-job.js';
export { reapLeftovers, runscProcesses } from './janitor.js';
export { buildContainerSpec, DEFAULT_SANDBOX_USER, LABELS } from './sandbox/container-spec.js';
export { DockerSandboxRunner, SandboxStartError } from './sandbox/docker-runner.js';
export { encodeJobFrame, extractReport } from './sandbox/harness-report.js';
export { OutputCollector } from './sandbox/output-collector.js';
export type { RawRun, Sandbox, SandboxRunner } from './sandbox/types.js';
export { createWorkerService, JOB_ATTEMPTS, type WorkerService } from './worker-service.js';
