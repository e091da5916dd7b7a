// The demo app on its own (a child process on free 127.0.0.1 ports): chaos is served only on the
// admin listener; the public listener, the one nginx proxies to, has no chaos in any spelling.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { composeTargets, createPoolClient } from '../../../src/deploy/pools/pool-client.js';
import { CHAOS_SPELLINGS, REFUSED, targetFor } from '../../support/chaos-spellings.js';
import { rawRequest } from '../../support/raw-http.js';

const SERVER = fileURLToPath(new URL('../../../demo-app/server.mjs', import.meta.url));

async function freePort(): Promise<number> {
  const srv = createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = srv.address();
  srv.close();
  return typeof addr === 'object' && addr ? addr.port : 0;
}

function startApp(env: Record<string, string>): { child: ChildProcess; exited: Promise<number | null>; stderr: () => string } {
  // Only what `env` gives: an ADMIN_TOKEN in the shell that runs the tests must not leak in.
  const { ADMIN_TOKEN: _shells, ...inherited } = process.env;
  const child = spawn(process.execPath, [SERVER], { env: { ...inherited, APP_POOL: 'blue', RELEASE_ID: 'r1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  child.stdout?.resume();
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, exited, stderr: () => err };
}

async function waitUp(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if ((await rawRequest(port, 'GET', '/healthz', 1000)).status === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`demo app not up on ${port}`);
}

const TOKEN = 'test-admin-token-0123456789abcdef';
/** What the bot sends with every call to the admin listener. */
const WITH_TOKEN = { 'x-bluegreen-admin-token': TOKEN };

describe('demo app: public and admin listeners', () => {
  let app: ReturnType<typeof startApp>;
  let port: number;
  let adminPort: number;
  const adminChaos = async () => ((await (await fetch(`http://127.0.0.1:${adminPort}/chaos`)).json()) as { chaos: string | null }).chaos;

  before(async () => {
    port = await freePort();
    adminPort = await freePort();
    app = startApp({ PORT: String(port), ADMIN_PORT: String(adminPort), ADMIN_TOKEN: TOKEN });
    await waitUp(port);
    await waitUp(adminPort);
  });

  after(async () => {
    app.child.kill('SIGTERM');
    await app.exited;
  });

  it('public port: /, /version, /healthz answer 200; /chaos/* in any spelling is refused and changes nothing', async () => {
    for (const path of ['/', '/version', '/healthz']) assert.equal((await rawRequest(port, 'GET', path)).status, 200, path);
    const wrong: string[] = [];
    for (const spelling of ['/chaos/start', '/chaos/stop', '/chaos', ...CHAOS_SPELLINGS]) {
      for (const method of ['POST', 'GET']) {
        const target = targetFor(method, spelling);
        const r = await rawRequest(port, method, target);
        if (!REFUSED.has(r.status) || /"chaos"\s*:/.test(r.body) || (await adminChaos()) !== null) {
          wrong.push(`${method} ${JSON.stringify(target)} -> ${r.status} ${r.body}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('admin port: starts, reads and stops chaos; the public port then fails, but still 404s chaos paths', async () => {
    const start = await fetch(`http://127.0.0.1:${adminPort}/chaos/start?mode=error`, { method: 'POST', headers: WITH_TOKEN });
    assert.equal(start.status, 200);
    assert.equal(await adminChaos(), 'error');
    assert.equal((await rawRequest(port, 'GET', '/')).status, 500);
    assert.equal((await rawRequest(port, 'GET', '/healthz')).status, 503);
    assert.equal((await rawRequest(adminPort, 'GET', '/healthz')).status, 503);
    // Nothing on the public port tells a prober that chaos is on, nor turns it off.
    assert.equal((await rawRequest(port, 'POST', '/chaos/stop')).status, 404);
    assert.equal((await rawRequest(port, 'POST', '/chaos\\stop')).status, 404);
    assert.equal(await adminChaos(), 'error');
    const stop = await fetch(`http://127.0.0.1:${adminPort}/chaos/stop`, { method: 'POST', headers: WITH_TOKEN });
    assert.equal(stop.status, 200);
    assert.equal(await adminChaos(), null);
    assert.equal((await rawRequest(port, 'GET', '/')).status, 200);
    const version = (await (await fetch(`http://127.0.0.1:${adminPort}/version`)).json()) as { pool: string; release: string };
    assert.deepEqual([version.pool, version.release], ['blue', 'r1']);
  });

  it('refuses to start with ADMIN_PORT equal to PORT, naming the variable', async () => {
    const p = await freePort();
    const bad = startApp({ PORT: String(p), ADMIN_PORT: String(p) });
    assert.equal(await bad.exited, 64);
    assert.match(bad.stderr(), /ADMIN_PORT: got \d+, wants a port other than PORT/);
  });
});

// Issue #20: the admin listener is reachable from every container on the Docker network, not only
// from the bot. A neighbour that knows the port must not be able to start or stop an outage.
describe('demo app: chaos on the admin listener needs ADMIN_TOKEN', () => {
  const started: ReturnType<typeof startApp>[] = [];
  /** A demo app with `env` on free ports; its admin port once it answers. */
  const adminOf = async (env: Record<string, string>): Promise<number> => {
    const [port, adminPort] = [await freePort(), await freePort()];
    started.push(startApp({ PORT: String(port), ADMIN_PORT: String(adminPort), ...env }));
    await waitUp(adminPort);
    return adminPort;
  };
  const post = async (adminPort: number, path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`http://127.0.0.1:${adminPort}${path}`, { method: 'POST', headers });
    return { status: res.status, body: (await res.json()) as { error?: string; chaos?: string | null } };
  };
  const chaosOf = async (adminPort: number) => ((await (await fetch(`http://127.0.0.1:${adminPort}/chaos`)).json()) as { chaos: string | null }).chaos;

  after(async () => {
    for (const app of started) app.child.kill('SIGTERM');
    await Promise.all(started.map((app) => app.exited));
  });

  it('refuses start and stop without the header, or with a wrong, longer, shorter or differently cased token; chaos stays off', async () => {
    const adminPort = await adminOf({ ADMIN_TOKEN: TOKEN });
    const attempts: [string, Record<string, string>][] = [
      ['no header', {}],
      ['empty', { 'x-bluegreen-admin-token': '' }],
      ['wrong', { 'x-bluegreen-admin-token': 'not-the-token' }],
      ['longer', { 'x-bluegreen-admin-token': `${TOKEN}x` }],
      ['shorter', { 'x-bluegreen-admin-token': TOKEN.slice(0, -1) }],
      ['upper case', { 'x-bluegreen-admin-token': TOKEN.toUpperCase() }],
      ['as a bearer token', { authorization: `Bearer ${TOKEN}` }],
    ];
    for (const [what, headers] of attempts) {
      const start = await post(adminPort, '/chaos/start?mode=error', headers);
      assert.equal(start.status, 401, what);
      assert.match(start.body.error ?? '', /(missing|wrong) X-Bluegreen-Admin-Token/, what);
      assert.equal(await chaosOf(adminPort), null, what);
    }
    // A token in the query string is no token either.
    assert.equal((await post(adminPort, `/chaos/start?mode=error&token=${TOKEN}`)).status, 401);
    assert.equal(await chaosOf(adminPort), null);

    // With the token: on; a stop without it leaves it on; a stop with it turns it off.
    const on = await post(adminPort, '/chaos/start?mode=timeout', WITH_TOKEN);
    assert.equal(on.status, 200);
    assert.equal(on.body.chaos, 'timeout');
    const stop = await post(adminPort, '/chaos/stop', { 'x-bluegreen-admin-token': 'guess' });
    assert.equal(stop.status, 401);
    assert.equal(await chaosOf(adminPort), 'timeout');
    assert.equal((await post(adminPort, '/chaos/stop', WITH_TOKEN)).status, 200);
    assert.equal(await chaosOf(adminPort), null);
  });

  it("the bot's pool client with the pools' ADMIN_TOKEN starts and stops chaos; with another one or none it is refused", async () => {
    const adminPort = await adminOf({ ADMIN_TOKEN: TOKEN });
    const base = `http://127.0.0.1:${adminPort}`;
    const client = (adminToken: string | undefined) => createPoolClient({ adminToken, targets: composeTargets({ app: { blue: base, green: base }, admin: { blue: base, green: base } }) });
    const bot = client(TOKEN);
    await bot.startChaos('blue', 'error');
    assert.equal(await bot.chaos('blue'), 'error');
    for (const other of [client('another-token'), client(undefined)]) {
      await assert.rejects(other.stopChaos('blue'), { code: 'FORBIDDEN', message: /HTTP 401 .*X-Bluegreen-Admin-Token/ });
    }
    assert.equal(await chaosOf(adminPort), 'error');
    await bot.stopChaos('blue');
    assert.equal(await chaosOf(adminPort), null);
  });

  it('without ADMIN_TOKEN refuses chaos to everyone (fail closed), saying to set ADMIN_TOKEN; health and version stay open', async () => {
    for (const env of [{}, { ADMIN_TOKEN: '' }, { ADMIN_TOKEN: '   ' }] as Record<string, string>[]) {
      const adminPort = await adminOf(env);
      for (const headers of [{}, { 'x-bluegreen-admin-token': '' }, { 'x-bluegreen-admin-token': '   ' }, WITH_TOKEN]) {
        for (const path of ['/chaos/start?mode=error', '/chaos/stop']) {
          const r = await post(adminPort, path, headers);
          assert.equal(r.status, 403, `${JSON.stringify(env)} ${path} ${JSON.stringify(headers)}`);
          assert.match(r.body.error ?? '', /no ADMIN_TOKEN; set ADMIN_TOKEN/);
        }
      }
      assert.equal(await chaosOf(adminPort), null);
      assert.equal((await rawRequest(adminPort, 'GET', '/healthz')).status, 200);
      assert.equal((await rawRequest(adminPort, 'GET', '/version')).status, 200);
    }
  });
});

describe('demo app: FAIL_PERCENT, a release that passes its health check and fails real requests', () => {
  it('answers 500 to that share of `/`, spread evenly, while /healthz and /version stay 200', async () => {
    const port = await freePort();
    const app = startApp({ PORT: String(port), ADMIN_PORT: String(await freePort()), FAIL_PERCENT: '30' });
    try {
      await waitUp(port);
      const statuses: number[] = [];
      for (let i = 0; i < 100; i++) statuses.push((await rawRequest(port, 'GET', '/')).status);
      assert.equal(statuses.filter((s) => s === 500).length, 30);
      assert.ok(statuses.slice(0, 10).filter((s) => s === 500).length >= 2, 'spread out, not all at the end');
      for (let i = 0; i < 20; i++) {
        assert.equal((await rawRequest(port, 'GET', '/healthz')).status, 200);
        assert.equal((await rawRequest(port, 'GET', '/version')).status, 200);
      }
    } finally {
      app.child.kill('SIGTERM');
      await app.exited;
    }
  });

  it('with FAIL_AFTER, serves that many requests to `/` well before the failures begin', async () => {
    const port = await freePort();
    const app = startApp({ PORT: String(port), ADMIN_PORT: String(await freePort()), FAIL_PERCENT: '50', FAIL_AFTER: '20' });
    try {
      await waitUp(port);
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) statuses.push((await rawRequest(port, 'GET', '/')).status);
      assert.deepEqual(statuses.slice(0, 20), Array(20).fill(200));
      assert.equal(statuses.slice(20).filter((s) => s === 500).length, 10);
    } finally {
      app.child.kill('SIGTERM');
      await app.exited;
    }
  });

  it('refuses a FAIL_AFTER that is not a count', async () => {
    const app = startApp({ PORT: String(await freePort()), ADMIN_PORT: String(await freePort()), FAIL_AFTER: '-3' });
    assert.equal(await app.exited, 64);
    assert.match(app.stderr(), /FAIL_AFTER: got "-3", wants a count of requests/);
  });

  it('refuses a FAIL_PERCENT that is not a percent', async () => {
    const app = startApp({ PORT: String(await freePort()), ADMIN_PORT: String(await freePort()), FAIL_PERCENT: '150' });
    assert.equal(await app.exited, 64);
    assert.match(app.stderr(), /FAIL_PERCENT: got "150", wants a percent/);
  });
});
