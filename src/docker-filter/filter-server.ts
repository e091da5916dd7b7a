import { request as httpRequest, createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Logger } from '../log.js';
import { checkBody, checkTarget, type CheckContext } from './body-checks.js';
import { matchRequest, type FilterMode } from './rules.js';

// The Docker API filter (issue #20): the only process with the Docker socket. It takes the bot's
// HTTP requests, lets through exactly the calls in rules.ts whose bodies pass body-checks.ts, and
// answers everything else 403 with the reason, logged. It reads each body whole (at most
// MAX_BODY_BYTES) before anything reaches Docker, and sends Docker the body it checked with its
// exact length: no chunked or lying Content-Length passes through. Node's HTTP parser refuses what
// is ambiguous (Content-Length with Transfer-Encoding, two different lengths, bad chunking) with 400.

export const MAX_BODY_BYTES = 1024 * 1024;

export interface FilterOptions {
  /** Docker's own socket, the one place it is reached. */
  upstreamSocket: string;
  mode: FilterMode;
  checks: CheckContext;
  log: Logger;
}

/** Hop-by-hop headers and what the filter sets itself: never passed along as the client sent them. */
const DROP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'content-length', 'host', 'expect']);

function forwardedHeaders(h: IncomingHttpHeaders, length: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (DROP.has(k) || v === undefined) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  out.host = 'docker';
  out['content-length'] = String(length);
  return out;
}

/** Reads the body whole, or undefined (after answering 413) when it is over the cap. */
function readBody(req: IncomingMessage, onTooLarge: () => void): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        if (!over) {
          over = true;
          onTooLarge();
          resolve(undefined);
        }
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

function refuse(res: ServerResponse, status: number, message: string): void {
  const body = `${JSON.stringify({ message: `bluegreen docker filter: ${message}` })}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
}

/** Whether the JSON body has `key` as a top-level field (dockerode copies those into the query). */
function bodyHasField(body: Buffer, key: string): boolean {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && Object.hasOwn(parsed, key);
  } catch {
    return false;
  }
}

/** What a request may do, or why not: the rule, then its body. */
async function judge(o: FilterOptions, method: string, target: string, body: Buffer): Promise<{ ok: true } | { ok: false; why: string }> {
  const m = matchRequest(method, target, o.mode);
  if ('refused' in m) return { ok: false, why: m.refused };
  // dockerode copies the options object into the query, unset fields (undefined) as empty values.
  const stray = m.extraQuery.find((key) => !bodyHasField(body, key) && m.query.getAll(key).some((v) => v !== ''));
  if (stray !== undefined) return { ok: false, why: `${method} ${m.path}: query parameter ${JSON.stringify(stray)} is not allowed` };
  const failed = (err: unknown) => `the check failed: ${(err as Error).message}`;
  const wrongTarget = m.rule.target ? await checkTarget(m.rule.target, o.checks, m.params[0]!).catch(failed) : undefined;
  if (wrongTarget !== undefined) return { ok: false, why: `${method} ${m.path}: ${wrongTarget}` };
  const why = await checkBody(m.rule.body, body, o.checks, m.params, m.query).catch(failed);
  return why === undefined ? { ok: true } : { ok: false, why: `${method} ${m.path}: ${why}` };
}

export function createFilterServer(o: FilterOptions): Server {
  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, maxHeaderSize: 16 * 1024 }, (req, res) => {
    void (async () => {
      const method = req.method ?? '';
      const target = req.url ?? '';
      const body = await readBody(req, () => refuse(res, 413, `body over ${MAX_BODY_BYTES} bytes`));
      if (!body) return;
      const verdict = await judge(o, method, target, body);
      if (!verdict.ok) {
        o.log.warn({ method, target: target.slice(0, 200), why: verdict.why }, 'docker call refused');
        refuse(res, 403, verdict.why);
        return;
      }
      const up = httpRequest({ socketPath: o.upstreamSocket, method, path: target, headers: forwardedHeaders(req.headers, body.length) }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      });
      up.on('error', (err) => {
        o.log.error({ err, method, target: target.slice(0, 200) }, 'docker call failed');
        if (!res.headersSent) refuse(res, 502, `Docker did not answer: ${err.message}`);
        else res.destroy();
      });
      res.on('close', () => up.destroy());
      up.end(body);
    })().catch((err: unknown) => {
      o.log.error({ err }, 'docker filter request failed');
      if (!res.headersSent) refuse(res, 500, 'internal error');
    });
  });

  // `POST /exec/{id}/start` with Upgrade: tcp (dockerode's hijack): check it like any other call,
  // then join the two connections.
  server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => {
    void upgrade(o, req, client, head).catch((err: unknown) => {
      o.log.error({ err }, 'docker filter upgrade failed');
      client.destroy();
    });
  });
  return server;
}

async function upgrade(o: FilterOptions, req: IncomingMessage, client: Socket, head: Buffer): Promise<void> {
  const method = req.method ?? '';
  const target = req.url ?? '';
  const length = Number(req.headers['content-length'] ?? '0');
  const deny = (status: number, why: string) => {
    o.log.warn({ method, target: target.slice(0, 200), why }, 'docker call refused');
    const body = `${JSON.stringify({ message: `bluegreen docker filter: ${why}` })}\n`;
    client.end(`HTTP/1.1 ${status} ${status === 403 ? 'Forbidden' : 'Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  };
  if (req.headers['transfer-encoding'] !== undefined || !Number.isSafeInteger(length) || length < 0 || length > 64 * 1024) {
    deny(400, 'an upgrade request needs a Content-Length of at most 64 KiB and no Transfer-Encoding');
    return;
  }
  // The body follows the head on the raw connection: exactly `length` bytes, the rest is the stream.
  let buf = head;
  while (buf.length < length) {
    const more = await new Promise<Buffer | undefined>((resolve) => {
      const onData = (c: Buffer) => {
        client.off('end', onEnd);
        resolve(c);
      };
      const onEnd = () => {
        client.off('data', onData);
        resolve(undefined);
      };
      client.once('data', onData);
      client.once('end', onEnd);
    });
    if (!more) return void client.destroy();
    buf = Buffer.concat([buf, more]);
  }
  client.pause();
  const body = buf.subarray(0, length);
  const rest = buf.subarray(length);
  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'tcp') {
    deny(400, 'only Upgrade: tcp is spoken here');
    return;
  }
  const verdict = await judge(o, method, target, body);
  if (!verdict.ok || !/^\/(v1\.\d+\/)?exec\/[^/]+\/start(\?|$)/.test(target)) {
    deny(403, verdict.ok ? `${method} ${target.slice(0, 100)} may not upgrade the connection` : verdict.why);
    return;
  }
  const upstream = connect(o.upstreamSocket);
  upstream.on('error', () => client.destroy());
  client.on('error', () => upstream.destroy());
  const headers = forwardedHeaders(req.headers, body.length);
  const lines = [`${method} ${target} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), 'connection: Upgrade', 'upgrade: tcp', '', ''];
  upstream.write(lines.join('\r\n'));
  upstream.write(body);
  if (rest.length) upstream.write(rest);
  upstream.pipe(client);
  client.pipe(upstream);
  client.resume();
}
