import type { HttpServer } from './http-server.js';
import type { Metrics } from './metrics.js';

// GET /metrics on the bot's one listener: the app's registry in Prometheus text format. Prometheus
// scrapes it over 127.0.0.1:BOT_PORT (published on loopback only), so it carries no auth of its own.

export function mountMetricsRoute(http: HttpServer, metrics: Pick<Metrics, 'registry'>): void {
  http.route('GET', '/metrics', async (_req, res) => {
    const body = await metrics.registry.metrics();
    res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body);
  });
}
