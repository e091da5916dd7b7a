// The demo app that stands in each pool. Plain Node, no dependencies, so it runs on the official
// node image and on the offline stand-in alike. Endpoints and headers: shared/SPEC.md "Demo app",
// except that chaos moved from PORT to its own ADMIN_PORT listener (issue #10), where a change of
// chaos needs the X-Bluegreen-Admin-Token header (ADMIN_TOKEN, issue #20).
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { hostname } from 'node:os';

const POOL = process.env.APP_POOL ?? 'unknown';
const RELEASE = process.env.RELEASE_ID ?? 'dev';
const PORT = Number(process.env.PORT ?? 3000);
// Chaos is served only here, on a listener nginx never proxies to (compose publishes it on
// 127.0.0.1:BLUE_PORT / GREEN_PORT for drills): no spelling of a path on PORT can reach it.
const ADMIN_PORT = Number(process.env.ADMIN_PORT ?? 3001);
// Anyone on the Docker network reaches the admin listener too (issue #20): starting or stopping chaos
// needs ADMIN_TOKEN in the X-Bluegreen-Admin-Token header, which the bot sends. Without ADMIN_TOKEN
// chaos is refused (fail closed); scripts/stack.sh always gives the pools and the bot one.
const ADMIN_TOKEN = (process.env.ADMIN_TOKEN ?? '').trim();
const ADMIN_TOKEN_HEADER = 'x-bluegreen-admin-token';
// A release that passes its health check and fails a share of real requests: FAIL_PERCENT of the
// requests to `/` answer 500 (evenly spread), while /healthz and /version stay fine.
const FAIL_PERCENT = Number(process.env.FAIL_PERCENT ?? 0);
if (!(FAIL_PERCENT >= 0 && FAIL_PERCENT <= 100)) {
  process.stderr.write(`demo-app: FAIL_PERCENT: got ${JSON.stringify(process.env.FAIL_PERCENT)}, wants a percent (0-100)\n`);
  process.exit(64);
}
// ... and starts failing only after FAIL_AFTER requests to `/` were served well (a release that
// breaks after a while, not on its first request).
const FAIL_AFTER = Number(process.env.FAIL_AFTER ?? 0);
if (!(Number.isInteger(FAIL_AFTER) && FAIL_AFTER >= 0)) {
  process.stderr.write(`demo-app: FAIL_AFTER: got ${JSON.stringify(process.env.FAIL_AFTER)}, wants a count of requests (0 or more)\n`);
  process.exit(64);
}
let requests = 0;
let served = 0;

for (const [name, value] of [['PORT', PORT], ['ADMIN_PORT', ADMIN_PORT]]) {
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    process.stderr.write(`demo-app: ${name}: got ${JSON.stringify(process.env[name])}, wants a port number (1-65535)\n`);
    process.exit(64);
  }
}
if (PORT === ADMIN_PORT) {
  process.stderr.write(`demo-app: ADMIN_PORT: got ${ADMIN_PORT}, wants a port other than PORT (${PORT}): chaos must not share the public listener\n`);
  process.exit(64);
}

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

function health(res) {
  return chaos.mode
    ? send(res, 503, { status: 'chaos', pool: POOL, release: RELEASE, chaos: chaos.mode })
    : send(res, 200, { status: 'ok', pool: POOL, release: RELEASE });
}

function version(res) {
  return send(res, 200, { pool: POOL, release: RELEASE, host: hostname(), time: new Date().toISOString() });
}

