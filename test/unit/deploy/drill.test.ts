import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDrillReport, runDrill, sumSamples, type DrillReport } from '../../../src/deploy/drill.js';
import { createMetrics } from '../../../src/metrics.js';
import { alice, harness } from './fakes.js';

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
