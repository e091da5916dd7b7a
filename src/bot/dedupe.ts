/**
 * Remembers keys for a while, so one click delivered twice (Slack retries, a double press that
 * Slack reports with the same action_ts) acts once.
 */
export class Dedupe {
  readonly #seen = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(ttlMs = 15 * 60_000, now: () => number = Date.now) {
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  /** True the first time a key is seen within the TTL. */
  first(key: string): boolean {
    const now = this.#now();
    for (const [k, at] of this.#seen) {
      if (now - at < this.#ttlMs) break; // insertion order: the rest are newer
      this.#seen.delete(k);
    }
    if (this.#seen.has(key)) return false;
    this.#seen.set(key, now);
    return true;
  }
}
