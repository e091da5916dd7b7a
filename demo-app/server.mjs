// The demo app that stands in each pool. Plain Node, no dependencies, so it runs on the official
// node image and on the offline stand-in alike. Endpoints and headers: shared/SPEC.md "Demo app".
import { createServer } from 'node:http';
import { hostname } from 'node:os';

const POOL = process.env.APP_POOL ?? 'unknown';
const RELEASE = process.env.RELEASE_ID ?? 'dev';
const PORT = Number(process.env.PORT ?? 3000);

/** @type {{ mode: 'error' | 'timeout' | null, since: string | null }} */
const chaos = { mode: null, since: null };
/** Requests held open by `timeout` chaos, released on stop so nothing leaks. */
const held = new Set();

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-app-pool': POOL,
    'x-release-id': RELEASE,
  });
  res.end(text);
}

function log(msg, extra = {}) {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), pool: POOL, release: RELEASE, msg, ...extra })}\n`);
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;

  if (path === '/chaos/start' && req.method === 'POST') {
    const mode = url.searchParams.get('mode') ?? 'error';
    if (mode !== 'error' && mode !== 'timeout') {
      return send(res, 400, { error: `mode must be error or timeout, got ${JSON.stringify(mode)}` });
    }
    chaos.mode = mode;
    chaos.since = new Date().toISOString();
    log('chaos started', { mode });
    return send(res, 200, { pool: POOL, release: RELEASE, chaos: chaos.mode, since: chaos.since });
  }
  if (path === '/chaos/stop' && req.method === 'POST') {
    const was = chaos.mode;
    chaos.mode = null;
    chaos.since = null;
    for (const r of held) if (!r.headersSent) send(r, 503, { error: 'chaos stopped while held', pool: POOL });
    held.clear();
    log('chaos stopped', { was });
    return send(res, 200, { pool: POOL, release: RELEASE, chaos: null, was });
  }
  if (path === '/chaos' && req.method === 'GET') {
    return send(res, 200, { pool: POOL, release: RELEASE, chaos: chaos.mode, since: chaos.since });
  }
  if (path === '/healthz') {
    return chaos.mode
      ? send(res, 503, { status: 'chaos', pool: POOL, release: RELEASE, chaos: chaos.mode })
      : send(res, 200, { status: 'ok', pool: POOL, release: RELEASE });
  }

  // Every other path is "the application": chaos applies here.
  if (chaos.mode === 'error') return send(res, 500, { error: 'chaos: simulated failure', pool: POOL, release: RELEASE });
  if (chaos.mode === 'timeout') {
    held.add(res);
    res.on('close', () => held.delete(res));
    return undefined;
  }
  if (path === '/' || path === '/version') {
    return send(res, 200, { pool: POOL, release: RELEASE, host: hostname(), time: new Date().toISOString() });
  }
  return send(res, 404, { error: 'not found', path, pool: POOL, release: RELEASE });
});

// Outlive nginx's upstream keepalive_timeout so nginx never reuses a connection the app just closed
// (that race shows up as a spurious upstream error and marks the pool failed).
server.keepAliveTimeout = 75_000;
server.headersTimeout = 76_000;
server.requestTimeout = 0;

server.listen(PORT, '0.0.0.0', () => log('listening', { port: PORT }));

function shutdown(signal) {
  log('shutting down', { signal });
  for (const r of held) r.destroy();
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 3000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