/** Equal secrets, compared in constant time: both are hashed first, so not even their lengths show. */
function sameSecret(given, expected) {
  const digest = (text) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Why a chaos change from this request is refused ({ status, error }), or null when it may go on. */
function adminRefusal(req) {
  if (ADMIN_TOKEN === '') {
    return { status: 403, error: 'chaos is refused: this pool has no ADMIN_TOKEN; set ADMIN_TOKEN, the same for the pools and the bot (scripts/stack.sh writes one into .env)' };
  }
  const given = req.headers[ADMIN_TOKEN_HEADER];
  if (typeof given !== 'string' || given === '') {
    return { status: 401, error: "missing X-Bluegreen-Admin-Token: chaos needs the pools' ADMIN_TOKEN" };
  }
  if (!sameSecret(given, ADMIN_TOKEN)) {
    return { status: 401, error: "wrong X-Bluegreen-Admin-Token: it is not this pool's ADMIN_TOKEN" };
  }
  return null;
}

/**
 * True for any path with a segment that starts with "chaos", in any case, encoded or not, with `\`
 * as a separator: the raw target and the WHATWG path are both judged, as they read differently.
 * The public listener has no chaos endpoints; it says 404 to anything that looks like one, even
 * while chaos is on, so a probe learns nothing about the pool's state.
 */
function looksLikeChaos(...texts) {
  return texts.some((text) => {
    let decoded = text;
    try {
      decoded = decodeURIComponent(text);
    } catch {
      // A malformed escape: judge the text as sent.
    }
    return /(^|[/\\])chaos/i.test(decoded);
  });
}

// The public listener (PORT): what nginx proxies to. /healthz is also the compose healthcheck.
const app = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;

  if (looksLikeChaos((req.url ?? '/').split('?')[0], path)) return send(res, 404, { error: 'not found', pool: POOL, release: RELEASE });
  if (path === '/healthz') return health(res);

  // Every other path is "the application": chaos applies here.
  if (chaos.mode === 'error') return send(res, 500, { error: 'chaos: simulated failure', pool: POOL, release: RELEASE });
  if (chaos.mode === 'timeout') {
    held.add(res);
    res.on('close', () => held.delete(res));
    return undefined;
  }
  if (path === '/' && FAIL_PERCENT > 0 && ++requests > FAIL_AFTER) {
    served += 1;
    if (Math.floor((served * FAIL_PERCENT) / 100) !== Math.floor(((served - 1) * FAIL_PERCENT) / 100)) {
      return send(res, 500, { error: 'release failure (FAIL_PERCENT)', pool: POOL, release: RELEASE });
    }
  }
  if (path === '/' || path === '/version') return version(res);
  return send(res, 404, { error: 'not found', path, pool: POOL, release: RELEASE });
});

// The admin listener (ADMIN_PORT): chaos for drills and the bot, plus /healthz and /version so a
// check through the pool's published port needs no other port. Never proxied by nginx. Only the
// changes (POST /chaos/start, /chaos/stop) need the token: GET /chaos says no more than /healthz.
const admin = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;

  if ((path === '/chaos/start' || path === '/chaos/stop') && req.method === 'POST') {
    const refused = adminRefusal(req);
    if (refused) {
      log('chaos refused', { path, status: refused.status, from: req.socket.remoteAddress });
      return send(res, refused.status, { error: refused.error, pool: POOL, release: RELEASE });
    }
  }
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
  if (path === '/healthz') return health(res);
  if (path === '/version') return version(res);
  return send(res, 404, { error: 'not found', path, pool: POOL, release: RELEASE });
});

for (const server of [app, admin]) {
  // Outlive nginx's upstream keepalive_timeout so nginx never reuses a connection the app just
  // closed (that race shows up as a spurious upstream error and marks the pool failed).
  server.keepAliveTimeout = 75_000;
  server.headersTimeout = 76_000;
  server.requestTimeout = 0;
}

app.listen(PORT, '0.0.0.0', () => log('listening', { port: PORT }));
admin.listen(ADMIN_PORT, '0.0.0.0', () =>
  log(ADMIN_TOKEN ? 'admin listening (chaos)' : 'admin listening (chaos refused: no ADMIN_TOKEN)', { port: ADMIN_PORT }),
);

function shutdown(signal) {
  log('shutting down', { signal });
  for (const r of held) r.destroy();
  let open = 2;
  for (const server of [app, admin]) {
    server.close(() => {
      open -= 1;
      if (open === 0) process.exit(0);
    });
    server.closeIdleConnections();
  }
  setTimeout(() => process.exit(0), 3000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
