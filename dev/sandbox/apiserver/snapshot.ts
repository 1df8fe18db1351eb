import { readFile, rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import type { StoreSnapshot } from './store.ts';

const snapshotSchema = z.object({
  format: z.literal('petrel-sandbox/v1'),
  resourceVersion: z.number().int().nonnegative(),
  objects: z.array(
    z.object({
      key: z.string().min(1),
      object: z.looseObject({ metadata: z.looseObject({ name: z.string().min(1) }) }),
    }),
  ),
});

/** A snapshot file that cannot be used; the message names the file and what is wrong. */
export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
  readonly code = 'SANDBOX_SNAPSHOT_INVALID';
}

/** Reads a snapshot; undefined when the file does not exist yet (first start). */
export async function loadSnapshot(file: string): Promise<StoreSnapshot | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SnapshotError(`cannot read sandbox snapshot ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SnapshotError(`sandbox snapshot ${file} is not valid JSON; delete it to start empty`, {
      cause: error,
    });
  }
  const parsed = snapshotSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SnapshotError(
      `sandbox snapshot ${file} is not a petrel-sandbox/v1 snapshot (${issue?.path.join('.') || 'root'}: ${issue?.message}); delete it to start empty`,
    );
  }
  return parsed.data as StoreSnapshot;
}

/** Writes atomically (temp file + rename) so a crash never leaves half a snapshot. */
export async function saveSnapshot(file: string, snapshot: StoreSnapshot): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify({ format: 'petrel-sandbox/v1', ...snapshot }, null, 1)}\n`);
  await rename(temp, file);
}
