import type { Pool } from '../pool.js';
import { MAX_LINE_BYTES, parseAccessLine, type AccessEvent, type MalformedReason } from './parse-access-line.js';

/**
 * The hot path of the watcher: reads the few fields the window and detectors need from one line
 * into this reused object, allocating nothing per line. parseAccessLine() stays the authority for a
 * full event (toEvent()); this reader only takes lines in nginx's exact shape
 * (nginx/nginx.conf.template `bluegreen_json`):
 *
 * {"time":"2026-11-22T20:53:10+00:00","remote_addr":"172.18.0.1","request_id":"a1a1a1a1b2b2b2b2c3c3c3c3d4d4d4d4",
 *  "method":"GET","uri":"/","status":200,"body_bytes_sent":62,"request_time":0.005,
 *  "upstream_addr":"172.18.0.3:3000, 172.18.0.4:3000","upstream_status":"500, 200",
 *  "upstream_response_time":"0.002, 0.003","pool":"green","release":"green-2026.11.22-1"}
 *
 * and hands anything else (escapes, other key order, non-ASCII) to parseAccessLine(). Lines come
 * as ranges of a latin1 string of the read chunk: V8's indexOf/startsWith on strings are builtins,
 * far cheaper here than a byte loop over a Buffer (measured in bench/watcher.ts).
 */
export class AccessLineReader {
  time = 0;
  status = 0;
  /** Seconds. */
  requestTime = 0;
  pool: Pool | undefined = undefined;
  release: string | undefined = undefined;
  /** Upstream attempts nginx made (0 when it never tried one). */
  attempts = 0;
  /** Attempts that failed: 5xx, or no status at all. */
  attemptFailures = 0;
  /** The pool blamed for a failed attempt, when the line tells (see blame()). */
  failedPool: Pool | undefined = undefined;
  /** nginx found no live server: upstream_addr holds the group name (e.g. `blue_primary`). */
  noLiveUpstream = false;
  nonUtf8 = false;

  #src = '';
  #start = 0;
  #end = 0;
  #lastTimeText = '';
  #lastTime = -1;
  #releases: string[] = [];

  /** The line as text (for sample lines in alerts). */
  text(): string {
    return this.#src.slice(this.#start, this.#end);
  }

  /** Full event of the last line read. */
  toEvent(): AccessEvent | MalformedReason {
    const ev = parseAccessLine(this.text());
    if (typeof ev !== 'string' && this.nonUtf8) ev.nonUtf8 = true;
    return ev;
  }

  /**
   * Read `src[start, end)`: src is a latin1 view of bytes when `latin1` is true (ASCII lines map
   * 1:1), or already-decoded UTF-8 text. Returns undefined when the fields are loaded, else why not.
   */
  read(src: string, start: number, end: number, nonUtf8 = false): MalformedReason | undefined {
    if (end > start && src.charCodeAt(end - 1) === 13) end--;
    this.#src = src;
    this.#start = start;
    this.#end = end;
    this.nonUtf8 = nonUtf8;
    if (end <= start) return 'empty';
    if (end - start > MAX_LINE_BYTES) return 'huge';
    if (this.#readFast(src, start, end)) return undefined;
    const ev = parseAccessLine(src.slice(start, end));
    if (typeof ev === 'string') return ev;
    this.#loadEvent(ev);
    return undefined;
  }

  #loadEvent(ev: AccessEvent): void {
    this.time = ev.time;
    this.status = ev.status;
    this.requestTime = ev.requestTime;
    this.pool = ev.pool;
    this.release = ev.release;
    this.attempts = ev.upstreamStatus.length;
    let failures = 0;
    let lastFailed = false;
    let earlierFailed = false;
    for (let i = 0; i < ev.upstreamStatus.length; i++) {
      const st = ev.upstreamStatus[i];
      const failed = st === undefined || st >= 500;
      if (failed) {
        failures++;
        if (i === ev.upstreamStatus.length - 1) lastFailed = true;
        else earlierFailed = true;
      }
    }
    this.attemptFailures = failures;
    this.failedPool = blame(ev.pool, lastFailed, earlierFailed);
    this.noLiveUpstream = ev.upstreamAddr.some((a) => !a.includes(':'));
  }

