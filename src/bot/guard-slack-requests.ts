import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import { checkSlackBody } from './check-slack-body.js';
import { SeenRequests } from './seen-requests.js';

/** Slack's payloads are a few KB; Bolt's own limit is 4 MB. */
export const MAX_SLACK_BODY_BYTES = 256 * 1024;
/** Slack's window, both ways: a request dated in the future would outlive the replay memory. */
export const SLACK_WINDOW_SEC = 300;
/**
 * Bytes that unverified requests may hold at once, across all connections: without it, each body
 * is capped but their number is not (sixteen 256 KiB bodies reach it; Slack sends a few KB).
 */
export const MAX_UNVERIFIED_BYTES = 4 * 1024 * 1024;
/** One warn line per refusal reason in this long; the next one says how many were left out. */
export const REFUSAL_LOG_EVERY_MS = 10_000;

// The only spellings Slack sends. Bolt reads the timestamp with Number() (so "0<ts>", "<ts>.0",
// "+<ts>", hex and "<ts>e0" all pass its check with the original signature) and splits the
// signature on "=" (so "v0=<hex>=x" passes too): anything else is refused here.
const TIMESTAMP = /^[1-9][0-9]{0,11}$/;
const SIGNATURE = /^v0=[0-9a-f]{64}$/;

export type RefusalReason = 'bad_headers' | 'out_of_window' | 'too_large' | 'bad_signature' | 'replay' | 'bad_payload' | 'busy' | 'bolt_error' | 'handler_error' | 'no_ack';

export interface GuardOptions {
  signingSecret: string;
  log: Logger;
  now?: () => number;
  maxBodyBytes?: number;
  /** Bytes all requests not yet verified may hold together (MAX_UNVERIFIED_BYTES). */
  maxUnverifiedBytes?: number;
  /** Live requests remembered at once (see SeenRequests). */
  maxRemembered?: number;
  /** Called once per refused or failed request (the metrics counter), logged or not. */
  onRefused?: (reason: RefusalReason) => void;
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Slack's door, in front of Bolt's HTTPReceiver.requestListener. In this order, so an unsigned
 * client costs no memory: the signature headers' shape and the timestamp window (401 without
 * reading the body), the size (413, by Content-Length up front or by counting), the signature,
 * a replay (the same timestamp and body seen before: 401), then the body's shape (400) — only then
 * Bolt, with the body already read (Bolt reuses `req.rawBody`). A refusal before the body is
 * read in full says `Connection: close` and drops the connection once answered.
 *
 * The bodies being read and checked are bounded together too: a request whose body would take the
 * unverified bytes past their cap gets 503 `busy` before any of it is read. A request holds its
 * Content-Length (or, chunked, the most it may grow to) from then until it is verified, refused or
 * gone. A flood of refusals logs one warn line per reason per REFUSAL_LOG_EVERY_MS.
 */
