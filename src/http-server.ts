import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './log.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * How long a client may take to send a request's headers, and the whole request. Node's defaults
 * (60 s, 5 min) let a slow sender hold a connection and its buffers for minutes; Slack sends a few
 * KB at once. Node wants headers <= request; the keep-alive idle time between requests is apart.
 */
export interface HttpTimeouts {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}
export const HTTP_TIMEOUTS: Readonly<HttpTimeouts> = { headersTimeoutMs: 10_000, requestTimeoutMs: 15_000 };

/**
 * One of the bot's HTTP listeners: the public one (/healthz and, in Slack HTTP mode, /slack/events)
 * or the metrics one (/metrics, /pool-stats; src/app.ts builds both). Components add routes before
 * start; an unknown path is a 404, a throwing handler a 500.
 */
export class HttpServer {
  readonly #routes = new Map<string, RouteHandler>();
  readonly #log: Logger;
  readonly #timeouts: HttpTimeouts;
  #server: Server | undefined;

  constructor(log: Logger, timeouts: HttpTimeouts = HTTP_TIMEOUTS) {
    this.#log = log;
    this.#timeouts = timeouts;
  }

  route(method: string, path: string, handler: RouteHandler): void {
    this.#routes.set(`${method.toUpperCase()} ${path}`, handler);
  }

  async listen(port: number, host: string): Promise<AddressInfo> {
    const { headersTimeoutMs, requestTimeoutMs } = this.#timeouts;
    const server = createServer(
      // Node checks both every connectionsCheckingInterval (30 s by default, which would double the
      // headers' 10 s): often enough that a timeout means about what it says. An answer that takes
      // long is not cut: the timeouts stop once the request has arrived.
      { headersTimeout: headersTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.max(1, Math.floor(Math.min(1000, headersTimeoutMs / 4))) },
      (req, res) => void this.#handle(req, res),
    );
    // Slack and load balancers keep connections open; outlive nginx's and Slack's idle timeouts.
    server.keepAliveTimeout = 65_000;
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const handler = this.#routes.get(`${req.method ?? 'GET'} ${path}`);
    if (!handler) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found', path }));
      return;
    }
    try {
      await handler(req, res);
    } catch (err) {
      this.#log.error({ err, path }, 'http handler failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'internal error' }));
    }
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