  #readFast(s: string, start: number, end: number): boolean {
    if (s.charCodeAt(end - 1) !== 125 /* } */ || !isTimeKey(s, start)) return false;
    // The next backslash in the chunk, found once per chunk rather than once per line.
    if (s !== this.#bsSrc || this.#bsPos < start) {
      const bs = s.indexOf('\\', start);
      this.#bsSrc = s;
      this.#bsPos = bs < 0 ? Infinity : bs;
    }
    if (this.#bsPos < end) return false;

    // Each hop: find the closing quote of a value, then check the next key by its first letter,
    // length and punctuation (startsWith at an offset measured 5x slower than these reads).
    let q = s.indexOf('"', start + 9);
    const timeS = start + 9;
    const timeE = q;
    if (!strKey(s, q, 114 /* remote_addr */, 11)) return false;
    q = s.indexOf('"', q + 17);
    if (!strKey(s, q, 114 /* request_id */, 10)) return false;
    q = s.indexOf('"', q + 16);
    if (!strKey(s, q, 109 /* method */, 6)) return false;
    q = s.indexOf('"', q + 12);
    if (!strKey(s, q, 117 /* uri */, 3)) return false;
    q = s.indexOf('"', q + 9);
    // "status": a number follows, so no opening quote.
    if (!(s.charCodeAt(q + 1) === 44 && numKey(s, q + 2, 115 /* status */, 6))) return false;
    let p = q + 11;
    q = s.indexOf(',', p);
    const status = uint(s, p, q);
    if (!numKey(s, q + 1, 98 /* body_bytes_sent */, 15)) return false;
    p = q + 19;
    q = s.indexOf(',', p);
    if (uint(s, p, q) < 0) return false;
    if (!numKey(s, q + 1, 114 /* request_time */, 12)) return false;
    p = q + 16;
    q = s.indexOf(',', p);
    const rtime = decimal(s, p, q);
    if (!(numKey(s, q + 1, 117 /* upstream_addr */, 13) && s.charCodeAt(q + 17) === 34)) return false;
    const addrS = q + 18;
    q = s.indexOf('"', addrS);
    const addrE = q;
    if (!strKey(s, q, 117 /* upstream_status */, 15)) return false;
    const ustS = q + 21;
    q = s.indexOf('"', ustS);
    const ustE = q;
    if (!strKey(s, q, 117 /* upstream_response_time */, 22)) return false;
    q = s.indexOf('"', q + 28);
    if (!strKey(s, q, 112 /* pool */, 4)) return false;
    const poolS = q + 10;
    q = s.indexOf('"', poolS);
    const poolE = q;
    if (!strKey(s, q, 114 /* release */, 7)) return false;
    const relS = q + 13;
    q = s.indexOf('"', relS);
    if (q !== end - 2) return false;
    const relE = q;
    if (status < 0 || rtime < 0) return false;

    const time = this.#time(s, timeS, timeE);
    if (time < 0) return false;
    if (!this.#upstream(s, addrS, addrE, ustS, ustE)) return false;
    this.time = time;
    this.status = status;
    this.requestTime = rtime;
    const len = poolE - poolS;
    this.pool = len === 4 && sameAt(s, poolS, 'blue') ? 'blue' : len === 5 && sameAt(s, poolS, 'green') ? 'green' : undefined;
    this.release = this.#release(s, relS, relE);
    this.failedPool = blame(this.pool, this.#lastFailed, this.#earlierFailed);
    return true;
  }

  #lastFailed = false;
  #earlierFailed = false;
  #bsSrc = '';
  #bsPos = Infinity;

  /** Counts attempts and failures from upstream_status; spots group names in upstream_addr. */
  #upstream(s: string, addrS: number, addrE: number, ustS: number, ustE: number): boolean {
    this.#lastFailed = false;
    this.#earlierFailed = false;
    if (ustE - ustS === 1 && s.charCodeAt(ustS) === 45) {
      this.attempts = 0;
      this.attemptFailures = 0;
    } else {
      let attempts = 0;
      let failures = 0;
      let i = ustS;
      for (;;) {
        const t = tokenEnd(s, i, ustE);
        const st = uint(s, i, t);
        const failed = st < 0 || st >= 500;
        attempts++;
        if (failed) failures++;
        if (t >= ustE) {
          this.#lastFailed = failed;
          break;
        }
        if (failed) this.#earlierFailed = true;
        i = s.charCodeAt(t) === 44 ? t + 2 : t + 3;
      }
      this.attempts = attempts;
      this.attemptFailures = failures;
    }
    let noLive = false;
    if (!(addrE - addrS === 1 && s.charCodeAt(addrS) === 45)) {
      let i = addrS;
      for (;;) {
        const t = tokenEnd(s, i, addrE);
        const colon = s.indexOf(':', i);
        if (colon < 0 || colon >= t) noLive = true;
        if (t >= addrE) break;
        i = s.charCodeAt(t) === 44 ? t + 2 : t + 3;
      }
    }
    this.noLiveUpstream = noLive;
    return true;
  }

  #time(s: string, a: number, b: number): number {
    const last = this.#lastTimeText;
    if (b - a === last.length && sameAt(s, a, last)) return this.#lastTime;
    const text = s.slice(a, b);
    if (!ISO_RE.test(text)) return -1;
    const ms = Date.parse(text);
    if (!Number.isFinite(ms)) return -1;
    this.#lastTimeText = text;
    this.#lastTime = ms;
    return ms;
  }

