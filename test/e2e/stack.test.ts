// The stack for real: real engine, real nginx, real containers, traffic only to 127.0.0.1 ports.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dockerAvailable } from './support/docker.js';
import { runLoad, type LoadResult } from './support/load.js';
import { ACCESS_LOG_FIELDS } from '../../src/watcher/parse-access-line.js';
import { chaos, startStack, type Stack } from './support/stack.js';

const RATE = 200;
const AMOUNT = 2000;
const figures: Record<string, Omit<LoadResult, 'byRelease'>> = {};

function record(name: string, r: LoadResult): void {
  const { byRelease: _ignored, ...rest } = r;
  figures[name] = rest;
}

/** A bounded load at RATE with a fault injected one second in. */
function loadWithFault(stack: Stack, fault: () => Promise<void>, connections = 20): Promise<LoadResult> {
  return runLoad({
    url: stack.url('/'),
    rate: RATE,
    amount: AMOUNT,
    connections,
    during: async () => {
      await new Promise((res) => setTimeout(res, 1000));
      await fault();
    },
  });
}

async function servedBy(stack: Stack): Promise<string | null> {
  const res = await fetch(stack.url('/'));
  await res.arrayBuffer();
  return res.headers.get('x-app-pool');
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const docker = await dockerAvailable();

describe('stack: blue primary', { skip: !docker && 'no Docker engine (start dockerd)', timeout: 600_000 }, () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack({ project: 'bge2e-stack', services: ['app_blue', 'app_green', 'nginx'], waitForBot: false });
  });

  after(async () => {
    console.log(`STACK_FIGURES ${JSON.stringify({ rate: RATE, amount: AMOUNT, scenarios: figures })}`);
    await stack?.down();
  });

  it('serves from the active pool with X-App-Pool and X-Release-Id', async () => {
    const res = await fetch(stack.url('/'));
    const body = (await res.json()) as { pool: string; release: string };
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-app-pool'), 'blue');
    assert.equal(res.headers.get('x-release-id'), 'blue-v1');
    assert.equal(body.pool, 'blue');
    assert.equal(body.release, 'blue-v1');
    const health = await fetch(stack.url('/nginx-health'));
    assert.equal(health.status, 200);
  });

  it('refuses /chaos/* on the public port and leaves the pool alone', async () => {
    const res = await fetch(stack.url('/chaos/start?mode=error'), { method: 'POST' });
    assert.equal(res.status, 403);
    const state = (await (await fetch(stack.poolUrl('blue', '/chaos'))).json()) as { chaos: string | null };
    assert.equal(state.chaos, null);
    assert.equal((await fetch(stack.url('/chaos'))).status, 403);
  });

  it('error chaos on the active pool under load: 0 failed, the backup serves', async () => {
    const r = await loadWithFault(stack, () => chaos(stack, 'blue', 'start', 'error'));
    record('error_chaos', r);
    assert.ok(r.requests >= AMOUNT, `sent ${r.requests}`);
    assert.equal(r.failed, 0, JSON.stringify(r));
    assert.ok((r.byPool.green ?? 0) > AMOUNT / 2, `green served ${r.byPool.green}`);
    assert.equal(await servedBy(stack), 'green');
  });

  it('logs a retried request with "500, 200"-style upstream fields, every field of the spec on every line', async () => {
    const lines = await stack.accessLog();
    assert.ok(lines.length >= AMOUNT, `only ${lines.length} lines`);
    let retried = 0;
    for (const line of lines) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      for (const f of ACCESS_LOG_FIELDS) assert.ok(f in entry, `field ${f} missing in ${line}`);
      assert.equal(typeof entry.status, 'number');
      assert.equal(typeof entry.body_bytes_sent, 'number');
      assert.equal(typeof entry.request_time, 'number');
      assert.ok(!Number.isNaN(Date.parse(String(entry.time))), `time ${String(entry.time)}`);
      if (entry.upstream_status === '500, 200') {
        retried += 1;
        assert.match(String(entry.upstream_addr), /^[\d.]+:3000, [\d.]+:3000$/);
        assert.match(String(entry.upstream_response_time), /^[\d.]+, [\d.]+$/);
        assert.equal(entry.pool, 'green');
        assert.equal(entry.status, 200);
      }
    }
    assert.ok(retried >= 1, 'no retried request logged');
    const refused = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.status === 403);
    assert.equal(refused?.upstream_addr, '-');
    assert.equal(refused?.pool, '-');
  });

  it("tells a probe with nginx's token what it tried and which group the flags chose, and nobody else", async () => {
    // Blue is still in error chaos: nginx routes to blue_primary, and green answers.
    const token = await stack.compose('exec', '-T', 'nginx', 'cat', '/etc/nginx/bluegreen/probe-token');
    assert.equal(token.code, 0, token.stderr);
    const probe = await fetch(stack.url('/version'), { headers: { 'x-bluegreen-probe': token.stdout.trim() } });
    await probe.arrayBuffer();
    assert.equal(probe.headers.get('x-app-pool'), 'green');
    assert.equal(probe.headers.get('x-bluegreen-group'), 'blue_primary');
    // "500, 200": blue tried and failed; "200": blue benched (MAX_FAILS), green asked at once.
    assert.match(String(probe.headers.get('x-bluegreen-upstream')), /^(500, 200|200)$/);
    for (const headers of [{}, { 'x-bluegreen-probe': 'not-the-token' }] as Record<string, string>[]) {
      const other = await fetch(stack.url('/version'), { headers });
      await other.arrayBuffer();
      assert.equal(other.status, 200);
      assert.deepEqual([other.headers.get('x-bluegreen-group'), other.headers.get('x-bluegreen-upstream')], [null, null]);
    }
  });

  it('chaos stop: traffic returns to the primary', async () => {
    await chaos(stack, 'blue', 'stop');
    // The primary is eligible again when nginx's fail_timeout (5 s) runs out.
    await eventually('blue to serve again', async () => (await servedBy(stack)) === 'blue');
  });

  it('timeout chaos on the active pool under load: 0 failed', async () => {
    const r = await loadWithFault(stack, () => chaos(stack, 'blue', 'start', 'timeout'), 50);
    record('timeout_chaos', r);
    await chaos(stack, 'blue', 'stop');
    assert.equal(r.failed, 0, JSON.stringify(r));
    assert.ok((r.byPool.green ?? 0) > 0);
    await eventually('blue to serve again', async () => (await servedBy(stack)) === 'blue');
  });

  it('active container stopped under load: 0 failed', async () => {
    const r = await loadWithFault(
      stack,
      async () => {
        const stop = await stack.compose('stop', '--timeout', '5', 'app_blue');
        assert.equal(stop.code, 0, stop.stderr);
      },
      50,
    );
    record('container_stopped', r);
    assert.equal(r.failed, 0, JSON.stringify(r));
    assert.ok((r.byPool.green ?? 0) > AMOUNT / 2);
  });
});

