import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BluegreenError } from '../../errors.js';
import type { Actor } from '../../shared/actor.js';

// One lock serializes every mutating operation, across the bot process and `bluegreen` CLI
// processes run with `compose exec` in the same container: an in-process queue plus a lock file
// (O_EXCL) on the state volume that records who holds it.

export interface LockHolder {
  op: string;
  by: Actor;
  since: string;
  pid: number;
}

export interface OpLock {
  /** Runs fn while holding the lock; waits up to the lock's wait time, then throws LOCKED. */
  run<T>(op: string, by: Actor, fn: () => Promise<T>): Promise<T>;
  holder(): Promise<LockHolder | undefined>;
}

export interface OpLockOptions {
  dir: string;
  waitMs: number;
  /** A holder older than this is presumed dead (its operation has deadlines far shorter). */
  staleMs?: number;
  /** Called with how long the caller waited, for the lock-wait metric. */
  onAcquired?: (waitedMs: number) => void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function createOpLock(opts: OpLockOptions): OpLock {
  const file = join(opts.dir, 'operation.lock');
  const staleMs = opts.staleMs ?? 10 * 60_000;
  let queue: Promise<unknown> = Promise.resolve();

  async function readHolder(): Promise<LockHolder | undefined> {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as LockHolder;
    } catch {
      return undefined;
    }
  }

  async function acquireFile(holder: LockHolder, deadline: number): Promise<void> {
    await mkdir(opts.dir, { recursive: true });
    // The holder is written to a private file first and then hard-linked into place: link() fails
    // with EEXIST when the lock is held, and a reader never sees a half-written lock file (with
    // open('wx') + write, a waiter could read it empty, think it stale and remove a live lock).
    const mine = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    await writeFile(mine, JSON.stringify(holder)).catch((err: unknown) => {
      throw new BluegreenError('STATE_IO', `cannot write in ${opts.dir}`, { cause: err });
    });
    try {
      for (;;) {
        try {
          await link(mine, file);
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
            throw new BluegreenError('STATE_IO', `cannot create ${file}`, { cause: err });
          }
        }
        const current = await readHolder();
        if (current === undefined) {
          // Removed between our link() and read: try again at once.
          continue;
        }
        // Our own pid in the file while our queue lets us in: left by an earlier incarnation of this
        // process (pid 1 again after a container restart). A dead pid or an ancient lock: also stale.
        const stale = current.pid === process.pid || !alive(current.pid) || Date.now() - Date.parse(current.since) > staleMs;
        if (stale) {
          // Re-read right before removing, so a lock another waiter has just taken over is kept.
          const again = await readHolder();
          if (again && again.since === current.since && again.pid === current.pid) await unlink(file).catch(() => undefined);
          continue;
        }
        if (Date.now() >= deadline) {
          throw new BluegreenError('LOCKED', `another operation is running: ${current.op} by ${current.by.name ?? current.by.id} since ${current.since}`, {
            hint: 'try again when it finishes',
          });
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await unlink(mine).catch(() => undefined);
    }
  }

  /** The operation of this process that holds the lock, for a waiter that gives up. */
  let current: LockHolder | undefined;

  return {
    run<T>(op: string, by: Actor, fn: () => Promise<T>): Promise<T> {
      const started = Date.now();
      const deadline = started + opts.waitMs;
      let gaveUp = false;
      let timer: NodeJS.Timeout | undefined;
      // Waiting behind this process's own operations counts against the wait time too: a click
      // queued behind a 60 s deploy gives up, and is never run later on stale intent.
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          gaveUp = true;
          const h = current;
          reject(
            new BluegreenError('LOCKED', h ? `another operation is running: ${h.op} by ${h.by.name ?? h.by.id} since ${h.since}` : 'another operation is running', {
              hint: `gave up after waiting ${Math.round(opts.waitMs / 1000)} s (LOCK_WAIT_MS); try again when it finishes`,
            }),
          );
        }, opts.waitMs);
      });
      const turn = queue.then(async () => {
        if (gaveUp) return undefined as T; // settled already: the caller was told LOCKED
        clearTimeout(timer);
        const holder: LockHolder = { op, by, since: new Date().toISOString(), pid: process.pid };
        await acquireFile(holder, deadline);
        opts.onAcquired?.(Date.now() - started);
        current = holder;
        try {
          return await fn();
        } finally {
          current = undefined;
          await unlink(file).catch(() => undefined);
        }
      });
      queue = turn.catch(() => undefined);
      return Promise.race([turn, timedOut]);
    },
    holder: readHolder,
  };
}
