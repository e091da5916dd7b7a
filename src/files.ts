import { mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Read a JSON file; undefined when it does not exist or is not valid JSON (a torn write is ignored). */
export async function readJsonFile<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

let seq = 0;

/**
 * Write via a temp file and rename, so a crash leaves either the old or the new file, never half
 * (and a reader such as nginx never sees a partial one). A failed write leaves no temp file.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${++seq}.tmp`;
  try {
    await writeFile(tmp, text);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

export function writeJsonFileAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value));
}

/** A catch handler: `value` when the file does not exist (ENOENT), the error again otherwise. */
export function ifMissing<T>(value: T): (err: unknown) => T {
  return (err) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return value;
    throw err;
  };
}

/** Whether `path` exists; any error but ENOENT is thrown. */
export function fileExists(path: string): Promise<boolean> {
  return stat(path).then(() => true, ifMissing(false));
}
