import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PoolStats } from '../../../../src/deploy/operations.js';
import { createPostSwitchGuard, type AttemptCounts } from '../../../../src/deploy/guards/post-switch-guard.js';
import type { Pool } from '../../../../src/pool.js';
import { alice, captureLogger, harness } from '../fakes.js';

const zero = (): AttemptCounts => ({ served: 0, failed: 0, benched: 0, clientErrors: 0 });

async function setup(autoRollback: boolean) {
  let t = Date.parse('2026-11-30T12:00:00Z');
  const counts: Record<Pool, AttemptCounts> = { blue: zero(), green: zero() };
  const stats: Partial<Record<Pool, PoolStats>> = {};
  const h = await harness({ now: () => t });
  const guard = createPostSwitchGuard({
    ops: h.ops,
    attempts: (p) => ({ ...counts[p] }),
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
  /** Traffic after the switch, as the watcher would count it. */
  const traffic = (pool: Pool, c: Partial<AttemptCounts>) => {
    const k = counts[pool];
    counts[pool] = { served: k.served + (c.served ?? 0), failed: k.failed + (c.failed ?? 0), benched: k.benched + (c.benched ?? 0), clientErrors: k.clientErrors + (c.clientErrors ?? 0) };
  };
  return { h, guard, counts, stats, advance, traffic };
}

async function switchToGreen(s: Awaited<ReturnType<typeof setup>>) {
  // Green's history before the switch (as backup) must not count against it.
  s.traffic('green', { served: 500, failed: 40 });
  const r = await s.h.ops.switchPool('green', { force: false, by: alice });
  assert.equal(r.status, 'ok');
  s.guard.onSwitched((await s.h.store.read()).lastSwitch!);
  // Requests already on their way to blue finish there: not counted during the grace period.
  s.traffic('green', { benched: 30 });
  await s.guard.check();
  s.advance(2000);
  await s.guard.check();
  assert.equal(s.h.alerts.length, 0);
}

describe('post-switch guard', () => {
  it('trips on failed attempts nginx hid by retrying on the old pool, offering "Roll back"', async () => {
    const s = await setup(false);
    await switchToGreen(s);
    assert.equal(s.guard.watching()?.pool, 'green');
    s.traffic('green', { served: 300, failed: 2 });
    await s.guard.check();
    assert.equal(s.h.alerts.length, 0, 'two failures are not yet judged');
    s.traffic('green', { served: 0, failed: 30 });
    await s.guard.check();
    assert.equal(s.h.alerts.length, 1);
    const a = s.h.alerts[0]!;
    assert.equal(a.kind, 'post_switch_guard');
    assert.equal(a.pool, 'green');
    assert.equal(a.severity, 'warning', 'clients saw no error: protection is reduced, nobody is hurt yet');
    assert.match(a.summary, /green failed 32 of 332 attempts \(9\.6%\) since the switch; nginx retried them on blue, so clients saw no error/);
    assert.match(a.summary, /Roll back to blue\?/);
    assert.equal(s.h.nginx.active, 'green', 'no automatic rollback');
    await s.guard.check();
    assert.equal(s.h.alerts.length, 1, 'one trip per switch');
    // The rollback, from anywhere, resolves the guard's incident.
    const r = await s.h.ops.rollback({ kind: 'slack', id: 'U1', name: 'ana' });
    assert.equal(r.status, 'ok');
    s.guard.onSwitched((await s.h.store.read()).lastSwitch!);
    assert.equal(s.h.alerts.length, 2);
    assert.deepEqual([s.h.alerts[1]!.status, s.h.alerts[1]!.key, s.h.alerts[1]!.severity], ['resolved', a.key, 'info']);
    assert.match(s.h.alerts[1]!.title, /Rolled back to blue \(rollback by ana\)/);
  });

  it('trips when nginx benches the new pool and sends requests straight to the old one', async () => {
    const s = await setup(false);
    await switchToGreen(s);
    // max_fails=1: one failure, then fail_timeout seconds of nothing on green.
    s.traffic('green', { served: 20, failed: 1, benched: 4 });
    await s.guard.check();
    assert.equal(s.h.alerts.length, 0);
    s.traffic('green', { benched: 200, clientErrors: 1 });
    await s.guard.check();
    assert.equal(s.h.alerts.length, 1);
    assert.match(s.h.alerts[0]!.summary, /nginx sent 204 of 225 requests \(90\.7%\) straight to blue: it benched green after 1 failed attempts/);
    assert.equal(s.h.alerts[0]!.severity, 'critical', 'a client saw an error');
  });

  it('trips when the new pool is much slower than the old one was', async () => {
    const s = await setup(false);
    s.stats.blue = { errorRate: 0, p95Ms: 40, samples: 200, retried5m: 0 };
    await switchToGreen(s);
    s.stats.green = { errorRate: 0, p95Ms: 400, samples: 200, retried5m: 0 };
    s.traffic('green', { served: 40 });
    await s.guard.check();
    assert.equal(s.h.alerts.length, 0, 'fewer than 50 answers are not compared');
    s.traffic('green', { served: 20 });
    await s.guard.check();
    assert.match(s.h.alerts[0]?.summary ?? '', /green answers in 400 ms at p95, against 40 ms on blue before the switch/);
  });

  it('rolls back by itself with AUTO_ROLLBACK, and says so', async () => {
    const s = await setup(true);
    await switchToGreen(s);
    s.traffic('green', { served: 70, failed: 30 });
    await s.guard.check();
    assert.equal(s.h.nginx.active, 'blue');
    assert.equal((await s.h.store.read()).lastSwitch?.kind, 'guard_rollback');
    assert.match(s.h.alerts[0]?.summary ?? '', /Rolled back by itself \(AUTO_ROLLBACK\)/);
    assert.equal(s.h.alerts[0]?.severity, 'info');
    assert.equal(s.h.alerts[0]?.status, 'resolved', 'a notice: nothing left open');
    // Its own rollback is not guarded: no ping-pong.
    s.guard.onSwitched((await s.h.store.read()).lastSwitch!);
    assert.equal(s.guard.watching(), undefined);
  });

  it('guards switches it only hears of later (the CLI), once each, and auto-demotes too; stops when its time is up', async () => {
    const s = await setup(false);
    await switchToGreen(s);
    const record = (await s.h.store.read()).lastSwitch!;
    s.traffic('green', { served: 10 });
    s.guard.onSwitched(record); // the same record again (the state file is read every second)
    assert.equal(s.guard.watching()?.record.at, record.at);
    s.traffic('green', { served: 10, failed: 3 });
    await s.guard.check();
    assert.equal(s.h.alerts.length, 1, 'the baseline was not reset by the repeat');

    s.guard.onSwitched({ kind: 'failover', from: 'green', to: 'blue', at: new Date(Date.parse(record.at) + 1000).toISOString(), by: alice });
    assert.equal(s.guard.watching()?.pool, 'blue', 'an auto-demote is guarded too');
    s.advance(62_000);
    s.traffic('blue', { failed: 50 });
    await s.guard.check();
    assert.equal(s.guard.watching(), undefined);
    assert.deepEqual(s.h.alerts.map((x) => x.status), ['firing', 'resolved'], 'the auto-demote resolved the trip; nothing after the window');
    // A switch older than the guard window (heard of after a restart) is not watched.
    s.guard.onSwitched({ kind: 'switch', from: 'blue', to: 'green', at: new Date(Date.parse(record.at) - 120_000).toISOString(), by: alice });
    assert.equal(s.guard.watching(), undefined);
  });
});
