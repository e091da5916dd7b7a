import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHealthChecker } from '../../../src/deploy/health-checker.js';
import { captureLogger, harness } from './fakes.js';

async function setup(failAfter = 2, enabled = true) {
  const h = await harness();
  const checker = createHealthChecker({
    ops: h.ops,
    pools: h.pools,
    intervalMs: 1000,
    timeoutMs: 100,
    failAfter,
    enabled,
    envName: 'test',
    raise: (a) => void h.alerts.push(a),
    log: captureLogger().log,
  });
  return { h, checker };
}

describe('auto-demote', () => {
  it('makes the healthy backup primary after N failed checks in a row, and alerts', async () => {
    const { h, checker } = await setup(2);
    h.pools.healthy.blue = false;
    await checker.checkNow();
    assert.equal(h.nginx.active, 'blue', 'one failure is not enough');
    await checker.checkNow();
    assert.equal(h.nginx.active, 'green');
    const s = await h.store.read();
    assert.equal(s.lastFailover?.kind, 'failover');
    assert.equal(s.lastFailover?.by.kind, 'auto');
    assert.match(s.lastFailover?.reason ?? '', /blue failed 2 health checks in a row/);
    assert.equal(h.alerts.length, 1);
    assert.equal(h.alerts[0]?.kind, 'auto_failover');
    assert.equal(h.alerts[0]?.pool, 'blue');
    assert.match(h.alerts[0]?.summary ?? '', /Switch back/);
  });

  it('resets the count on a good check', async () => {
    const { h, checker } = await setup(2);
    h.pools.healthy.blue = false;
    await checker.checkNow();
    h.pools.healthy.blue = true;
    await checker.checkNow();
    h.pools.healthy.blue = false;
    await checker.checkNow();
    assert.equal(h.nginx.active, 'blue');
  });

  it('stays put when the backup is unhealthy too, or when auto-failover is off', async () => {
    const both = await setup(1);
    both.h.pools.healthy.blue = false;
    both.h.pools.healthy.green = false;
    await both.checker.checkNow();
    await both.checker.checkNow();
    assert.equal(both.h.nginx.active, 'blue');
    assert.equal(both.h.alerts.length, 0);

    const off = await setup(1, false);
    off.h.pools.healthy.blue = false;
    await off.checker.checkNow();
    assert.equal(off.h.nginx.active, 'blue');
  });

  it('probes at once when the watcher reports trouble on the active pool', async () => {
    const { h, checker } = await setup(1);
    h.pools.healthy.blue = false;
    checker.upstreamTrouble('blue');
    const deadline = Date.now() + 1000;
    while (h.nginx.active !== 'green' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.equal(h.nginx.active, 'green');
    assert.equal(checker.snapshot().find((s) => s.pool === 'blue')?.healthy, false);
  });
});
