import { isAscii, isUtf8 } from 'node:buffer';
import type { Pool } from '../pool.js';
import { MAX_LINE_BYTES, parseAccessBytes, type AccessEvent, type MalformedReason } from './parse-access-line.js';

/**
 * The hot path of the watcher: reads the few fields the window and detectors need from the bytes
 * of one line into this reused object, decoding no string per line. parseAccessBytes() stays the
 * authority for a full event (toEvent()); this reader only takes lines in nginx's exact shape
 * (nginx/nginx.conf.template `bluegreen_json`):
 *
 * {"time":"2026-11-22T20:53:10+00:00","remote_addr":"172.18.0.1","request_id":"a1a1a1a1b2b2b2b2c3c3c3c3d4d4d4d4",
 *  "method":"GET","uri":"/","status":200,"body_bytes_sent":62,"request_time":0.005,
 *  "upstream_addr":"172.18.0.3:3000, 172.18.0.4:3000","upstream_status":"500, 200",
 *  "upstream_response_time":"0.002, 0.003","pool":"green","release":"green-2026.11.22-1","page":"-"}
 *
 * (`"page":"maintenance"` on the maintenance page's 503s; lines without `page`, written before it
 * existed, are read too) and hands anything else (escapes, other key order or spacing, odd numbers or times) to
 * parseAccessBytes(). It works on the Buffer the tail read into: a JIT-compiled loop over bytes
 * costs ~1 ns a byte, a third of charCodeAt on a decoded string, and no string is made. The fast
 * path also finds the line's end (its `"}` then a newline), so a block of lines needs no
 * separate split.
 *
 * Use: begin(buf, start, end) for a block of newline-separated lines, then read(at) for each line
 * (at = the previous line's `end` + 1) until `end` reaches the block's end. The bytes belong to the
 * caller and are only read during these calls.
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
  /** nginx answered with the maintenance page (`"page":"maintenance"`): no pool was asked. */
  maintenancePage = false;
  /** Lines handed to parseAccessBytes() (not in nginx's exact shape): the slow path, for tests and tuning. */
  parsedLines = 0;
  /** The last line read is buf[start, end); buf[end] is its newline (or end is the block's end). */
  start = 0;
  end = 0;

  #buf: Buffer = Buffer.alloc(0);
  #view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  #limit = 0;
  #ascii = true;
  /** Next backslash at or after the current line (Infinity: none in the block). */
  #bs = Infinity;
  #lastFailed = false;
  #earlierFailed = false;
  /** `YYYY-MM-DDTHH:MM` and the zone of the last time seen, as numbers, and its epoch ms at second 0. */
  #t0 = Number.NaN;
  #t1 = Number.NaN;
  #z0 = -1;
  #z1 = -1;
  #timeBase = Number.NaN;
  #releases: KnownRelease[] = [];
  readonly #poolOf: ((address: string) => Pool | undefined) | undefined;

  /**
   * poolOf: the pool of an upstream address as nginx rendered it (UpstreamPools): with it, an
   * absorbed failure is blamed on the pool of the address that failed, not guessed from the order.
   */
  constructor(poolOf?: (address: string) => Pool | undefined) {
    this.#poolOf = poolOf;
  }

  /** A block of lines: buf[start, end), separated by '\n', end excluding the last one's newline. */
  begin(buf: Buffer, start: number, end: number): void {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.#limit = end;
    this.#ascii = isAscii(buf.subarray(start, end));
    this.#bs = -1;
    this.start = this.end = start;
  }

  /** One line on its own (tests, tools). */
  readLine(line: string | Buffer): MalformedReason | undefined {
    const b = typeof line === 'string' ? Buffer.from(line, 'utf8') : line;
    this.begin(b, 0, b.length);
    return this.read(0);
  }

  /** The line as text (for sample lines in alerts); only during the block. */
  text(): string {
    return this.#buf.toString('utf8', this.start, this.end);
  }

  /** Full event of the last line read; only during the block. */
  toEvent(): AccessEvent | MalformedReason {
    return parseAccessBytes(this.#buf, this.start, this.end);
  }

  /**
   * Read the line that starts at `at`: sets start/end and the fields. Returns undefined when the
   * fields are loaded, else why the line is not a request.
   */
  read(at: number): MalformedReason | undefined {
    const b = this.#buf;
    this.start = at;
    if (this.#bs < at) {
      const bs = b.indexOf(92, at);
      this.#bs = bs < 0 || bs >= this.#limit ? Infinity : bs;
    }
    let e: number;
    try {
      e = this.#fast(b, at);
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
      e = -1;
    }
    if (e >= 0 && this.#bs > e && e - at <= MAX_LINE_BYTES) {
      this.end = e;
      this.nonUtf8 = !this.#ascii && !isUtf8(b.subarray(at, e));
      return undefined;
    }
    this.parsedLines++;
    let nl = b.indexOf(10, at);
    if (nl < 0 || nl > this.#limit) nl = this.#limit;
    this.end = nl;
    const ev = parseAccessBytes(b, at, nl);
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
    this.nonUtf8 = ev.nonUtf8 === true;
    this.maintenancePage = ev.page === 'maintenance';
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
    this.failedPool = (earlierFailed && this.#blameByAddress(ev.upstreamAddr, ev.upstreamStatus.map((st) => st === undefined || st >= 500))) || blame(ev.pool, lastFailed, earlierFailed);
    this.noLiveUpstream = ev.upstreamAddr.some((a) => !a.includes(':'));
  }

  /**
   * The fields of the line at s in nginx's exact shape: the line's end, or -1 for "ask the parser".
   * Keys are compared as 8-byte words (see words()), written out rather than looped over: this is
   * the per-line cost of the watcher. A key check may read past the buffer's end near its end:
   * DataView then throws RangeError, which read() takes as "ask the parser".
   */
  #fast(b: Buffer, s: number): number {
    const v = this.#view;
    if (!isTimeKey(b, s)) return -1;
    // Each hop: find the closing quote of a value, then check the next key and its punctuation.
    const timeS = s + 9;
    let q = timeS + 25;
    if (b[q] !== 34 || v.getFloat64(q, true) !== REMOTE_ADDR_0 || v.getFloat64(q + 8, true) !== REMOTE_ADDR_8 || v.getFloat64(q + 9, true) !== REMOTE_ADDR_9) return -1;
    q = quote(b, q + 17);
    if (q < 0 || v.getFloat64(q, true) !== REQUEST_ID_0 || v.getFloat64(q + 8, true) !== REQUEST_ID_8) return -1;
    q = quote(b, q + 16);
    if (q < 0 || v.getFloat64(q, true) !== METHOD_0 || v.getFloat64(q + 4, true) !== METHOD_4) return -1;
    q = quote(b, q + 12);
    if (q < 0 || v.getFloat64(q, true) !== URI_0 || v.getFloat64(q + 1, true) !== URI_1) return -1;
    q = quote(b, q + 9);
    // "status": a number follows, so no opening quote.
    if (q < 0 || v.getFloat64(q, true) !== STATUS_0 || v.getFloat64(q + 3, true) !== STATUS_3) return -1;
    let p = q + 11;
    let n = 0;
    let c = b[p]!;
    for (; c >= 48 && c <= 57; c = b[++p]!) n = n * 10 + c - 48;
    if (c !== 44 || !jsonInt(b, q + 11, p) || n < 100 || n > 599) return -1;
    const status = n;
    q = p + 1;
    if (v.getFloat64(q, true) !== BODY_BYTES_SENT_0 || v.getFloat64(q + 8, true) !== BODY_BYTES_SENT_8 || v.getFloat64(q + 10, true) !== BODY_BYTES_SENT_10) return -1;
    const bodyS = q + 18;
    p = bodyS;
    for (c = b[p]!; c >= 48 && c <= 57; c = b[++p]!);
    if (c !== 44 || !jsonInt(b, bodyS, p)) return -1;
    q = p + 1;
    if (v.getFloat64(q, true) !== REQUEST_TIME_0 || v.getFloat64(q + 7, true) !== REQUEST_TIME_7) return -1;
    const rtS = q + 15;
    p = rtS;
    n = 0;
    for (c = b[p]!; c >= 48 && c <= 57; c = b[++p]!) n = n * 10 + c - 48;
    if (!jsonInt(b, rtS, p)) return -1;
    let rtime = n;
    if (c === 46) {
      const fracS = ++p;
      let scale = 1;
      for (c = b[p]!; c >= 48 && c <= 57; c = b[++p]!) {
        n = n * 10 + c - 48;
        scale *= 10;
      }
      // One division of two exact integers: the same double JSON.parse makes of the text.
      if (p === fracS || p - rtS > 16) return -1;
      rtime = n / scale;
    }
    q = p + 1;
    if (c !== 44 || v.getFloat64(q, true) !== UPSTREAM_ADDR_0 || v.getFloat64(q + 8, true) !== UPSTREAM_ADDR_8 || v.getFloat64(q + 9, true) !== UPSTREAM_ADDR_9) return -1;
    const addrS = q + 17;
    q = quote(b, addrS);
    const addrE = q;
    if (q < 0 || v.getFloat64(q, true) !== UPSTREAM_STATUS_0 || v.getFloat64(q + 8, true) !== UPSTREAM_STATUS_8 || v.getFloat64(q + 13, true) !== UPSTREAM_STATUS_13) return -1;
    const ustS = q + 21;
    q = quote(b, ustS);
    const ustE = q;
    if (
      q < 0 ||
      v.getFloat64(q, true) !== UPSTREAM_RESPONSE_TIME_0 ||
      v.getFloat64(q + 8, true) !== UPSTREAM_RESPONSE_TIME_8 ||
      v.getFloat64(q + 16, true) !== UPSTREAM_RESPONSE_TIME_16 ||
      v.getFloat64(q + 20, true) !== UPSTREAM_RESPONSE_TIME_20
    )
      return -1;
    q = quote(b, q + 28);
    if (q < 0 || v.getFloat64(q, true) !== POOL_0 || v.getFloat64(q + 2, true) !== POOL_2) return -1;
    const poolS = q + 10;
    q = quote(b, poolS);
    const poolE = q;
    if (q < 0 || v.getFloat64(q, true) !== RELEASE_0 || v.getFloat64(q + 5, true) !== RELEASE_5) return -1;
    const relS = q + 13;
    q = quote(b, relS);
    if (q < 0) return -1;
    const relE = q;
    let page = false;
    if (b[q + 1] === 44) {
      if (v.getFloat64(q, true) !== PAGE_0 || v.getFloat64(q + 2, true) !== PAGE_2) return -1;
      const pageS = q + 10;
      q = quote(b, pageS);
      if (q < 0) return -1;
      page = q - pageS === 11 && v.getFloat64(pageS, true) === MAINTENANCE_0 && v.getFloat64(pageS + 3, true) === MAINTENANCE_3;
    }
    const end = q + 2;
    if (b[q + 1] !== 125 || (end !== this.#limit && b[end] !== 10)) return -1;

    const time = this.#time(b, v, timeS);
    if (time < 0) return -1;
    this.time = time;
    this.status = status;
    this.requestTime = rtime;
    this.#upstream(b, addrS, addrE, ustS, ustE);
    const len = poolE - poolS;
    this.pool =
      len === 4 && b[poolS] === 98 && b[poolS + 1] === 108 && b[poolS + 2] === 117 && b[poolS + 3] === 101
        ? 'blue'
        : len === 5 && b[poolS] === 103 && b[poolS + 1] === 114 && b[poolS + 2] === 101 && b[poolS + 3] === 101 && b[poolS + 4] === 110
          ? 'green'
          : undefined;
    this.release = this.#release(b, v, relS, relE);
    this.maintenancePage = page;
    this.failedPool = (this.#earlierFailed && this.#blameFast(b, addrS, addrE, ustS, ustE)) || blame(this.pool, this.#lastFailed, this.#earlierFailed);
    return end;
  }

  /** The rare line with an earlier failed attempt: decode the two lists and ask nginx's table. */
  #blameFast(b: Buffer, addrS: number, addrE: number, ustS: number, ustE: number): Pool | undefined {
    if (this.#poolOf === undefined) return undefined;
    const addrs = b.toString('latin1', addrS, addrE).split(ATTEMPT_SEP);
    const failed = b
      .toString('latin1', ustS, ustE)
      .split(ATTEMPT_SEP)
      .map((st) => !/^\d+$/.test(st) || Number(st) >= 500);
    return this.#blameByAddress(addrs, failed);
  }

  /** The pool of the first failed attempt whose address nginx's table names. */
  #blameByAddress(addrs: readonly string[], failed: readonly boolean[]): Pool | undefined {
    if (this.#poolOf === undefined || addrs.length !== failed.length) return undefined;
    for (let i = 0; i < failed.length; i++) {
      if (!failed[i]) continue;
      const pool = this.#poolOf(addrs[i]!);
      if (pool !== undefined) return pool;
    }
    return undefined;
  }

  /** Counts attempts and failures from upstream_status; spots group names in upstream_addr. */
  #upstream(b: Buffer, addrS: number, addrE: number, ustS: number, ustE: number): void {
    // Tokens are split on ", " (servers of a group) and " : " (groups), as splitField() does.
    let lastFailed = false;
    let earlierFailed = false;
    let attempts = 0;
    let failures = 0;
    if (!isAbsent(b, ustS, ustE)) {
      let n = 0;
      let digits = 0;
      let bad = false;
      for (let i = ustS; ; i++) {
        let sep = 0;
        if (i >= ustE) sep = 1;
        else {
          const c = b[i]!;
          if (c === 44 && b[i + 1] === 32) sep = 2;
          else if (c === 32 && b[i + 1] === 58 && b[i + 2] === 32) sep = 3;
          else if (c >= 48 && c <= 57) {
            n = n * 10 + c - 48;
            digits++;
          } else bad = true;
        }
        if (sep === 0) continue;
        const failed = bad || digits === 0 || n >= 500;
        attempts++;
        if (failed) failures++;
        if (sep === 1) {
          lastFailed = failed;
          break;
        }
        if (failed) earlierFailed = true;
        n = 0;
        digits = 0;
        bad = false;
        i += sep - 1;
      }
    }
    this.attempts = attempts;
    this.attemptFailures = failures;
    this.#lastFailed = lastFailed;
    this.#earlierFailed = earlierFailed;
    let noLive = false;
    if (!isAbsent(b, addrS, addrE)) {
      let colon = false;
      for (let i = addrS; i < addrE; i++) {
        const c = b[i]!;
        let sep = 0;
        if (c === 44 && b[i + 1] === 32) sep = 2;
        else if (c === 32 && b[i + 1] === 58 && b[i + 2] === 32) sep = 3;
        else if (c === 58) colon = true;
        if (sep === 0) continue;
        if (!colon) noLive = true;
        colon = false;
        i += sep - 1;
      }
      if (!colon) noLive = true;
    }
    this.noLiveUpstream = noLive;
  }

  /** `YYYY-MM-DDTHH:MM:SS+HH:MM` at a: epoch ms, or -1 for "ask the parser". Only the seconds change in a busy log. */
  #time(b: Buffer, v: DataView, a: number): number {
    const s1 = b[a + 17]! - 48;
    const s2 = b[a + 18]! - 48;
    if (!(s1 >= 0 && s1 <= 5 && s2 >= 0 && s2 <= 9) || b[a + 16] !== 58) return -1;
    // The 16 bytes up to the minute and the 6 of the zone, against the last time's (see key()).
    const w0 = v.getFloat64(a, true);
    const w1 = v.getFloat64(a + 8, true);
    const z0 = v.getInt32(a + 19, true);
    const z1 = v.getUint16(a + 23, true);
    if (w0 !== this.#t0 || w1 !== this.#t1 || z0 !== this.#z0 || z1 !== this.#z1) {
      const text = b.toString('latin1', a, a + 25);
      const hour = (b[a + 11]! - 48) * 10 + b[a + 12]! - 48;
      // Hour 24 is valid only at 24:00:00: leave it to the parser.
      if (!ISO_RE.test(text) || hour > 23) return -1;
      const base = Date.parse(`${text.slice(0, 16)}:00${text.slice(19)}`);
      if (!Number.isFinite(base)) return -1;
      this.#t0 = w0;
      this.#t1 = w1;
      this.#z0 = z0;
      this.#z1 = z1;
      this.#timeBase = base;
    }
    return this.#timeBase + (s1 * 10 + s2) * 1000;
  }

  #release(b: Buffer, v: DataView, a: number, e: number): string | undefined {
    if (a === e || isAbsent(b, a, e)) return undefined;
    const rel = this.#releases;
    const len = e - a;
    for (let k = 0; k < rel.length; k++) {
      const r = rel[k]!;
      if (r.bytes.length === len && sameBytes(b, v, a, r)) return r.text;
    }
    const text = b.toString('utf8', a, e);
    if (rel.length >= 4) rel.shift();
    const bytes = Buffer.from(b.subarray(a, e));
    rel.push({ bytes, words: wordsOf(bytes), text });
    return text;
  }
}

interface KnownRelease {
  bytes: Buffer;
  /** bytes as float64 words at 0, 8, … and len - 8 (see words()); empty under 8 bytes. */
  words: Float64Array;
  text: string;
}

/** Where the 8-byte words of `len` bytes start: 0, 8, … and len - 8 (overlapping the one before). */
function wordOffsets(len: number): number[] {
  if (len < 8) return [];
  const out: number[] = [];
  for (let o = 0; o < len - 8; o += 8) out.push(o);
  out.push(len - 8);
  return out;
}

function wordsOf(bytes: Buffer): Float64Array {
  return Float64Array.from(wordOffsets(bytes.length), (o) => bytes.readDoubleLE(o));
}

/**
 * b[a, a + r.bytes.length) is r's text: 8 bytes a compare (a release id is usually 10-30 bytes).
 * A word that reads as NaN (only non-UTF-8 bytes can) never compares equal: a miss, never a wrong
 * match; and no two byte strings without a zero byte read as equal doubles.
 */
function sameBytes(b: Buffer, v: DataView, a: number, r: KnownRelease): boolean {
  const len = r.bytes.length;
  const w = r.words;
  if (w.length === 0) {
    for (let i = 0; i < len; i++) if (r.bytes[i] !== b[a + i]) return false;
    return true;
  }
  const n = w.length - 1;
  for (let k = 0; k < n; k++) if (v.getFloat64(a + k * 8, true) !== w[k]) return false;
  return v.getFloat64(a + len - 8, true) === w[n];
}

const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/;

/** Between attempts in upstream_addr / upstream_status: `, ` (servers of a group), ` : ` (groups). */
const ATTEMPT_SEP = /, | : /;

/**
 * Which pool a failed attempt hit, without nginx's address table: the last attempt's pool is in the
 * line (nginx's `pool`); in `blue_primary` / `green_primary` an earlier attempt is taken to have
 * gone to the other pool (primary, then backup), which is wrong when a pool has several servers
 * (Swarm tasks) and one of them failed before another answered: the table above knows better.
 */
function blame(pool: Pool | undefined, lastFailed: boolean, earlierFailed: boolean): Pool | undefined {
  if (pool === undefined) return undefined;
  if (lastFailed) return pool;
  if (earlierFailed) return pool === 'blue' ? 'green' : 'blue';
  return undefined;
}

/** The next `"` at or after i; -1 at a control byte (a newline: the line ended) or the buffer's end. */
function quote(b: Buffer, i: number): number {
  for (;;) {
    const c = b[i]!;
    if (c === 34) return i;
    if (!(c >= 32)) return -1;
    i++;
  }
}

/** b[a, e) is `-` (nginx's "no value"), or empty. */
function isAbsent(b: Buffer, a: number, e: number): boolean {
  return e === a || (e - a === 1 && b[a] === 45);
}

/** Digits at [a, e) form a JSON integer: 1 to 15 digits, no leading zero. */
function jsonInt(b: Buffer, a: number, e: number): boolean {
  return e > a && e - a <= 15 && (b[a] !== 48 || e - a === 1);
}

// Keys with the punctuation around them, compared in full: a line that differs anywhere but in
// its values goes to the parser. Each key is read as little-endian float64 words at the offsets in
// the constant's name (the last word overlapping the one before). ASCII text never reads as NaN
// or a zero, so === on these doubles is === on the bytes, at one load per 8 bytes.
const [REMOTE_ADDR_0, REMOTE_ADDR_8, REMOTE_ADDR_9] = words('","remote_addr":"', [0, 8, 9]);
const [REQUEST_ID_0, REQUEST_ID_8] = words('","request_id":"', [0, 8]);
const [METHOD_0, METHOD_4] = words('","method":"', [0, 4]);
const [URI_0, URI_1] = words('","uri":"', [0, 1]);
const [STATUS_0, STATUS_3] = words('","status":', [0, 3]);
const [BODY_BYTES_SENT_0, BODY_BYTES_SENT_8, BODY_BYTES_SENT_10] = words('"body_bytes_sent":', [0, 8, 10]);
const [REQUEST_TIME_0, REQUEST_TIME_7] = words('"request_time":', [0, 7]);
const [UPSTREAM_ADDR_0, UPSTREAM_ADDR_8, UPSTREAM_ADDR_9] = words('"upstream_addr":"', [0, 8, 9]);
const [UPSTREAM_STATUS_0, UPSTREAM_STATUS_8, UPSTREAM_STATUS_13] = words('","upstream_status":"', [0, 8, 13]);
const [UPSTREAM_RESPONSE_TIME_0, UPSTREAM_RESPONSE_TIME_8, UPSTREAM_RESPONSE_TIME_16, UPSTREAM_RESPONSE_TIME_20] = words('","upstream_response_time":"', [0, 8, 16, 20]);
const [POOL_0, POOL_2] = words('","pool":"', [0, 2]);
const [RELEASE_0, RELEASE_5] = words('","release":"', [0, 5]);
const [PAGE_0, PAGE_2] = words('","page":"', [0, 2]);
const [MAINTENANCE_0, MAINTENANCE_3] = words('maintenance', [0, 3]);

/** The words of a key at the given offsets; throws on a wrong offset list, so the code above cannot drift from the text. */
function words(text: string, offsets: number[]): number[] {
  const bytes = Buffer.from(text);
  const want = wordOffsets(bytes.length);
  if (offsets.join() !== want.join()) throw new Error(`key ${text}: words at ${want.join()}, not ${offsets.join()}`);
  return offsets.map((o) => bytes.readDoubleLE(o));
}

/** At p: `{"time":"`. */
function isTimeKey(b: Buffer, p: number): boolean {
  return (
    b[p] === 123 &&
    b[p + 1] === 34 &&
    b[p + 2] === 116 &&
    b[p + 3] === 105 &&
    b[p + 4] === 109 &&
    b[p + 5] === 101 &&
    b[p + 6] === 34 &&
    b[p + 7] === 58 &&
    b[p + 8] === 34
  );
}
