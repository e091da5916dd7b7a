import type { Pool } from '../pool.js';

/** What the window needs from a line (AccessLineReader has these fields). */
export interface WindowLine {
  time: number;
  status: number;
  requestTime: number;
  pool: Pool | undefined;
  attempts: number;
  attemptFailures: number;
  failedPool: Pool | undefined;
}

// Latency histogram: bucket i holds request times up to BOUNDS[i] ms, growing by 10% a bucket from
// 1 ms to ~2 minutes, so a percentile is a walk over ~130 counters (at most 10% high), whatever
// the window size. Index 0 is everything, 1 blue, 2 green.
const GROWTH = 1.1;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(120_000) / LOG_GROWTH) + 2;
const BOUNDS = Array.from({ length: BUCKETS }, (_, i) => Math.round(GROWTH ** i * 1000) / 1000);

/** The histogram bucket of a request time, by its logarithm. */
export function logBucket(ms: number): number {
  if (ms <= 1) return 0;
  const b = Math.ceil(Math.log(ms) / LOG_GROWTH - 1e-9);
  return b >= BUCKETS ? BUCKETS - 1 : b;
}

// nginx logs request times in whole milliseconds (0.005 s): for those up to 10 s one table load
// replaces the logarithm. No bucket bound above 1 ms lies within 1e-6 of a whole number (tested), so
// a time a float's width away from one has the same bucket.
const TABLE_MS = 10_000;
const BUCKET_OF_MS = Uint8Array.from({ length: TABLE_MS }, (_, m) => logBucket(m));

export function bucketOf(ms: number): number {
  const m = Math.round(ms);
  // 1 ms is itself a bound (1.1^0): only exactly 1 is in its bucket.
  if (m >= 0 && m < TABLE_MS && (ms === m || (m >= 2 && Math.abs(ms - m) < 1e-6))) return BUCKET_OF_MS[m]!;
  return logBucket(ms);
}

const POOL_INDEX = { blue: 1, green: 2 } as const;
const CLIENT_5XX = 1;

export interface WindowOptions {
  /** Most requests kept. */
  size: number;
  /** Oldest request age kept, ms. */
  maxAgeMs: number;
}

/**
 * The last `size` requests, or those of the last `maxAgeMs`, whichever is fewer: running sums kept
 * in a ring so adding a line and dropping the oldest are O(1).
 */
export class SlidingWindow {
  readonly size: number;
  readonly maxAgeMs: number;
  #times: Float64Array;
  #flags: Uint8Array;
  #pool: Uint8Array;
  #failedPool: Uint8Array;
  #bucket: Uint8Array;
  #attempts: Uint8Array;
  #failures: Uint8Array;
  #head = 0; // next write
  #count = 0;
  #requests = new Int32Array(3);
  #client5xx = new Int32Array(3);
  #attemptsSum = 0;
  #failuresSum = 0;
  #blamed = new Int32Array(3);
  #hist: Int32Array[] = [new Int32Array(BUCKETS), new Int32Array(BUCKETS), new Int32Array(BUCKETS)];
  #newest = 0;

  constructor({ size, maxAgeMs }: WindowOptions) {
    this.size = size;
    this.maxAgeMs = maxAgeMs;
    this.#times = new Float64Array(size);
    this.#flags = new Uint8Array(size);
    this.#pool = new Uint8Array(size);
    this.#failedPool = new Uint8Array(size);
    this.#bucket = new Uint8Array(size);
    this.#attempts = new Uint8Array(size);
    this.#failures = new Uint8Array(size);
  }

