/**
 * Counts over the last `seconds` seconds of log time, one slot a second, O(1) an add: e.g. requests
 * served and those served by the backup (failover share), or retried requests per pool (status).
 * Lines arrive in about time order; one older than the newest counts in the newest second.
 */
export class RecentCounts {
  /** Running totals over the span, one per series. */
  readonly totals: Int32Array;
  readonly #series: number;
  readonly #sec: Float64Array;
  readonly #slots: Int32Array;
  #now = -Infinity;

  constructor(seconds: number, series: number) {
    const n = Math.max(1, Math.ceil(seconds));
    this.#series = series;
    this.totals = new Int32Array(series);
    this.#sec = new Float64Array(n).fill(-Infinity);
    this.#slots = new Int32Array(n * series);
  }

  add(timeMs: number, series: number, by = 1): void {
    const sec = Math.max(Math.floor(timeMs / 1000), this.#now);
    if (sec !== this.#now) this.#advance(sec);
    this.#slots[(sec % this.#sec.length) * this.#series + series]! += by;
    this.totals[series]! += by;
  }

  /** Drops what is older than the span at `timeMs` (a quiet log still ages out). */
  expire(timeMs: number): void {
    const sec = Math.floor(timeMs / 1000);
    if (sec > this.#now) this.#advance(sec);
  }

  #advance(sec: number): void {
    this.#now = sec;
    const n = this.#sec.length;
    for (let i = 0; i < n; i++) {
      if (this.#sec[i]! > sec - n) continue;
      for (let k = 0; k < this.#series; k++) {
        this.totals[k]! -= this.#slots[i * this.#series + k]!;
        this.#slots[i * this.#series + k] = 0;
      }
      this.#sec[i] = -Infinity;
    }
    this.#sec[sec % n] = sec;
  }

  clear(): void {
    this.#sec.fill(-Infinity);
    this.#slots.fill(0);
    this.totals.fill(0);
    this.#now = -Infinity;
  }
}
