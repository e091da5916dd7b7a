import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './log.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * The bot's one HTTP listener: /healthz, /metrics and, in Slack HTTP mode, /slack/events.
 * Components add routes before start; an unknown path is a 404, a throwing handler a 500.
 */
export class HttpServer {
  readonly #routes = new Map<string, RouteHandler>();
  readonly #log: Logger;
  #server: Server | undefined;

  constructor(log: Logger) {
    this.#log = log;
  }

  route(method: string, path: string, handler: RouteHandler): void {
    this.#routes.set(`${method.toUpperCase()} ${path}`, handler);
  }

  async listen(port: number, host: string): Promise<AddressInfo> {
    const server = createServer((req, res) => void this.#handle(req, res));
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
