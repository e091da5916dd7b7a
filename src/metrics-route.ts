import type { HttpServer } from './http-server.js';
import type { Metrics } from './metrics.js';

// GET /metrics on the bot's metrics listener (METRICS_HOST:METRICS_PORT, 127.0.0.1:9464 by default,
// never the public BOT_PORT): the app's registry in Prometheus text format. Only what shares the bot's
// network namespace reaches it unless an operator binds it wider, so it carries no auth of its own.

export function mountMetricsRoute(http: HttpServer, metrics: Pick<Metrics, 'registry'>): void {
  http.route('GET', '/metrics', async (_req, res) => {
    const body = await metrics.registry.metrics();
    res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body);
  });
}
