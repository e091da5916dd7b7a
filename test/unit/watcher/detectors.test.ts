import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pool } from '../../../src/pool.js';
import { AccessLineReader } from '../../../src/watcher/access-line-reader.js';
import { Detectors, type DetectorContext, type DetectorOptions, type Signal } from '../../../src/watcher/detectors.js';
import { SlidingWindow } from '../../../src/watcher/sliding-window.js';
import { accessLine, fixtureLines } from './fixtures.js';

const OPTS: DetectorOptions = { errorRateThreshold: 2, errorRateClearThreshold: 1, minRequests: 50, latencyP95ThresholdMs: 1000 };

/** Feeds lines through the real reader, window and detectors; collects signals. */
function harness(opts: Partial<DetectorOptions> = {}, ctx: Partial<DetectorContext> = {}) {
  const signals: Signal[] = [];
  const d = new Detectors({ ...OPTS, ...opts }, (s) => signals.push(s));
  const w = new SlidingWindow({ size: 200, maxAgeMs: 600_000 });
  const r = new AccessLineReader();
  const chaos = new Set<Pool>();
  const c: DetectorContext = { activePool: 'blue', isChaosOn: (p) => chaos.has(p), maintenance: false, ...ctx };
  return {
    signals,
    ctx: c,
    chaos,
    feed(lines: string[], times = 1) {
      for (let k = 0; k < times; k++)
        for (const l of lines) {
          assert.equal(r.readLine(l), undefined);
          w.push(r);
          d.onLine(r, w, c);
        }
      d.evaluate(w, c);
    },
    keys: () => signals.map((s) => `${s.status}:${s.key}`),
  };
}

const ok = accessLine();
const err = accessLine({ status: 500 });
const retried = fixtureLines('retried')[0]!; // "500, 200" served by green
const green = accessLine({ pool: 'green' });
const bothFail = fixtureLines('no-live-upstreams')[0]!; // "500, 500"
const noLive = fixtureLines('no-live-upstreams')[2]!;

describe('failover and recovery', () => {
  it('the backup serving a sustained share is a failover; the active pool serving again is recovery', () => {
    const h = harness();
    h.chaos.add('blue');
    h.feed([ok], 10);
    h.feed([retried], 4);
    assert.deepEqual(h.keys(), [], 'four retried requests are not yet a failover');
    h.feed([retried]);
    assert.deepEqual(h.keys(), ['firing:failover:blue'], 'five of fifteen (33%) served by the backup');
    assert.deepEqual(h.signals[0]!.explainedBy, ['chaos on blue']);
    h.feed([retried, green], 20);
    assert.equal(h.signals.length, 1, 'one incident, not one per line');
    h.feed([ok], 2);
    assert.equal(h.signals.length, 1, 'two lines are not yet a recovery');
    h.feed([ok]);
    assert.deepEqual(h.keys(), ['firing:failover:blue', 'resolved:failover:blue']);
    assert.equal(h.signals[1]!.kind, 'recovery');
  });

  it('one retried request now and then raises no failover; a sustained share over 10 s does', () => {
    const h = harness();
    const at = (sec: number, line: 'ok' | 'retried') =>
      line === 'ok' ? accessLine({ time: Date.parse('2026-11-22T20:53:00Z') + sec * 1000 }) : accessLine({
        time: Date.parse('2026-11-22T20:53:00Z') + sec * 1000,
        pool: 'green',
        upstreamAddr: '172.18.0.3:3000, 172.18.0.4:3000',
        upstreamStatus: '500, 200',
      });
    // 100 requests a second for 60 s, one retried request every 3 s: 20 retried, never 5 in 10 s.
    for (let sec = 0; sec < 60; sec++) h.feed([...Array<string>(99).fill(at(sec, 'ok')), at(sec, sec % 3 === 0 ? 'retried' : 'ok')]);
    assert.deepEqual(h.keys(), []);
    // A pool that fails a third of its requests: once that has lasted long enough to be 20% of the
    // last 10 s (6 s here; nginx benching the pool gets there sooner), the backup serves a sustained share.
    for (let sec = 60; sec < 65; sec++) h.feed(Array.from({ length: 100 }, (_, i) => at(sec, i % 3 === 0 ? 'retried' : 'ok')));
    assert.ok(!h.keys().includes('firing:failover:blue'), h.keys().join());
    for (let sec = 65; sec < 67; sec++) h.feed(Array.from({ length: 100 }, (_, i) => at(sec, i % 3 === 0 ? 'retried' : 'ok')));
    assert.ok(h.keys().includes('firing:failover:blue'), h.keys().join());
  });

  it('5 requests served by the backup at low traffic are a failover once they are 20% of the last 10 s', () => {
    const h = harness({ failoverMinRequests: 5, failoverMinSharePct: 20 });
    const t0 = Date.parse('2026-11-22T20:53:00Z');
    h.feed(Array.from({ length: 40 }, (_, i) => accessLine({ time: t0 + (i % 10) * 1000 })));
    h.feed(Array.from({ length: 5 }, () => accessLine({ time: t0 + 9000, pool: 'green' })));
    assert.deepEqual(h.keys(), [], '5 of 45 is 11%');
    h.feed(Array.from({ length: 6 }, () => accessLine({ time: t0 + 9000, pool: 'green' })));
    assert.deepEqual(h.keys(), ['firing:failover:blue'], '11 of 51');
  });

  it('a few stragglers on the backup after a switch are not a failover', () => {
    const h = harness();
    h.feed([ok, green, ok, green, green, ok]);
    assert.deepEqual(h.keys(), []);
    h.feed([green, green, green]);
    assert.deepEqual(h.keys(), ['firing:failover:blue']);
  });

  it('a switch to the pool that was serving as backup closes the failover', () => {
    const h = harness();
    h.feed([green], 5);
    h.ctx.activePool = 'green';
    h.feed([green]);
    assert.deepEqual(h.keys(), ['firing:failover:blue', 'resolved:failover:blue']);
  });
});

