import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import type { RunResult } from '@sbx/shared';

/**
 * Writes a result's artifacts (figures, files from /tmp/outputs) under `folder`, keeping their
 * sub-folders; returns the paths written. Node only (a subpath of its own, so the client itself
 * stays usable in browsers). A name that would land outside the folder is refused, not written.
 */
export async function saveArtifacts(result: Pick<RunResult, 'artifacts'>, folder: string): Promise<string[]> {
  const root = resolve(folder);
  const written: string[] = [];
  for (const artifact of result.artifacts ?? []) {
    const path = resolve(root, artifact.name);
    if (isAbsolute(artifact.name) || !path.startsWith(root + sep))
      throw new Error(`artifact name ${JSON.stringify(artifact.name)} leaves the folder`);
    if (artifact.data === undefined) throw new Error(`artifact ${artifact.name} carries no data (fetch its url)`);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, Buffer.from(artifact.data, 'base64'));
    written.push(join(folder, artifact.name));
  }
  return written;
}
