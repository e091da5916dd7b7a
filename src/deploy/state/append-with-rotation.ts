import { appendFile, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { fileExists, ifMissing } from '../../files.js';

// audit.jsonl grows by a line per operation and refusal, from the bot and from every CLI run. Before
// a line would take it past `maxBytes` it is renamed to audit.jsonl.1 (audit.jsonl.1 to .2 and so on,
// the oldest past `keep` deleted) and a new one begun. Rename keeps the file's inode, so a reader
// holding it open (the audit feed) reads its end, then moves on to the new file. Appends are not
// locked, so a file may pass the size by the lines other processes append at the same moment.

export interface RotationLimits {
  /** A file is rotated before a line would take it past this size. */
  maxBytes: number;
  /** Rotated files kept: file.1 (the newest) … file.<keep>. */
  keep: number;
}

/** The n-th rotated file: file.1 is the most recent. */
export const rotatedFileOf = (file: string, n: number): string => `${file}.${n}`;

/** A rotation lock older than this was left by a process that died while rotating. */
const STALE_LOCK_MS = 60_000;
/** How long a writer waits for another process's rotation (a few renames) before appending anyway. */
const WAIT_FOR_ROTATION_MS = 2000;

/** Appends `line` to `file`, rotating it first when the line would take it past the limit. True when it rotated. */
export async function appendWithRotation(file: string, line: string, limits: RotationLimits): Promise<boolean> {
  const bytes = Buffer.byteLength(line);
  const rotated = (await isFull(file, bytes, limits)) && (await rotate(file, bytes, limits));
  await appendFile(file, line);
  return rotated;
}

/** Every line of `file` and its rotated files, oldest first. */
export async function readWithRotated(file: string): Promise<string> {
  const names: string[] = [];
  for (let n = 1; await fileExists(rotatedFileOf(file, n)); n += 1) names.unshift(rotatedFileOf(file, n));
  names.push(file);
  const texts = await Promise.all(names.map((name) => readFile(name, 'utf8').catch(ifMissing(''))));
  return texts.join('');
}

async function isFull(file: string, adding: number, { maxBytes }: RotationLimits): Promise<boolean> {
  const size = await stat(file).then((s) => s.size, ifMissing(0));
  // An empty file is never rotated, even for a line longer than the limit.
  return size > 0 && size + adding > maxBytes;
}

/**
 * Shifts the rotated files up by one and renames `file` to file.1. Several processes append (the bot,
 * CLI runs): one rotates at a time, under an exclusive lock file, and checks the size again under it,
 * so a file another process has just rotated is not rotated twice. A process that finds the lock
 * taken waits for it to go (the holder is rotating), then appends to the new file.
 */
async function rotate(file: string, adding: number, limits: RotationLimits, retried = false): Promise<boolean> {
  const lock = `${file}.rotating`;
  let held;
  try {
    held = await open(lock, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, ifMissing(0));
    if (retried || age < STALE_LOCK_MS) {
      for (const until = Date.now() + WAIT_FOR_ROTATION_MS; Date.now() < until && (await fileExists(lock)); ) await new Promise((r) => setTimeout(r, 5));
      return false;
    }
    await rm(lock, { force: true });
    return rotate(file, adding, limits, true);
  }
  try {
    if (!(await isFull(file, adding, limits))) return false;
    for (let n = limits.keep - 1; n >= 1; n -= 1) await rename(rotatedFileOf(file, n), rotatedFileOf(file, n + 1)).catch(ifMissing(undefined));
    await rename(file, rotatedFileOf(file, 1));
    return true;
  } finally {
    await held.close();
    await rm(lock, { force: true });
  }
}