describe('error rate', () => {
  it('is not judged before ALERT_MIN_REQUESTS (low traffic)', () => {
    const h = harness();
    h.feed([err, ok, ok], 16); // 48 requests, 33% errors
    assert.deepEqual(h.keys(), []);
    h.feed([err, ok]);
    assert.deepEqual(h.keys(), ['firing:error_rate:all']);
  });

  it('fires at the threshold and clears only under the lower clear threshold (no flapping)', () => {
    const h = harness({ errorRateThreshold: 5, errorRateClearThreshold: 2 });
    h.feed([ok], 200);
    // Hover around the threshold: 5% errors, then 3%, then 5% again: one incident.
    const mix = (errs: number) => [...Array<string>(errs).fill(err), ...Array<string>(100 - errs).fill(ok)];
    h.feed(mix(5), 2);
    h.feed(mix(3), 2);
    h.feed(mix(5), 2);
    h.feed(mix(3), 2);
    assert.deepEqual(h.keys(), ['firing:error_rate:all']);
    h.feed(mix(1), 2);
    assert.deepEqual(h.keys(), ['firing:error_rate:all', 'resolved:error_rate:all']);
  });

  it('upstream errors a retry absorbs are explained by chaos: no error-rate alert, the failover says so', () => {
    const h = harness();
    h.chaos.add('blue');
    h.feed([ok], 100);
    h.feed([retried], 100);
    assert.deepEqual(h.keys(), ['firing:failover:blue']);
    assert.deepEqual(h.signals[0]!.explainedBy, ['chaos on blue']);
  });

  it('a recovery does not turn the failover\'s own upstream errors, still in the window, into an alert', () => {
    const h = harness();
    h.feed([ok], 100);
    h.feed([retried], 60); // failover: the blue errors are explained by it
    h.feed([ok], 3); // recovery, while 60 absorbed errors are still in the 200-request window
    h.feed([ok], 50);
    assert.deepEqual(h.keys(), ['firing:failover:blue', 'resolved:failover:blue']);
  });

  it('unexplained upstream errors on a pool raise an error-rate alert for that pool', () => {
    const h = harness();
    // The primary fails now and then, retried on green: clients see nothing, no failover streak.
    h.feed([ok, ok, ok, ok, retried, ok, ok, ok, ok, ok], 10);
    assert.ok(h.keys().includes('firing:error_rate:blue'), h.keys().join());
    assert.ok(!h.keys().includes('firing:error_rate:all'));
  });

  it('errors clients see are alerted even under chaos, naming the chaos', () => {
    const h = harness();
    h.chaos.add('blue').add('green');
    h.feed([ok], 100);
    h.feed([bothFail], 10);
    assert.ok(h.keys().includes('firing:error_rate:all'));
    assert.ok(h.keys().includes('firing:all_down:all'));
    const e = h.signals.find((s) => s.key === 'error_rate:all')!;
    assert.deepEqual(e.explainedBy, ['chaos on blue', 'chaos on green']);
    assert.equal(e.severity, 'critical', 'clients get errors');
    assert.equal(h.signals.find((s) => s.key === 'failover:blue')?.severity ?? 'warning', 'warning');
  });
});

describe('all pools down', () => {
  it('is critical after 3 requests in a row that failed on every upstream, and resolves after 3 good ones', () => {
    const h = harness();
    h.feed([noLive, noLive]);
    h.feed([err]); // a 500 from the primary alone is not "all down"
    assert.deepEqual(h.keys(), []);
    h.feed([noLive, bothFail, noLive]);
    assert.deepEqual(h.keys(), ['firing:all_down:all']);
    assert.equal(h.signals[0]!.severity, 'critical');
    h.feed([ok, ok, ok]);
    assert.deepEqual(h.keys(), ['firing:all_down:all', 'resolved:all_down:all']);
  });
});

describe('latency', () => {
  it('fires when p95 is above the threshold and resolves under 80% of it', () => {
    const h = harness({ latencyP95ThresholdMs: 500 });
    h.feed([accessLine({ requestTime: 0.05 })], 100);
    assert.deepEqual(h.keys(), []);
    h.feed([accessLine({ requestTime: 2.0 })], 20);
    assert.deepEqual(h.keys(), ['firing:latency:all']);
    assert.equal(h.signals[0]!.unit, 'ms');
    assert.ok(h.signals[0]!.observed! >= 2000);
    h.feed([accessLine({ requestTime: 0.05 })], 200);
    assert.deepEqual(h.keys(), ['firing:latency:all', 'resolved:latency:all']);
  });
});
