import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PoolStats } from '../../../src/deploy/operations.js';
import { createPostSwitchGuard } from '../../../src/deploy/post-switch-guard.js';
import type { Pool } from '../../../src/pool.js';
import { alice, captureLogger, harness } from './fakes.js';

async function setup(autoRollback: boolean) {
  let t = 1_000_000;
  const stats: Partial<Record<Pool, PoolStats>> = {};
  const h = await harness();
  const guard = createPostSwitchGuard({
    ops: h.ops,
    poolStats: (p) => stats[p],
    guardMs: 60_000,
    thresholdPercent: 2,
    autoRollback,
    checkEveryMs: 60_000,
    envName: 'test',
    raise: (a) => void h.alerts.push(a),
    log: captureLogger().log,
    now: () => t,
  });
  const advance = (ms: number) => (t += ms);
  return { h, guard, stats, advance };
}

describe('post-switch guard', () => {
  it('raises an alert offering "Roll back" when the new pool errors above the threshold', async () => {
    const { h, guard, stats } = await setup(false);
    const r = await h.ops.switchPool('green', { force: false, by: alice });
    assert.equal(r.status, 'ok');
    guard.onSwitched((await h.store.read()).lastSwitch!);
    stats.green = { errorRate: 1.5, p95Ms: 10, samples: 100 };
    await guard.check();
    assert.equal(h.alerts.length, 0, 'under the threshold');
    stats.green = { errorRate: 12.5, p95Ms: 10, samples: 100 };
    await guard.check();
    assert.equal(h.alerts.length, 1);
    assert.equal(h.alerts[0]?.kind, 'post_switch_guard');
    assert.equal(h.alerts[0]?.observed, 12.5);
    assert.match(h.alerts[0]?.summary ?? '', /Roll back to blue\?/);
    assert.equal(h.nginx.active, 'green', 'no automatic rollback');
    await guard.check();
    assert.equal(h.alerts.length, 1, 'one trip per switch');
    guard.stop();
  });

  it('rolls back by itself with AUTO_ROLLBACK', async () => {
    const { h, guard, stats } = await setup(true);
    await h.ops.switchPool('green', { force: false, by: alice });
    guard.onSwitched((await h.store.read()).lastSwitch!);
    stats.green = { errorRate: 50, p95Ms: 10, samples: 100 };
    await guard.check();
    assert.equal(h.nginx.active, 'blue');
    assert.equal((await h.store.read()).lastSwitch?.kind, 'guard_rollback');
    assert.match(h.alerts[0]?.summary ?? '', /rolled back automatically/);
    guard.stop();
  });

  it('stops watching when its time is up, and ignores failovers', async () => {
    const { h, guard, stats, advance } = await setup(true);
    await h.ops.switchPool('green', { force: false, by: alice });
    guard.onSwitched((await h.store.read()).lastSwitch!);
    advance(61_000);
    stats.green = { errorRate: 50, p95Ms: 10, samples: 100 };
    await guard.check();
    assert.equal(h.nginx.active, 'green');
    assert.equal(guard.watching(), undefined);
    guard.onSwitched({ kind: 'failover', from: 'green', to: 'blue', at: 'x', by: alice });
    assert.equal(guard.watching(), undefined);
  });
});
