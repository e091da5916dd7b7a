import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHealthChecker } from '../../../../src/deploy/guards/health-checker.js';
import { captureLogger, harness } from '../fakes.js';

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

describe('auto-demote by capacity (Swarm pools of several tasks)', () => {
  it('never moves traffic to a pool that is no healthier: both lost the same node, neither is demoted', async () => {
    const { h, checker } = await setup(2);
    // 1 of 2 tasks on each side: at the default 50 % both still count as healthy.
    h.pools.capacity = { blue: { healthy: 1, desired: 2 }, green: { healthy: 1, desired: 2 } };
    for (let i = 0; i < 4; i++) await checker.checkNow();
    assert.equal(h.nginx.active, 'blue');
    // Below the share on both sides alike: still no switch, though blue fails its checks.
    h.pools.capacity = { blue: { healthy: 1, desired: 3 }, green: { healthy: 1, desired: 3 } };
    for (let i = 0; i < 4; i++) await checker.checkNow();
    assert.equal(h.nginx.active, 'blue');
    assert.deepEqual(h.alerts, []);
  });

  it('demotes a pool left below its share when the backup serves a larger share', async () => {
    const { h, checker } = await setup(2);
    h.pools.capacity = { blue: { healthy: 1, desired: 3 }, green: { healthy: 3, desired: 3 } };
    await checker.checkNow();
    await checker.checkNow();
    assert.equal(h.nginx.active, 'green');
    assert.match(h.alerts[0]?.summary ?? '', /blue failed 2 health checks in a row: 1 of 3 tasks healthy/);
  });

  it('the backup must have passed the same checks the active one failed, not just the last one', async () => {
    const { h, checker } = await setup(2);
    h.pools.healthy.blue = false;
    h.pools.healthy.green = false;
    await checker.checkNow();
    h.pools.healthy.green = true;
    await checker.checkNow();
    assert.equal(h.nginx.active, 'blue', 'green passed one check of the two blue failed');
    await checker.checkNow();
    assert.equal(h.nginx.active, 'green');
  });
});

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

  it('says who is hurt and what the checks answered, and resolves when the demoted pool is healthy again', async () => {
    const { h, checker } = await setup(2);
    h.pools.healthy.blue = false;
    await checker.checkNow();
    await checker.checkNow();
    const fired = h.alerts[0]!;
    assert.equal(fired.status, 'firing');
    assert.equal(fired.severity, 'warning', 'clients are served by green; protection is reduced');
    // The failed checks and their answers, not placeholders.
    assert.match(fired.summary, /blue failed 2 health checks in a row: HTTP 503 \(\d+ ms\), HTTP 503 \(\d+ ms\)/);
    assert.equal(fired.observed, undefined);

    await checker.checkNow();
    assert.equal(h.alerts.length, 1, 'still down: nothing new');
    h.pools.healthy.blue = true;
    await checker.checkNow();
    assert.equal(h.alerts.length, 1, 'one good check is not yet healthy again');
    await checker.checkNow();
    assert.equal(h.alerts.length, 2);
    const resolved = h.alerts[1]!;
    assert.equal(resolved.key, fired.key);
    assert.equal(resolved.status, 'resolved');
    assert.equal(resolved.severity, 'info');
    assert.match(resolved.summary, /blue passed 2 health checks in a row; traffic stays on green/);

    // A second auto-demote of blue later is a new incident (a new message).
    await h.ops.switchPool('blue', { force: false, by: { kind: 'cli', id: 'bob' } });
    await new Promise((r) => setTimeout(r, 5)); // another millisecond: another occurrence
    h.pools.healthy.blue = false;
    await checker.checkNow();
    await checker.checkNow();
    assert.deepEqual(h.alerts.map((a) => `${a.status}:${a.kind}:${a.pool}`), ['firing:auto_failover:blue', 'resolved:auto_failover:blue', 'firing:auto_failover:blue']);
    assert.match(fired.key, /^auto_failover:blue:\d+$/);
    assert.notEqual(h.alerts[2]!.key, fired.key, 'an incident of its own: never held back by the cooldown of the first');
  });

  it('does not demote a pool the moment it is switched back, on failures it collected while idle', async () => {
    const { h, checker } = await setup(2);
    // Green (idle) fails three checks: a drill's chaos, say. Nothing to demote: it is not active.
    h.pools.healthy.green = false;
    for (let i = 0; i < 3; i++) await checker.checkNow();
    assert.equal(h.nginx.active, 'blue');
    // Chaos stops and someone switches back to green; the first check to answer was started before
    // green recovered and still fails. Before the fix this demoted green again at once.
    h.nginx.active = 'green';
    await checker.checkNow();
    assert.equal(h.nginx.active, 'green');
    h.pools.healthy.green = true;
    for (let i = 0; i < 3; i++) await checker.checkNow();
    assert.equal(h.nginx.active, 'green');
    assert.deepEqual(h.alerts, []);
    // A pool that fails while active is still demoted after failAfter checks.
    h.pools.healthy.green = false;
    await checker.checkNow();
    await checker.checkNow();
    assert.equal(h.nginx.active, 'blue');
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
