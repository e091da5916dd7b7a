// `bluegreen drill` as an operator runs it: inside the bot container of a real stack, traffic to
// http://nginx:80, chaos on the active pool, the bot's own detection, alerting and recovery.
// Also: the bot's GET /metrics stays valid Prometheus text and moves with the drill's traffic.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DrillReport } from '../../src/deploy/use-cases/drill.js';
import { parsePromText, sampleSum } from '../support/prom-text.js';
import { botMetricsText } from './support/bot-metrics.js';
import { dockerAvailable } from './support/docker.js';
import { startStack, type Stack } from './support/stack.js';

const docker = await dockerAvailable();

async function scrape(stack: Stack) {
  return parsePromText(await botMetricsText(stack));
}

describe('bluegreen drill on the real stack', { skip: !docker && 'no Docker engine (start dockerd)', timeout: 600_000 }, () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack({ project: 'bge2e-drill' });
  });

  after(async () => {
    await stack?.down();
  });

  it('reports 0 failed requests, a detection time and recovery, and leaves blue active', async () => {
    const before = await scrape(stack);
    const r = await stack.compose('exec', '-T', 'bot', 'bluegreen', 'drill', '--json');
    const result = JSON.parse(r.stdout) as { status: string; message: string; data?: DrillReport };
    const figures = result.data && {
      requests: result.data.requests,
      failed: result.data.failed,
      byPool: result.data.byPool,
      latencyMs: result.data.latencyMs,
      timeToFailoverMs: result.data.timeToFailoverMs,
      timeToDetectMs: result.data.timeToDetectMs,
      detectedBy: result.data.detectedBy,
      timeToAlertMs: result.data.timeToAlertMs,
      alertKinds: result.data.alertKinds,
      timeToAutoDemoteMs: result.data.timeToAutoDemoteMs,
      timeToRecoverMs: result.data.timeToRecoverMs,
      timeToRecoveryAlertMs: result.data.timeToRecoveryAlertMs,
      durationMs: result.data.durationMs,
    };
    console.log(`# drill figures ${JSON.stringify(figures)}`);
    assert.equal(r.code, 0, `${result.message}\n${r.stderr}`);
    assert.equal(result.status, 'ok');
    const d = result.data!;
    assert.equal(d.pool, 'blue');
    assert.equal(d.failed, 0, 'no client request failed');
    assert.ok(d.requests >= 200, `bounded traffic ran (${d.requests} requests)`);
    assert.ok((d.byPool.green ?? 0) > 0, 'the backup served during chaos');
    assert.ok(d.timeToDetectMs !== undefined && d.timeToDetectMs >= 0, 'a detection time');
    assert.ok(d.timeToFailoverMs !== undefined);
    assert.ok(d.timeToRecoverMs !== undefined);
    assert.equal(d.restoredActive, true);

    // One progress line per step, with the elapsed time, on stderr.
    assert.match(r.stderr, /^\[\s*\d+\.\ds\] chaos start blue error$/m);
    assert.match(r.stderr, /^\[\s*\d+\.\ds\] chaos stop blue$/m);

    // The stack is as the drill found it: blue active, no chaos left.
    const status = await stack.compose('exec', '-T', 'bot', 'bluegreen', 'status', '--json');
    const s = JSON.parse(status.stdout) as { data: { active: string; pools: { pool: string; chaos: string | null }[] } };
    assert.equal(s.data.active, 'blue');
    assert.deepEqual(s.data.pools.map((p) => p.chaos ?? null), [null, null]);

    // The bot's /metrics parsed before and after, and moved with the drill's traffic.
    const now = await scrape(stack);
    const seen = sampleSum(now, 'bluegreen_requests_total') - sampleSum(before, 'bluegreen_requests_total');
    assert.ok(seen >= d.requests * 0.9, `the watcher counted the drill's requests (${seen} of ${d.requests})`);
    assert.ok(sampleSum(now, 'bluegreen_alerts_total', { status: 'firing' }) > sampleSum(before, 'bluegreen_alerts_total', { status: 'firing' }), 'alerts counted');
    if (d.autoDemoted) assert.ok(sampleSum(now, 'bluegreen_switches_total', { kind: 'failover', result: 'ok' }) >= 1);
  });
});
