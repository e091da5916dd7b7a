// The pool client against real local HTTP servers: health on the app port, chaos on the admin port,
// and an image with no admin listener (a user's own, deployed with `deploy`).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BluegreenError } from '../../../../src/errors.js';
import { ADMIN_TOKEN_HEADER, composeTargets, createPoolClient, type PoolTargetList } from '../../../../src/deploy/pools/pool-client.js';

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}

/** A port nothing listens on: bound, read, closed. */
async function closedPort(): Promise<string> {
  const srv = createNetServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = srv.address();
  await new Promise((r) => srv.close(r));
  return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}

describe('pool client: app port for health, admin port for chaos', () => {
  const seen: string[] = [];
  let mode: string | null = null;
  const app = createServer((req, res) => {
    seen.push(`app ${req.method} ${req.url}`);
    res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  });
  const admin = createServer((req, res) => {
    seen.push(`admin ${req.method} ${req.url}`);
    if (req.url?.startsWith('/chaos/start')) mode = new URL(req.url, 'http://x').searchParams.get('mode');
    if (req.url === '/chaos/stop') mode = null;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ chaos: mode }));
  });
  // A user's image: its own app, 404 for everything else, on the port where the admin would be.
  const foreign = createServer((_req, res) => res.writeHead(404).end('Not Found'));
  let appUrl: string;
  let adminUrl: string;
  let foreignUrl: string;
  let noneUrl: string;

  before(async () => {
    appUrl = await listen(app);
    adminUrl = await listen(admin);
    foreignUrl = await listen(foreign);
    noneUrl = await closedPort();
  });

  after(() => {
    for (const s of [app, admin, foreign]) s.close();
  });

  it('reads health on the app port and sends chaos to the admin port', async () => {
    const pools = createPoolClient({ targets: composeTargets({ app: { blue: appUrl, green: appUrl }, admin: { blue: adminUrl, green: adminUrl } }) });
    assert.equal((await pools.health('blue', 1000)).healthy, true);
    await pools.startChaos('blue', 'timeout');
    assert.equal(await pools.chaos('blue'), 'timeout');
    await pools.stopChaos('blue');
    assert.equal(await pools.chaos('blue'), null);
    assert.deepEqual(seen, ['app GET /healthz', 'admin POST /chaos/start?mode=timeout', 'admin GET /chaos', 'admin POST /chaos/stop', 'admin GET /chaos']);
  });

  it('an image with no admin listener: healthy on its app port; chaos fails at once with a clear message', async () => {
    const pools = createPoolClient({ targets: composeTargets({ app: { blue: appUrl, green: appUrl }, admin: { blue: noneUrl, green: foreignUrl } }) });
    assert.equal((await pools.health('blue', 1000)).healthy, true);
    const started = performance.now();
    await assert.rejects(pools.startChaos('blue', 'error'), (err: unknown) => {
      assert.ok(err instanceof BluegreenError);
      assert.equal(err.code, 'CHAOS_UNAVAILABLE');
      assert.match(err.message, /^blue pool serves no chaos endpoint: nothing listens at http:\/\/127\.0\.0\.1:\d+/);
      assert.match(err.hint ?? '', /ADMIN_PORT/);
      return true;
    });
    assert.ok(performance.now() - started < 1000, 'a refused connection must not wait for the timeout');
    // Something answers on that port, but not chaos.
    await assert.rejects(pools.stopChaos('green'), { code: 'CHAOS_UNAVAILABLE', message: /green pool serves no chaos endpoint at .*HTTP 404/ });
    await assert.rejects(pools.chaos('green'), { code: 'CHAOS_UNAVAILABLE' });
  });
});