describe('stack: ACTIVE_POOL=green', { skip: !docker && 'no Docker engine (start dockerd)', timeout: 300_000 }, () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack({
      project: 'bge2e-green',
      services: ['app_blue', 'app_green', 'nginx'],
      waitForBot: false,
      env: { ACTIVE_POOL: 'green', RELEASE_ID_GREEN: 'green-r42' },
    });
  });

  after(async () => {
    await stack?.down();
  });

  it('makes green primary and blue its backup', async () => {
    for (let i = 0; i < 20; i += 1) {
      const res = await fetch(stack.url('/'));
      await res.arrayBuffer();
      assert.equal(res.headers.get('x-app-pool'), 'green');
      assert.equal(res.headers.get('x-release-id'), 'green-r42');
    }
    await chaos(stack, 'green', 'start', 'error');
    const res = await fetch(stack.url('/'));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-app-pool'), 'blue');
    await chaos(stack, 'green', 'stop');
  });

  it('a choice written to the flag files takes effect without reload and survives an nginx restart', async () => {
    // What the bot does on a switch: create the new flag, then remove the old one.
    const flip = await stack.compose('exec', '-T', 'nginx', 'sh', '-c', 'touch /etc/nginx/bluegreen/active-blue && rm -f /etc/nginx/bluegreen/active-green');
    assert.equal(flip.code, 0, flip.stderr);
    assert.equal(await servedBy(stack), 'blue');
    const restart = await stack.compose('restart', '-t', '2', 'nginx');
    assert.equal(restart.code, 0, restart.stderr);
    // ACTIVE_POOL=green only seeds the choice when none is recorded: blue stays active.
    await eventually(
      'nginx to serve after restart',
      async () => {
        try {
          return (await servedBy(stack)) === 'blue';
        } catch {
          return false;
        }
      },
      30_000,
    );
  });
});
