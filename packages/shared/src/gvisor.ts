import gvisor from './gvisor.json' with { type: 'json' };

export interface RunscFlag {
  name: string;
  value: string;
  /** What the sandbox would lose without it: docs/security.md gives the longer story. */
  why: string;
}

/**
 * The gVisor runtime the sandboxes rely on, from gvisor.json: infra/host/register-runsc.mjs registers
 * these flags with Docker and the worker's self-check checks the registered runtime against them.
 * Set explicitly rather than trusted as defaults, which a later release may change.
 */
export const GVISOR: { minRelease: string; flags: readonly RunscFlag[] } = {
  minRelease: gvisor.min_release,
  flags: gvisor.flags,
};

/** A runsc release as a sortable date, `20240729`, from `runsc --version` (Debian's or upstream's spelling). */
export function parseRunscRelease(versionOutput: string): string | null {
  return /(?:release-|~|\s)(20\d{6})(?:\.\d+)?\b/.exec(versionOutput)?.[1] ?? null;
}