  push(l: WindowLine): void {
    if (this.#count === this.size) this.#dropOldest();
    const i = this.#head;
    const p = l.pool === undefined ? 0 : POOL_INDEX[l.pool];
    const fp = l.failedPool === undefined ? 0 : POOL_INDEX[l.failedPool];
    const b = bucketOf(l.requestTime * 1000);
    const err = l.status >= 500 ? CLIENT_5XX : 0;
    const att = l.attempts > 255 ? 255 : l.attempts;
    const fail = l.attemptFailures > 255 ? 255 : l.attemptFailures;
    this.#times[i] = l.time;
    this.#flags[i] = err;
    this.#pool[i] = p;
    this.#failedPool[i] = fp;
    this.#bucket[i] = b;
    this.#attempts[i] = att;
    this.#failures[i] = fail;
    this.#requests[0]!++;
    this.#hist[0]![b]!++;
    if (p !== 0) {
      this.#requests[p]!++;
      this.#hist[p]![b]!++;
    }
    if (err) {
      this.#client5xx[0]!++;
      if (p !== 0) this.#client5xx[p]!++;
    }
    this.#attemptsSum += att;
    this.#failuresSum += fail;
    if (fail > 0 && fp !== 0 && !err) this.#blamed[fp]!++;
    this.#head = i + 1 === this.size ? 0 : i + 1;
    this.#count++;
    if (l.time > this.#newest) this.#newest = l.time;
    // Cheap common case: the oldest is recent enough.
    const oldest = this.#times[this.#tail()]!;
    if (oldest < this.#newest - this.maxAgeMs) this.expire(this.#newest);
  }

  /** Drop requests older than now - maxAgeMs (called per line and on a timer for quiet logs). */
  expire(now: number): void {
    const limit = now - this.maxAgeMs;
    while (this.#count > 0 && this.#times[this.#tail()]! < limit) this.#dropOldest();
  }

  #tail(): number {
    const t = this.#head - this.#count;
    return t < 0 ? t + this.size : t;
  }

  #dropOldest(): void {
    const i = this.#tail();
    const p = this.#pool[i]!;
    const b = this.#bucket[i]!;
    this.#requests[0]!--;
    this.#hist[0]![b]!--;
    if (p !== 0) {
      this.#requests[p]!--;
      this.#hist[p]![b]!--;
    }
    if (this.#flags[i]! & CLIENT_5XX) {
      this.#client5xx[0]!--;
      if (p !== 0) this.#client5xx[p]!--;
    }
    const fail = this.#failures[i]!;
    this.#attemptsSum -= this.#attempts[i]!;
    this.#failuresSum -= fail;
    const fp = this.#failedPool[i]!;
    if (fail > 0 && fp !== 0 && !(this.#flags[i]! & CLIENT_5XX)) this.#blamed[fp]!--;
    this.#count--;
  }

  get count(): number {
    return this.#count;
  }

  /** Requests served by a pool (its X-App-Pool), or all. */
  requests(pool?: Pool): number {
    return this.#requests[pool === undefined ? 0 : POOL_INDEX[pool]]!;
  }

  /** Requests whose client got a 5xx. */
  clientErrors(pool?: Pool): number {
    return this.#client5xx[pool === undefined ? 0 : POOL_INDEX[pool]]!;
  }

  /** Percent of requests whose client got a 5xx. */
  clientErrorRate(): number {
    return this.#count === 0 ? 0 : (this.#client5xx[0]! * 100) / this.#count;
  }

  get upstreamAttempts(): number {
    return this.#attemptsSum;
  }

  get upstreamFailures(): number {
    return this.#failuresSum;
  }

  /** Percent of upstream attempts that failed, seen by the client or absorbed by a retry. */
  upstreamErrorRate(): number {
    return this.#attemptsSum === 0 ? 0 : (this.#failuresSum * 100) / this.#attemptsSum;
  }

  /** Requests with a failed attempt blamed on `pool` that a retry hid from the client. */
  blamed(pool: Pool): number {
    return this.#blamed[POOL_INDEX[pool]]!;
  }

  /** Requests with an absorbed failed attempt blamed on `pool`, as a percent of all requests in the window. */
  blamedRate(pool: Pool): number {
    return this.#count === 0 ? 0 : (this.#blamed[POOL_INDEX[pool]]! * 100) / this.#count;
  }

  /** Latency percentile in ms (q in 0..1) over all requests or one pool's; undefined when empty. */
  percentileMs(q: number, pool?: Pool): number | undefined {
    const idx = pool === undefined ? 0 : POOL_INDEX[pool];
    const n = this.#requests[idx]!;
    if (n === 0) return undefined;
    const rank = Math.max(1, Math.ceil(q * n));
    const h = this.#hist[idx]!;
    let acc = 0;
    for (let b = 0; b < BUCKETS; b++) {
      acc += h[b]!;
      if (acc >= rank) return BOUNDS[b]!;
    }
    return BOUNDS[BUCKETS - 1]!;
  }

  clear(): void {
    while (this.#count > 0) this.#dropOldest();
  }
}