  #release(s: string, a: number, b: number): string | undefined {
    if (b - a === 1 && s.charCodeAt(a) === 45) return undefined;
    if (a === b) return undefined;
    const rel = this.#releases;
    for (let k = 0; k < rel.length; k++) {
      const r = rel[k]!;
      if (r.length === b - a && sameAt(s, a, r)) return r;
    }
    const r = s.slice(a, b);
    // Flatten: a slice would keep the whole chunk's string alive.
    const flat = r.length > 200 ? r : Buffer.from(r, 'latin1').toString('latin1');
    if (rel.length >= 4) rel.shift();
    rel.push(flat);
    return flat;
  }
}

const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Which pool a failed attempt hit. The last attempt's pool is in the line (X-App-Pool); in
 * `blue_primary` / `green_primary` an earlier attempt went to the other pool (primary, then backup).
 */
function blame(pool: Pool | undefined, lastFailed: boolean, earlierFailed: boolean): Pool | undefined {
  if (pool === undefined) return undefined;
  if (lastFailed) return pool;
  if (earlierFailed) return pool === 'blue' ? 'green' : 'blue';
  return undefined;
}

/** At q: `","K…":"` where K… has this first letter and length (a string value follows). */
function strKey(s: string, q: number, first: number, len: number): boolean {
  return (
    s.charCodeAt(q) === 34 &&
    s.charCodeAt(q + 1) === 44 &&
    s.charCodeAt(q + 2) === 34 &&
    s.charCodeAt(q + 3) === first &&
    s.charCodeAt(q + 3 + len) === 34 &&
    s.charCodeAt(q + 4 + len) === 58 &&
    s.charCodeAt(q + 5 + len) === 34
  );
}

/** s[a, a + t.length) === t, without startsWith's slow path for an offset. From the end: seconds differ first. */
function sameAt(s: string, a: number, t: string): boolean {
  for (let i = t.length - 1; i >= 0; i--) if (s.charCodeAt(a + i) !== t.charCodeAt(i)) return false;
  return true;
}

/** At p: `{"time":"`. */
function isTimeKey(s: string, p: number): boolean {
  return (
    s.charCodeAt(p) === 123 &&
    s.charCodeAt(p + 1) === 34 &&
    s.charCodeAt(p + 2) === 116 &&
    s.charCodeAt(p + 3) === 105 &&
    s.charCodeAt(p + 4) === 109 &&
    s.charCodeAt(p + 5) === 101 &&
    s.charCodeAt(p + 6) === 34 &&
    s.charCodeAt(p + 7) === 58 &&
    s.charCodeAt(p + 8) === 34
  );
}

/** At q: `"K…":` (a number value follows). */
function numKey(s: string, q: number, first: number, len: number): boolean {
  return s.charCodeAt(q) === 34 && s.charCodeAt(q + 1) === first && s.charCodeAt(q + 1 + len) === 34 && s.charCodeAt(q + 2 + len) === 58;
}

function tokenEnd(s: string, i: number, e: number): number {
  for (; i < e; i++) {
    const c = s.charCodeAt(i);
    if (c === 44 && s.charCodeAt(i + 1) === 32) return i;
    if (c === 32 && s.charCodeAt(i + 1) === 58 && s.charCodeAt(i + 2) === 32) return i;
  }
  return e;
}

function uint(s: string, a: number, b: number): number {
  if (b <= a || b - a > 15) return -1;
  let n = 0;
  for (let i = a; i < b; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function decimal(s: string, a: number, b: number): number {
  if (b <= a || b - a > 20) return -1;
  let int = 0;
  let i = a;
  for (; i < b; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    int = int * 10 + d;
  }
  if (i === a) return -1;
  if (i === b) return int;
  if (s.charCodeAt(i) !== 46 || i === b - 1) return -1;
  let frac = 0;
  let scale = 1;
  for (i++; i < b; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    frac = frac * 10 + d;
    scale *= 10;
  }
  return int + frac / scale;
}
