import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';

const MAX_BODY = 4 * 1024 * 1024;
const WINDOW_SEC = 300;

/**
 * Bolt checks the signature and rejects timestamps older than 5 minutes, but accepts the same
 * signed request again within those 5 minutes. This wrapper answers 401 to a correctly signed
 * request it has already passed on, then hands the buffered body to Bolt (Bolt reuses
 * `req.rawBody` when it is set, so the body is read once).
 */
export function guardReplays(
  next: (req: IncomingMessage, res: ServerResponse) => void,
  opts: { signingSecret: string; log: Logger; now?: () => number },
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const seen = new Map<string, number>();
  const now = opts.now ?? Date.now;
  return async (req, res) => {
    const body = await readBody(req);
    if (body === undefined) {
      res.writeHead(413).end();
      return;
    }
    (req as IncomingMessage & { rawBody?: Buffer }).rawBody = body;
    const signature = header(req, 'x-slack-signature');
    const ts = header(req, 'x-slack-request-timestamp');
    if (signature && ts && isValid(opts.signingSecret, ts, body, signature)) {
      const nowSec = now() / 1000;
      for (const [sig, at] of seen) {
        if (nowSec - at <= WINDOW_SEC + 60) break;
        seen.delete(sig);
      }
      if (seen.has(signature)) {
        opts.log.warn({ ts, retry: header(req, 'x-slack-retry-num') }, 'replayed Slack request refused');
        res.writeHead(401).end();
        return;
      }
      seen.set(signature, nowSec);
    }
    next(req, res);
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

function isValid(secret: string, ts: string, body: Buffer, signature: string): boolean {
  const expected = `v0=${createHmac('sha256', secret).update(`v0:${ts}:`).update(body).digest('hex')}`;
  const a = Buffer.from(expected);
  const b = Buffer.from(signature);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}
