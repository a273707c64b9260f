import wire from '../../../../infra/sandbox/harness/wire.json' with { type: 'json' };

/**
 * The worker-harness wire protocol, from the one file both sides load (infra/sandbox/harness/wire.json;
 * the supervisor reads it through sbx_wire.py). docs/security.md describes the protocol.
 */
export const WIRE = {
  version: wire.version,
  /** The supervisor's first bytes on stdout, before any user code exists. */
  ready: Buffer.from(wire.ready),
  headerBytes: wire.frame.header_bytes,
  maxChunkBytes: wire.frame.max_chunk_bytes,
  maxReportBytes: wire.frame.max_report_bytes,
  artifactHeaderMaxBytes: wire.frame.artifact_header_max_bytes,
  kinds: wire.kinds,
  stopLine: `${wire.input.stop}\n`,
  /** An interactive run's input: the most bytes one message carries. */
  inputChunkBytes: wire.input.interactive.max_chunk_bytes,
  exitCodes: { frameError: wire.exit_codes.frame_error, floorFailed: wire.exit_codes.floor_failed },
  program: { uid: wire.program.uid, gid: wire.program.gid, outputsDir: wire.program.outputs_dir },
  artifacts: { maxName: wire.artifacts.max_name, maxDroppedNames: wire.artifacts.max_dropped_names },
} as const;

/** What a test needs only when it starts: sent with the worker's go-ahead, never before. */
export interface TestInput {
  stdin: string;
  args?: string[];
}

/** The job line the supervisor reads first. With tests, it carries each test's limits only. */
export interface JobLine {
  code: string;
  /** The single run's input (absent with tests: each test's comes with its go-ahead). */
  stdin?: string;
  args?: string[];
  /** Written to the working directory before the program (each test's) runs: name, base64 content. */
  files?: { name: string; data: string }[];
  time_ms: number;
  memory_mb: number;
  policy: 'strict' | 'standard' | 'off';
  tests?: { time_ms: number; memory_mb: number }[];
  /** What comes back as artifacts (max_count 0: nothing; never for tests). */
  artifacts?: { format: 'png' | 'svg'; max_count: number; max_bytes: number };
  /**
   * A single run whose stdin stays open for input messages (encodeInput) after this line; time_ms
   * then bounds its CPU time, wall_ms its wall clock, idle_ms the time since the last input.
   */
  interactive?: true;
  wall_ms?: number;
  idle_ms?: number;
}

export function encodeJobLine(job: JobLine): string {
  return `${JSON.stringify({ v: WIRE.version, ...job })}\n`;
}

/** A test's go-ahead: its input on one line. */
export function encodeTestInput(input: TestInput): string {
  return `${JSON.stringify({ stdin: input.stdin, ...(input.args ? { args: input.args } : {}) })}\n`;
}

/** An interactive run's input as messages, each at most inputChunkBytes of it (wire.json input.interactive). */
export function encodeInput(bytes: Buffer): string {
  let out = '';
  for (let at = 0; at < bytes.length; at += WIRE.inputChunkBytes)
    out += `${JSON.stringify({ data: bytes.subarray(at, at + WIRE.inputChunkBytes).toString('base64') })}\n`;
  return out;
}

/** The end of an interactive run's input: its stdin is closed once what came before is read. */
export const INPUT_EOF_LINE = `${JSON.stringify({ eof: true })}\n`;
