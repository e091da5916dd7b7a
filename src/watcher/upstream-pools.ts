import { readFileSync, statSync } from 'node:fs';
import type { Pool } from '../pool.js';

/**
 * Which pool an upstream address belongs to, as nginx itself rendered it: the table
 * `upstream-pools` (`address:port pool` a line) that nginx/bluegreen-nginx-members.sh writes next to
 * the member files each time it renders the upstream groups. The watcher asks it only for lines
 * where an attempt failed and a retry answered, to blame the pool that failed (a Swarm task of the
 * same pool, or the other pool). Read again when the file changed, looked at most once a second.
 */
export class UpstreamPools {
  readonly #file: string;
  readonly #now: () => number;
  #table = new Map<string, Pool>();
  #checkedAt = Number.NEGATIVE_INFINITY;
  #mtimeMs = -1;

  constructor(file: string, now: () => number = Date.now) {
    this.#file = file;
    this.#now = now;
  }

  /** The pool of `address:port`, or undefined when nginx's table does not name it. */
  poolOf(address: string): Pool | undefined {
    this.#refresh();
    return this.#table.get(address);
  }

  #refresh(): void {
    const now = this.#now();
    if (now - this.#checkedAt < 1000) return;
    this.#checkedAt = now;
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this.#file).mtimeMs;
    } catch {
      this.#table.clear();
      this.#mtimeMs = -1;
      return;
    }
    if (mtimeMs === this.#mtimeMs) return;
    this.#mtimeMs = mtimeMs;
    this.#table = parseUpstreamPools(readFileSync(this.#file, 'latin1'));
  }
}

/** `address:port pool` lines; any other line is skipped (the file is nginx's, the bot only reads it). */
export function parseUpstreamPools(text: string): Map<string, Pool> {
  const table = new Map<string, Pool>();
  for (const line of text.split('\n')) {
    const m = /^(\S+:\d{1,5}) (blue|green)$/.exec(line.trim());
    if (m) table.set(m[1]!, m[2] as Pool);
  }
  return table;
}
