import type { Artifact, RunResult } from './schemas.js';

/** GET path of one artifact: each segment of its name escaped, its folders kept as folders. */
export const artifactUrl = (jobId: string, name: string) =>
  `/jobs/${encodeURIComponent(jobId)}/artifacts/${name.split('/').map(encodeURIComponent).join('/')}`;

/**
 * A result as a webhook carries it: artifacts by name, size and URL, without their content, so a
 * delivery stays small whatever the program drew (the receiver fetches what it wants, within the
 * result's TTL).
 */
export function withoutArtifactData(result: RunResult): RunResult {
  if (!result.artifacts) return result;
  return { ...result, artifacts: result.artifacts.map(({ data: _data, ...rest }): Artifact => rest) };
}
