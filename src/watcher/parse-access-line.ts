import { isUtf8 } from 'node:buffer';
import type { Pool } from '../pool.js';

/** One request as nginx logged it (shared/SPEC.md "nginx access log"); `-` became undefined. */
export interface AccessEvent {
  /** Epoch milliseconds of `time` (nginx logs whole seconds). */
  time: number;
  remoteAddr: string;
  requestId: string;
  method: string;
  uri: string;
  status: number;
  bodyBytesSent: number;
  /** Seconds, as nginx's `$request_time`. */
  requestTime: number;
  /** One entry per upstream attempt, in order; empty when nginx never tried an upstream. */
  upstreamAddr: string[];
  upstreamStatus: (number | undefined)[];
  upstreamResponseTime: (number | undefined)[];
  /** Pool and release from the last attempt's `X-App-Pool` / `X-Release-Id`. */
  pool: Pool | undefined;
  release: string | undefined;
  /**
   * A page nginx answered with itself instead of a pool (`maintenance`: the maintenance page's
   * 503); absent when the line's optional `page` field is `-` or missing (logs older than it).
   */
  page?: string;
  /** Set when the line held bytes that are not UTF-8 (a raw byte in the URI): decoded lossily. */
  nonUtf8?: true;
}

export type MalformedReason = 'empty' | 'huge' | 'truncated' | 'not_json' | 'missing_field' | 'bad_field';

export type ParsedLine = AccessEvent | MalformedReason;

export const MAX_LINE_BYTES = 1024 * 1024;

export function isMalformed(p: ParsedLine): p is MalformedReason {
  return typeof p === 'string';
}

/**
 * A line (without its newline) -> an event, or why it is not one. Never throws.
 *
 * A real line, as nginx/nginx.conf.template's `bluegreen_json` format writes it:
 * {"time":"2026-11-22T20:53:10+00:00","remote_addr":"172.18.0.1","request_id":"a1a1…","method":"GET",
 *  "uri":"/","status":200,"body_bytes_sent":62,"request_time":0.005,
 *  "upstream_addr":"172.18.0.3:3000, 172.18.0.4:3000","upstream_status":"500, 200",
 *  "upstream_response_time":"0.002, 0.003","pool":"green","release":"green-2026.11.22-1","page":"-"}
 * and one of the maintenance page (nginx answered itself; `page` says with what):
 * {"time":"2026-11-30T13:22:41+00:00","remote_addr":"127.0.0.1","request_id":"abbe…","method":"POST",
 *  "uri":"/orders","status":503,"body_bytes_sent":795,"request_time":0.000,"upstream_addr":"-",
 *  "upstream_status":"-","upstream_response_time":"-","pool":"-","release":"-","page":"maintenance"}
 */
export function parseAccessLine(line: string | Buffer): ParsedLine {
  const buf = typeof line === 'string' ? Buffer.from(line, 'utf8') : line;
  return parseAccessBytes(buf, 0, buf.length);
}

/** Full decode of `buf[start, end)`; the authority on what a line means. */
export function parseAccessBytes(buf: Buffer, start: number, end: number): ParsedLine {
  if (end > start && buf[end - 1] === 13) end--; // CRLF
  if (end - start > MAX_LINE_BYTES) return 'huge';
  if (end <= start) return 'empty';
  return parseSlow(buf, start, end);
}

function parseIsoTime(text: string): number {
  if (!ISO_RE.test(text)) return -1;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : -1;
}

const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Every field of shared/SPEC.md "nginx access log", in the order nginx writes them. nginx writes
 * `page` after them; it is optional here, so logs written before it still parse.
 */
export const ACCESS_LOG_FIELDS = [
  'time',
  'remote_addr',
  'request_id',
  'method',
  'uri',
  'status',
  'body_bytes_sent',
  'request_time',
  'upstream_addr',
  'upstream_status',
  'upstream_response_time',
  'pool',
  'release',
] as const;

// --- slow path -----------------------------------------------------------------------------------

function parseSlow(buf: Buffer, start: number, end: number): ParsedLine {
  const bytes = buf.subarray(start, end);
  const nonUtf8 = !isUtf8(bytes);
  const text = bytes.toString('utf8');
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    const t = text.trimEnd();
    return t.startsWith('{') && !t.endsWith('}') ? 'truncated' : 'not_json';
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return 'not_json';
  const o = obj as Record<string, unknown>;
  for (const name of ACCESS_LOG_FIELDS) if (!(name in o)) return 'missing_field';

  const time = typeof o.time === 'string' ? parseIsoTime(o.time) : -1;
  const status = toStatus(o.status);
  const body = toNumber(o.body_bytes_sent);
  const rtime = toNumber(o.request_time);
  if (time < 0 || status === undefined || body === undefined || rtime === undefined) return 'bad_field';
  const strings = [o.remote_addr, o.request_id, o.method, o.uri, o.upstream_addr, o.upstream_status];
  if (!strings.every((v) => typeof v === 'string')) return 'bad_field';
  for (const v of [o.upstream_response_time, o.pool, o.release]) if (typeof v !== 'string') return 'bad_field';
  if (o.page !== undefined && typeof o.page !== 'string') return 'bad_field';

  const ev: AccessEvent = {
    time,
    remoteAddr: o.remote_addr as string,
    requestId: o.request_id as string,
    method: o.method as string,
    uri: o.uri as string,
    status,
    bodyBytesSent: body,
    requestTime: rtime,
    upstreamAddr: splitField(o.upstream_addr as string),
    upstreamStatus: splitField(o.upstream_status as string).map(toIntOrUndefined),
    upstreamResponseTime: splitField(o.upstream_response_time as string).map(toNumberOrUndefined),
    pool: o.pool === 'blue' || o.pool === 'green' ? o.pool : undefined,
    release: o.release === '-' || o.release === '' ? undefined : (o.release as string),
  };
  if (typeof o.page === 'string' && o.page !== '-' && o.page !== '') ev.page = o.page;
  if (nonUtf8) ev.nonUtf8 = true;
  return ev;
}

const SPLIT_RE = /, | : /;

/** `"500, 200"` -> ['500', '200']; `"502 : 502"` -> ['502', '502']; `"-"` -> []. */
export function splitField(text: string): string[] {
  if (text === '-' || text === '') return [];
  return text.split(SPLIT_RE);
}

/** An HTTP status as nginx logs it: a whole number from 100 to 599 (`1e308` is a number, not a status). */
function toStatus(v: unknown): number | undefined {
  const n = toNumber(v);
  return n !== undefined && Number.isInteger(n) && n >= 100 && n <= 599 ? n : undefined;
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  if (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v)) return Number(v);
  return undefined;
}

function toIntOrUndefined(t: string): number | undefined {
  return /^\d+$/.test(t) ? Number(t) : undefined;
}

function toNumberOrUndefined(t: string): number | undefined {
  return /^\d+(\.\d+)?$/.test(t) ? Number(t) : undefined;
}
