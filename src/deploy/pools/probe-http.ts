import { request, type ClientRequest } from 'node:http';
import type { Socket } from 'node:net';

// One HTTP GET to one pool target (a container by name, or a service's task by address), told apart the
// way an operator needs it:
//   unreachable  no connection: refused, no route, a name that does not resolve, or no handshake
//                within connectTimeoutMs. A vanished node's tasks look like this (packets dropped),
//                and it is the only outcome that takes a task out of nginx's members.
//   slow         connected, but no whole answer within timeoutMs: a hung or very busy task. The
//                kernel completes a handshake however busy the task's CPU is, so a saturated host
//                reads as slow, never as gone.
//   unhealthy    an answer whose status is not the expected one (or a connection that broke after
//                it was made).
//   healthy      the expected status (any 2xx by default).
// Never follows a redirect (a 3xx is just a status) and reads at most maxBodyBytes of the body.

export type ProbeOutcome = 'healthy' | 'unhealthy' | 'slow' | 'unreachable';

export interface HttpProbe {
  outcome: ProbeOutcome;
  /** HTTP status, when an answer came. */
  status?: number | undefined;
  /** "HTTP 200", "no answer: ECONNREFUSED", "no connection within 500 ms", "connected, no answer within 2000 ms". */
  detail: string;
  ms: number;
  /** The body, cut at maxBodyBytes (the demo app says its chaos mode in /healthz's body). */
  body?: string | undefined;
}

export interface ProbeOptions {
  connectTimeoutMs: number;
  /** From the start of the probe to the end of the answer. */
  timeoutMs: number;
  /** Sent as Host instead of the target's own (an app that checks its Host: Django's ALLOWED_HOSTS). */
  hostHeader?: string | undefined;
  /** Statuses that count as healthy [200-299]. */
  expect?: (status: number) => boolean;
  maxBodyBytes?: number;
  /** Extra request headers (a secret the pools' admin listener wants). */
  headers?: Readonly<Record<string, string>>;
  method?: string;
  /** The socket to use instead of a TCP connection (tests). */
  createConnection?: () => Socket;
}

export const MAX_BODY_BYTES = 64 * 1024;

/** A live target completes a TCP handshake in well under a millisecond, however busy its CPU. */
export const CONNECT_TIMEOUT_MS = 500;

/** How the app says it is healthy (APP_HEALTH_PATH, APP_HEALTH_STATUS, APP_HEALTH_HOST). */
export interface HealthSpec {
  /** The path probed on the app's port [/healthz]. */
  path: string;
  /** Statuses that count as healthy [any 2xx]. */
  expect?: (status: number) => boolean;
  /** Host header to send instead of the target's address (an app that checks it). */
  hostHeader?: string | undefined;
}

export const DEFAULT_HEALTH: HealthSpec = { path: '/healthz' };

/** One health probe of the app at `base` (http://host:APP_PORT), as `spec` says. */
export function probeHealth(base: string, spec: HealthSpec, t: { connectTimeoutMs: number; timeoutMs: number }): Promise<HttpProbe> {
  return probeHttp(new URL(spec.path, base), { ...t, ...(spec.expect ? { expect: spec.expect } : {}), ...(spec.hostHeader ? { hostHeader: spec.hostHeader } : {}) });
}

const is2xx = (status: number) => status >= 200 && status < 300;

/** Error codes raised before a connection exists: the target is not there for us. */
const NO_CONNECTION = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EADDRNOTAVAIL']);

/**
 * A timer that fires only if the thing it guards has not happened by the time this process looks:
 * when the bot itself was starved of CPU, the timer and the socket's event may be due together, and
 * timers run first in Node's loop. setImmediate lets the pending I/O callbacks run before judging.
 */
function guardedTimer(ms: number, fire: () => void): NodeJS.Timeout {
  return setTimeout(() => setImmediate(fire), ms);
}

export function probeHttp(url: URL, o: ProbeOptions): Promise<HttpProbe> {
  const started = performance.now();
  const expect = o.expect ?? is2xx;
  const max = o.maxBodyBytes ?? MAX_BODY_BYTES;
  return new Promise<HttpProbe>((resolve) => {
    let done = false;
    let connected = false;
    const timers: NodeJS.Timeout[] = [];
    // Called from the request's callbacks and timers only, never before `req` is assigned.
    const finish = (p: Omit<HttpProbe, 'ms'>) => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      req.destroy();
      resolve({ ...p, ms: performance.now() - started });
    };
    const req: ClientRequest = request(
      {
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port || 80,
        path: `${url.pathname}${url.search}`,
        method: o.method ?? 'GET',
        // A fresh connection each time (no pooled socket hides a vanished task); Node takes
        // createConnection only when no agent is given.
        agent: o.createConnection ? undefined : false,
        headers: { connection: 'close', ...(o.hostHeader ? { host: o.hostHeader } : {}), ...o.headers },
        ...(o.createConnection ? { createConnection: o.createConnection } : {}),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < max) chunks.push(chunk.subarray(0, max - size));
          size += chunk.length;
          // Enough read: a health answer is small, anything longer is not worth the memory.
          if (size >= max) res.destroy();
        });
        const end = () => {
          const body = Buffer.concat(chunks).toString('utf8');
          finish({ outcome: expect(status) ? 'healthy' : 'unhealthy', status, detail: `HTTP ${status}`, body });
        };
        res.on('end', end);
        res.on('close', end);
        res.on('error', end);
      },
    );
    req.on('socket', (socket: Socket) => {
      if (!socket.connecting) connected = true;
      else socket.once('connect', () => (connected = true));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? err.name;
      if (!connected || NO_CONNECTION.has(code)) finish({ outcome: 'unreachable', detail: `no answer: ${code}` });
      else finish({ outcome: 'unhealthy', detail: `connection broke: ${code}` });
    });
    timers.push(
      guardedTimer(o.connectTimeoutMs, () => {
        if (!connected) finish({ outcome: 'unreachable', detail: `no connection within ${o.connectTimeoutMs} ms` });
      }),
      guardedTimer(o.timeoutMs, () => {
        finish(connected ? { outcome: 'slow', detail: `connected, no answer within ${o.timeoutMs} ms` } : { outcome: 'unreachable', detail: `no connection within ${o.timeoutMs} ms` });
      }),
    );
    req.end();
  });
}
