import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bucketOf, logBucket, SlidingWindow, type WindowLine } from '../../../src/watcher/sliding-window.js';

const T0 = Date.parse('2026-11-22T20:53:00Z');

function line(o: Partial<WindowLine> = {}): WindowLine {
  return { time: T0, status: 200, requestTime: 0.01, pool: 'blue', attempts: 1, attemptFailures: 0, failedPool: undefined, ...o };
}

describe('SlidingWindow', () => {
  it('keeps only the last `size` requests', () => {
    const w = new SlidingWindow({ size: 10, maxAgeMs: 60_000 });
    for (let i = 0; i < 10; i++) w.push(line({ status: 500 }));
    assert.equal(w.clientErrorRate(), 100);
    for (let i = 0; i < 7; i++) w.push(line());
    assert.equal(w.count, 10);
    assert.equal(w.clientErrors(), 3);
    assert.equal(w.clientErrorRate(), 30);
    assert.equal(w.clientErrors('blue'), 3);
  });

  it('drops requests older than maxAgeMs, when lines arrive and on expire()', () => {
    const w = new SlidingWindow({ size: 100, maxAgeMs: 10_000 });
    for (let i = 0; i < 5; i++) w.push(line({ time: T0, status: 502 }));
    w.push(line({ time: T0 + 11_000 }));
    assert.equal(w.count, 1);
    assert.equal(w.clientErrors(), 0);
    w.expire(T0 + 30_000);
    assert.equal(w.count, 0);
    assert.equal(w.percentileMs(0.95), undefined);
  });

  it('counts upstream attempts a retry hid from the client, and blames the failed pool', () => {
    const w = new SlidingWindow({ size: 100, maxAgeMs: 60_000 });
    w.push(line({ pool: 'green', attempts: 2, attemptFailures: 1, failedPool: 'blue' }));
    w.push(line());
    assert.equal(w.clientErrorRate(), 0);
    assert.equal(w.upstreamErrorRate(), (1 * 100) / 3);
    assert.equal(w.blamed('blue'), 1);
    assert.equal(w.blamedRate('blue'), 50);
    assert.equal(w.requests('green'), 1);
  });

  it('gives percentiles within 10% from the histogram, per pool', () => {
    const w = new SlidingWindow({ size: 1000, maxAgeMs: 60_000 });
    for (let i = 1; i <= 1000; i++) w.push(line({ requestTime: i / 1000, pool: i % 2 ? 'blue' : 'green' })); // 1..1000 ms
    for (const [q, exact] of [[0.5, 500], [0.95, 950], [0.99, 990]] as const) {
      const got = w.percentileMs(q)!;
      assert.ok(got >= exact && got <= exact * 1.1, `p${q * 100}: ${got} vs ${exact}`);
    }
    assert.ok(w.percentileMs(0.95, 'green')! >= 950);
    assert.equal(w.percentileMs(0.5, 'blue') !== undefined, true);
  });
});

describe('latency buckets', () => {
  it('the whole-millisecond table agrees with the logarithm, also a float width away and past its end', () => {
    for (let m = 0; m <= 10_050; m++) {
      for (const ms of [m, m - 1e-6, m + 1e-6, m / 1000 * 1000, m + 0.5]) assert.equal(bucketOf(ms), logBucket(ms), `${ms} ms`);
    }
    for (const ms of [-1, 0.4, 1.05, 15_000.3, 119_999, 1e9]) assert.equal(bucketOf(ms), logBucket(ms), `${ms} ms`);
  });
});