describe('pool client: ADMIN_TOKEN on every call to the admin listener (issue #20)', () => {
  const TOKEN = 'pool-client-test-token-42';
  /** Method, path and token header of every request, per listener. */
  const seen: string[] = [];
  const recorder = (name: string, answer: (req: IncomingMessage) => [number, string]) =>
    createServer((req, res) => {
      seen.push(`${name} ${req.method} ${req.url} token=${String(req.headers[ADMIN_TOKEN_HEADER])}`);
      const [status, body] = answer(req);
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
  const app = recorder('app', () => [200, '{"status":"ok"}']);
  const admin = recorder('admin', () => [200, '{"chaos":null}']);
  // The demo app's two refusals: a token that is not its own (401), and no ADMIN_TOKEN of its own (403).
  const wrong = recorder('wrong', () => [401, '{"error":"wrong X-Bluegreen-Admin-Token: it is not this pool\'s ADMIN_TOKEN"}']);
  const unset = recorder('unset', () => [403, '{"error":"chaos is refused: this pool has no ADMIN_TOKEN; set ADMIN_TOKEN"}']);
  const urls: Record<'app' | 'admin' | 'wrong' | 'unset', string> = { app: '', admin: '', wrong: '', unset: '' };
  const targets = (adminUrl: string) => composeTargets({ app: { blue: urls.app, green: urls.app }, admin: { blue: adminUrl, green: adminUrl } });

  before(async () => {
    urls.app = await listen(app);
    urls.admin = await listen(admin);
    urls.wrong = await listen(wrong);
    urls.unset = await listen(unset);
  });

  after(() => {
    for (const s of [app, admin, wrong, unset]) s.close();
  });

  it('sends X-Bluegreen-Admin-Token with start, stop and the chaos read, and never to the app port', async () => {
    seen.length = 0;
    const pools = createPoolClient({ adminToken: TOKEN, targets: targets(urls.admin) });
    await pools.health('blue', 1000);
    await pools.startChaos('blue', 'error');
    await pools.chaos('blue');
    await pools.stopChaos('blue');
    assert.deepEqual(seen, [
      'app GET /healthz token=undefined',
      `admin POST /chaos/start?mode=error token=${TOKEN}`,
      `admin GET /chaos token=${TOKEN}`,
      `admin POST /chaos/stop token=${TOKEN}`,
    ]);
  });

  it('a pool that refuses the token: FORBIDDEN with its words and a hint about ADMIN_TOKEN, not "no chaos endpoint"', async () => {
    const pools = createPoolClient({ adminToken: TOKEN, targets: targets(urls.wrong) });
    await assert.rejects(pools.startChaos('blue', 'error'), (err: unknown) => {
      assert.ok(err instanceof BluegreenError);
      assert.equal(err.code, 'FORBIDDEN');
      assert.match(err.message, /^blue refused chaos start at http:\/\/127\.0\.0\.1:\d+: HTTP 401 .*wrong X-Bluegreen-Admin-Token/);
      assert.equal(err.hint, 'the pools and the bot must have the same ADMIN_TOKEN');
      return true;
    });
    const tokenless = createPoolClient({ targets: targets(urls.unset) });
    await assert.rejects(tokenless.stopChaos('green'), { code: 'FORBIDDEN', message: /HTTP 403 .*no ADMIN_TOKEN/, hint: /the bot has no ADMIN_TOKEN/ });
    seen.length = 0;
    await assert.rejects(tokenless.startChaos('green', 'error'), { code: 'FORBIDDEN' });
    assert.deepEqual(seen, ['unset POST /chaos/start?mode=error token=undefined'], 'no token: no header at all');
  });
});

describe('pool client in Swarm mode: chaos on every task of the pool', () => {
  const seen: string[] = [];
  const task = (name: string) =>
    createServer((req, res) => {
      seen.push(`${name} ${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ chaos: req.url?.startsWith('/chaos/start') ? 'error' : null }));
    });
  const one = task('one');
  const two = task('two');
  // Another app's admin port: JSON, but no chaos here.
  const jsonNotFound = createServer((_req, res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}'));
  let oneUrl: string;
  let twoUrl: string;
  let jsonNotFoundUrl: string;
  let noneUrl: string;
  /** Tasks whose app and admin listeners are the given URLs. */
  const tasks = (...urls: string[]): PoolTargetList => ({ desired: urls.length, targets: urls.map((u) => ({ name: u, app: u, admin: u })) });
  // Takes the connection and never answers: a hung task.
  const silent = createServer(() => undefined);
  let silentUrl: string;

  before(async () => {
    silentUrl = await listen(silent);
    oneUrl = await listen(one);
    twoUrl = await listen(two);
    jsonNotFoundUrl = await listen(jsonNotFound);
    noneUrl = await closedPort();
  });

  after(() => {
    for (const s of [one, two, jsonNotFound]) s.close();
    silent.closeAllConnections();
    silent.close();
  });

  it("start and stop reach every task's admin URL; the pool's chaos is read from one", async () => {
    seen.length = 0;
    const asked: string[] = [];
    const pools = createPoolClient({ timeoutMs: 1000, targets: async (pool) => (asked.push(pool), tasks(oneUrl, twoUrl)) });
    await pools.startChaos('blue', 'error');
    assert.deepEqual([...seen].sort(), ['one POST /chaos/start?mode=error', 'two POST /chaos/start?mode=error']);
    seen.length = 0;
    await pools.stopChaos('blue');
    assert.deepEqual([...seen].sort(), ['one POST /chaos/stop', 'two POST /chaos/stop']);
    seen.length = 0;
    assert.equal(await pools.chaos('blue'), null);
    assert.deepEqual(seen, ['one GET /chaos']);
    assert.deepEqual(asked, ['blue', 'blue', 'blue']);
  });

  it('one task that does not take it: the error says how many did, and why the other did not', async () => {
    seen.length = 0;
    const pools = createPoolClient({ timeoutMs: 1000, targets: async () => tasks(oneUrl, noneUrl) });
    await assert.rejects(pools.startChaos('blue', 'timeout'), (err: unknown) => {
      assert.ok(err instanceof BluegreenError);
      assert.equal(err.code, 'INTERNAL');
      assert.match(err.message, /^chaos start reached 1 of blue's 2 tasks; the others failed: blue pool serves no chaos endpoint: nothing listens at http:\/\/127\.0\.0\.1:\d+/);
      assert.ok(err.cause instanceof BluegreenError);
      return true;
    });
    // The task that took it is not left alone in chaos without anyone knowing: it was reached.
    assert.deepEqual(seen, ['one POST /chaos/start?mode=timeout']);
  });

  it('no task took it: the reason of the first, as with one container', async () => {
    const pools = createPoolClient({ timeoutMs: 1000, targets: async () => tasks(noneUrl, jsonNotFoundUrl) });
    await assert.rejects(pools.stopChaos('green'), { code: 'CHAOS_UNAVAILABLE', message: /^green pool serves no chaos endpoint: nothing listens at/ });
  });

  it('no serving task: start and read get a clear error, stop has nothing to do', async () => {
    const pools = createPoolClient({ timeoutMs: 1000, targets: async () => ({ desired: 2, targets: [] }) });
    await assert.rejects(pools.startChaos('green', 'error'), { code: 'POOL_UNHEALTHY', message: 'green pool has no running task to reach', hint: /bluegreen status/ });
    await assert.rejects(pools.chaos('green'), { code: 'POOL_UNHEALTHY' });
    // Stopping is done: a task that starts has no chaos.
    await pools.stopChaos('green');
  });

  it('stop: a task that no longer answers at all (it serves nothing) does not fail a stop the others took', async () => {
    seen.length = 0;
    const pools = createPoolClient({ timeoutMs: 200, targets: async () => tasks(oneUrl, silentUrl) });
    await pools.stopChaos('blue');
    assert.deepEqual(seen, ['one POST /chaos/stop']);
    // Start must reach every task: there a silent one is a failure.
    await assert.rejects(pools.startChaos('blue', 'error'), { code: 'INTERNAL', message: /reached 1 of blue's 2 tasks; the others failed: blue pool did not answer POST/ });
  });

  it("health is the pool's capacity: healthy tasks of the desired number, named when they fail", async () => {
    const half = createPoolClient({ targets: async () => tasks(oneUrl, noneUrl) });
    const h = await half.health('blue', 500);
    assert.equal(h.healthy, true, '1 of 2 is 50%: the default least share');
    assert.equal(h.healthyTargets, 1);
    assert.match(h.detail, /^1 of 2 tasks healthy \(http:\/\/127\.0\.0\.1:\d+: no answer: ECONNREFUSED\)$/);
    assert.deepEqual(h.targets.map((t) => t.outcome), ['healthy', 'unreachable']);
    const third = createPoolClient({ targets: async () => ({ ...tasks(oneUrl, noneUrl), desired: 3 }) });
    assert.equal((await third.health('blue', 500)).healthy, false, '1 of 3 is below 50%');
    const lenient = createPoolClient({ minCapacityPct: 30, targets: async () => ({ ...tasks(oneUrl, noneUrl), desired: 3 }) });
    assert.equal((await lenient.health('blue', 500)).healthy, true);
    const none = createPoolClient({ targets: async () => ({ desired: 2, targets: [] }) });
    assert.deepEqual(await none.health('blue', 500).then((p) => [p.healthy, p.detail]), [false, 'no serving task of 2']);
    // A task that accepts and never answers is slow, not gone.
    const slow = await createPoolClient({ targets: async () => tasks(silentUrl) }).health('blue', 200);
    assert.deepEqual(slow.targets.map((t) => [t.outcome, t.detail]), [['slow', 'connected, no answer within 200 ms']]);
  });

  it("a chaos read refused names the task's URL it asked, not the Compose name", async () => {
    const pools = createPoolClient({ timeoutMs: 1000, targets: async () => tasks(jsonNotFoundUrl) });
    await assert.rejects(pools.chaos('blue'), (err: unknown) => {
      assert.ok(err instanceof BluegreenError);
      assert.equal(err.code, 'CHAOS_UNAVAILABLE');
      assert.ok(err.message.includes(jsonNotFoundUrl), err.message);
      assert.ok(!err.message.includes('app_blue'), err.message);
      return true;
    });
  });
});

describe("pool client: your app's own health check (APP_HEALTH_PATH, APP_HEALTH_STATUS, APP_HEALTH_HOST)", () => {
  // An app that knows nothing of bluegreen: health at /status/ready, 204 when ready, and (like
  // Django with ALLOWED_HOSTS) a 400 for any Host it does not know.
  const seen: string[] = [];
  const app = createServer((req, res) => {
    seen.push(`${req.url} host=${req.headers.host}`);
    if (req.headers.host !== 'shop.example') return void res.writeHead(400).end('Bad Request (400)');
    res.writeHead(req.url === '/status/ready' ? 204 : 404).end();
  });
  let base = '';
  before(async () => (base = await listen(app)));
  after(() => app.close());
  const client = (health: Parameters<typeof createPoolClient>[0]['health']) =>
    createPoolClient({ targets: composeTargets({ app: { blue: base, green: base }, admin: { blue: base, green: base } }), ...(health ? { health } : {}) });

  it('probes the path and Host it is given and takes the statuses it is told; the default /healthz fails such an app', async () => {
    const own = await client({ path: '/status/ready', expect: (s) => s === 204, hostHeader: 'shop.example' }).health('blue', 1000);
    assert.deepEqual([own.healthy, own.detail], [true, 'HTTP 204']);
    const byDefault = await client(undefined).health('blue', 1000);
    assert.deepEqual([byDefault.healthy, byDefault.detail], [false, 'HTTP 400']);
    const wrongHost = await client({ path: '/status/ready', expect: (s) => s === 204 }).health('blue', 1000);
    assert.equal(wrongHost.healthy, false, 'the Host header is the target address unless APP_HEALTH_HOST says otherwise');
    const only200 = await client({ path: '/status/ready', hostHeader: 'shop.example', expect: (s) => s === 200 }).health('blue', 1000);
    assert.deepEqual([only200.healthy, only200.detail], [false, 'HTTP 204']);
    assert.deepEqual(seen.slice(0, 2), ['/status/ready host=shop.example', `/healthz host=${new URL(base).host}`]);
  });
});
