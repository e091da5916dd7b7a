import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDrillReport, runDrill, sumSamples, type DrillReport } from '../../../../src/deploy/use-cases/drill.js';
import type { Operations } from '../../../../src/deploy/operations.js';
import { createMetrics } from '../../../../src/metrics.js';
import { alice, harness } from '../fakes.js';

describe('drill: reading the bot through /metrics', () => {
  it('sums alert counters by kind and status from real prom-client output', async () => {
    const m = createMetrics();
    m.alerts.inc({ kind: 'failover', status: 'firing' });
    m.alerts.inc({ kind: 'error_rate', status: 'suppressed' }, 2);
    m.alerts.inc({ kind: 'recovery', status: 'resolved' });
    const text = await m.registry.metrics();
    assert.equal(sumSamples(text, 'bluegreen_alerts_total', { kind: ['failover', 'error_rate'], status: ['firing', 'suppressed'] }), 3);
    assert.equal(sumSamples(text, 'bluegreen_alerts_total', { kind: 'failover', status: 'firing' }), 1);
    assert.equal(sumSamples(text, 'bluegreen_alerts_total', { kind: 'recovery' }), 1);
    assert.equal(sumSamples(text, 'bluegreen_alerts_total', { kind: 'latency' }), 0);
    assert.equal(sumSamples(text, 'bluegreen_alerts_total'), 4);
  });
});

describe('drill report', () => {
  const r: DrillReport = {
    pool: 'blue',
    backup: 'green',
    mode: 'error',
    requests: 503,
    failed: 0,
    byPool: { blue: 131, green: 372 },
    latencyMs: { p50: 13, p99: 535, max: 688 },
    timeToFailoverMs: 73,
    timeToDetectMs: 1391,
    detectedBy: 'auto-demote',
    timeToAlertMs: undefined,
    alertKinds: ['auto_failover'],
    autoDemoted: true,
    timeToAutoDemoteMs: 1391,
    timeToRecoverMs: 875,
    timeToRecoveryAlertMs: undefined,
    restoredActive: true,
    durationMs: 11967,
    notes: ['x'],
  };
  it('names every figure an operator asks for', () => {
    const text = formatDrillReport(r, true);
    assert.match(text, /PASSED/);
    assert.match(text, /requests\s+503 \(blue 131, green 372\), failed 0/);
    assert.match(text, /failover\s+0\.07 s/);
    assert.match(text, /detect\s+1\.39 s\s+\(auto-demote\)/);
    assert.match(text, /alert\s+not seen/);
    assert.match(text, /recover\s+0\.88 s/);
    assert.match(text, /note: x/);
    assert.match(formatDrillReport({ ...r, restoredActive: false }, false), /FAILED[\s\S]*NOT restored to blue/);
  });
});

describe('drill behind the maintenance page', () => {
  it('is refused: nginx asks no pool while the page is up, so there is no failover to measure', async () => {
    const h = await harness();
    await h.ops.setMaintenance(true, { by: alice, page: true });
    const r = await runDrill({ ops: h.ops, by: alice, nginxUrl: 'http://127.0.0.1:9', metricsUrl: undefined });
    assert.equal(r.status, 'refused');
    assert.match(r.status === 'refused' ? r.reason : '', /the maintenance page is up.*maintenance off/);
    assert.equal(h.pools.chaosMode.blue, null);
  });
});

describe('drill in Swarm mode', () => {
  it("ends chaos before the engine's health check would replace the pool's units (Swarm), and says so", async () => {
    let chaosAt = 0;
    let stoppedAt = 0;
    const ok = <T>(data: T) => ({ status: 'ok' as const, message: 'ok', data });
    // Only what the drill calls; blue's tasks are declared unhealthy after 1 s of failed checks.
    const ops = {
      status: async () =>
        ok({
          active: 'blue',
          pools: [
            { pool: 'blue', healthy: true, chaos: null, runs: { replacesUnhealthyAfterMs: 1000 } },
            { pool: 'green', healthy: true, chaos: null },
          ],
          maintenance: { on: false, page: false },
        }),
      startChaos: async () => {
        chaosAt = performance.now();
        return ok({});
      },
      stopChaos: async () => {
        stoppedAt = performance.now();
        return ok({});
      },
      activePool: async () => 'blue',
    } as unknown as Operations;
    // nginx: the backup answers while chaos is on; the bot never demotes, so nothing "detects" it.
    const fakeFetch = (async () =>
      new Response('{}', { headers: { 'x-app-pool': chaosAt > 0 && stoppedAt === 0 ? 'green' : 'blue' } })) as unknown as typeof fetch;
    const r = await runDrill({
      ops,
      by: alice,
      nginxUrl: 'http://nginx.invalid',
      metricsUrl: undefined,
      fetch: fakeFetch,
      settings: { baselineMs: 100, detectTimeoutMs: 15_000, recoverTimeoutMs: 1000, recoveredAfter: 5 },
    });
    const chaosMs = stoppedAt - chaosAt;
    assert.ok(chaosMs >= 550 && chaosMs < 1000, `chaos lasted ${chaosMs} ms, wants 60% of 1 s`);
    assert.equal(r.status, 'failed', 'nothing detected it: the drill fails, and says why');
    assert.match(r.status === 'failed' ? r.message : '', /chaos ended after 0\.6 s, before the bot detected it: the engine replaces units whose health check fails for 1 s/);
  });
});
