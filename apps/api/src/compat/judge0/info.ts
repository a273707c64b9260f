import type { ApiConfig } from '@sbx/shared';
import type { Judge0Bounds } from './limits.js';

/** The Judge0 release whose API this is: what /version and /about say, and what clients check. */
export const JUDGE0_VERSION = '1.13.1';
export const MAX_BATCH = 20;

export type InfoConfig = Pick<ApiConfig, 'maxQueued' | 'webhookMaxAttempts' | 'webhookTimeoutMs'>;

/**
 * GET /config_info: Judge0's every key (app/helpers/config.rb), each holding what this server does.
 * Switches for what we refuse are off; limits are ours in Judge0's units.
 */
export function configInfo(config: InfoConfig, bounds: Judge0Bounds, callbacks: boolean): Record<string, unknown> {
  const b = bounds;
  return {
    maintenance_mode: false,
    enable_wait_result: true,
    enable_compiler_options: false,
    allowed_languages_for_compile_options: [],
    enable_command_line_arguments: true,
    enable_submission_delete: false,
    enable_callbacks: callbacks,
    callbacks_max_tries: config.webhookMaxAttempts,
    callbacks_timeout: config.webhookTimeoutMs / 1000,
    enable_additional_files: false,
    max_queue_size: config.maxQueued,
    cpu_time_limit: b.cpu_time_limit.def,
    max_cpu_time_limit: b.cpu_time_limit.max,
    cpu_extra_time: b.cpu_extra_time.def,
    max_cpu_extra_time: b.cpu_extra_time.max,
    wall_time_limit: b.wall_time_limit.def,
    max_wall_time_limit: b.wall_time_limit.max,
    memory_limit: b.memory_limit.def,
    max_memory_limit: b.memory_limit.max,
    stack_limit: b.stack_limit.def,
    max_stack_limit: b.stack_limit.max,
    max_processes_and_or_threads: b.max_processes_and_or_threads.def,
    max_max_processes_and_or_threads: b.max_processes_and_or_threads.max,
    enable_per_process_and_thread_time_limit: false,
    allow_enable_per_process_and_thread_time_limit: false,
    enable_per_process_and_thread_memory_limit: false,
    allow_enable_per_process_and_thread_memory_limit: false,
    max_file_size: b.max_file_size.def,
    max_max_file_size: b.max_file_size.max,
    number_of_runs: b.number_of_runs.def,
    max_number_of_runs: b.number_of_runs.max,
    redirect_stderr_to_stdout: false,
    max_extract_size: 0,
    enable_batched_submissions: true,
    max_submission_batch_size: MAX_BATCH,
    submission_cache_duration: 0,
    use_docs_as_homepage: false,
    allow_enable_network: false,
    enable_network: false,
  };
}

export const ABOUT = {
  version: JUDGE0_VERSION,
  homepage: null,
  source_code: null,
  maintainer: 'sbx: a Judge0 CE 1.13 compatible API over gVisor-sandboxed Python (docs/compat.md)',
};