export function guardSlackRequests(next: Listener, opts: GuardOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const now = opts.now ?? Date.now;
  const maxBody = opts.maxBodyBytes ?? MAX_SLACK_BODY_BYTES;
  const maxUnverified = opts.maxUnverifiedBytes ?? MAX_UNVERIFIED_BYTES;
  const seen = new SeenRequests(opts.maxRemembered);
  const warn = warnPerReason(opts.log, now);
  let unverified = 0;

  function refuse(req: IncomingMessage, res: ServerResponse, status: number, reason: RefusalReason, detail: Record<string, unknown>, close: boolean): void {
    opts.onRefused?.(reason);
    warn(reason, { status, reason, ...detail });
    if (res.headersSent) return;
    const headers: Record<string, string> = close ? { connection: 'close' } : {};
    if (reason === 'busy') headers['retry-after'] = '10';
    if (close) lingerThenClose(req);
    res.writeHead(status, headers).end();
  }

  return async (req, res) => {
    // A client that resets mid-body must not surface as an unhandled 'error' once we stop listening.
    req.on('error', () => undefined);
    const signature = req.headers['x-slack-signature'];
    const timestamp = req.headers['x-slack-request-timestamp'];
    // A header sent twice arrives joined with ", " (or as an array): neither matches.
    if (typeof signature !== 'string' || !SIGNATURE.test(signature) || typeof timestamp !== 'string' || !TIMESTAMP.test(timestamp)) {
      refuse(req, res, 401, 'bad_headers', { timestamp: typeof timestamp === 'string' ? timestamp.slice(0, 40) : timestamp }, true);
      return;
    }
    const ts = Number(timestamp);
    const nowSec = Math.floor(now() / 1000);
    if (Math.abs(nowSec - ts) > SLACK_WINDOW_SEC) {
      refuse(req, res, 401, 'out_of_window', { timestamp, skewSec: ts - nowSec }, true);
      return;
    }
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > maxBody) {
      refuse(req, res, 413, 'too_large', { contentLength: declared, limit: maxBody }, true);
      return;
    }
    // Chunked: no length to go by, so the most it may hold.
    const holds = declared === undefined ? maxBody : Number(declared);
    if (unverified + holds > maxUnverified) {
      refuse(req, res, 503, 'busy', { unverifiedBytes: unverified, wants: holds, limit: maxUnverified }, true);
      return;
    }
    unverified += holds;
    let body: Awaited<ReturnType<typeof readBody>>;
    let verified: boolean;
    try {
      body = await readBody(req, maxBody);
      verified = typeof body !== 'string' && signatureMatches(opts.signingSecret, timestamp, body, signature);
    } finally {
      unverified -= holds;
    }
    if (body === 'gone') return;
    if (body === 'too_large') {
      refuse(req, res, 413, 'too_large', { limit: maxBody }, true);
      return;
    }
    if (!verified) {
      refuse(req, res, 401, 'bad_signature', { timestamp }, false);
      return;
    }
    // The signature is a function of (timestamp, body): that pair, in canonical form, is the request.
    const key = `${ts}:${createHash('sha256').update(body).digest('base64')}`;
    const memory = seen.remember(key, ts + SLACK_WINDOW_SEC + 1, nowSec);
    if (memory === 'seen') {
      refuse(req, res, 401, 'replay', { timestamp, retry: req.headers['x-slack-retry-num'] }, false);
      return;
    }
    if (memory === 'full') {
      refuse(req, res, 503, 'busy', { remembered: seen.size }, false);
      return;
    }
    const problem = checkSlackBody(req.headers['content-type'], body);
    if (problem !== undefined) {
      refuse(req, res, 400, 'bad_payload', { problem, contentType: req.headers['content-type'] }, false);
      return;
    }
    (req as IncomingMessage & { rawBody?: Buffer }).rawBody = body;
    try {
      next(req, res);
    } catch (err) {
      refuse(req, res, 500, 'bolt_error', { err }, false);
    }
  };
}

/**
 * After a `Connection: close` answer Node calls socket.destroySoon(): it destroys the socket as soon
 * as the answer is flushed, and with the client still sending, the kernel answers its next bytes
 * with a reset that can beat the 413/401 to the client (it sees ECONNRESET, not the answer). Close
 * the way nginx does instead: FIN after the answer, read nothing more (the client stalls on a full
 * window, costing this process no memory), and drop the connection after LINGER_MS.
 */
const LINGER_MS = 2000;
function lingerThenClose(req: IncomingMessage): void {
  const socket = req.socket;
  socket.destroySoon = () => {
    req.pause();
    socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  };
}

/**
 * `log.warn` for refusals, at most once per reason per REFUSAL_LOG_EVERY_MS: a flood of unsigned
 * requests would otherwise write a line each. The first line after a quiet spell carries
 * `suppressed`, the count left out since the last line of that reason.
 */
function warnPerReason(log: Logger, now: () => number): (reason: RefusalReason, obj: Record<string, unknown>) => void {
  const last = new Map<RefusalReason, { at: number; suppressed: number }>();
  return (reason, obj) => {
    const t = now();
    const seen = last.get(reason);
    if (seen && t - seen.at < REFUSAL_LOG_EVERY_MS) {
      seen.suppressed += 1;
      return;
    }
    log.warn(seen?.suppressed ? { ...obj, suppressed: seen.suppressed } : obj, 'slack request refused');
    last.set(reason, { at: t, suppressed: 0 });
  };
}

function signatureMatches(secret: string, timestamp: string, body: Buffer, signature: string): boolean {
  const expected = Buffer.from(`v0=${createHmac('sha256', secret).update(`v0:${timestamp}:`).update(body).digest('hex')}`);
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** The body, counted as it arrives: 'too_large' past `max` (reading stops), 'gone' if the client left. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | 'too_large' | 'gone'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (v: Buffer | 'too_large' | 'gone') => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onClose);
      resolve(v);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        chunks.length = 0;
        req.pause();
        finish('too_large');
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish(Buffer.concat(chunks, size));
    const onGone = () => finish('gone');
    const onClose = () => {
      if (!req.complete) finish('gone');
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onClose);
  });
}
