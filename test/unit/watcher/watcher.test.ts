import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { loadConfig } from '../../../src/config.js';
import { createMetrics } from '../../../src/metrics.js';
import type { Pool } from '../../../src/pool.js';
import type { AlertEvent, Notifier } from '../../../src/shared/alert.js';
import { isMalformed, parseAccessLine } from '../../../src/watcher/parse-access-line.js';
import { Watcher, type WatcherDeps } from '../../../src/watcher/watcher.js';
import { accessLine, fixtureLines } from './fixtures.js';

const dirs: string[] = [];
const running: Watcher[] = [];
afterEach(async () => {
  // Stop watchers even when a test failed, before their folders go.
  for (const w of running.splice(0)) await w.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'watcher-'));
  dirs.push(dir);
  const path = join(dir, 'access.json.log');
  writeFileSync(path, '');
  const config = loadConfig({ ACCESS_LOG_PATH: path, STATE_DIR: join(dir, 'state'), ENV_NAME: 'unit', ALERT_MIN_REQUESTS: '20', ...env });
  const alerts: AlertEvent[] = [];
  const notifier: Notifier = { name: 'collect', notify: (a) => (alerts.push(a), Promise.resolve()) };
  let active: Pool = 'blue';
  const chaos = new Set<Pool>();
  const make = (extra: Partial<WatcherDeps> = {}) => {
    const w = new Watcher({
      config,
      log: pino({ level: 'silent' }),
      metrics: createMetrics(),
      notifiers: [notifier],
      getActivePool: () => active,
      isChaosOn: (p) => chaos.has(p),
      tail: { startAt: 'start', pollMs: 50 },
      ...extra,
    });
    running.push(w);
    return w;
  };
  return {
    path,
    alerts,
    chaos,
    make,
    setActive: (p: Pool) => (active = p),
    write: (lines: string[]) => appendFileSync(path, lines.map((l) => `${stamp(l)}\n`).join('')),
    keys: () => alerts.map((a) => `${a.status}:${a.key}`),
  };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${cond.toString()}`);
    await sleep(5);
  }
}

// Lines stamped now: the window drops requests older than WINDOW_SEC by the clock too.
const line = (o: Parameters<typeof accessLine>[0] = {}) => accessLine({ time: Date.now(), ...o });
const OK = '__ok__';
const RETRIED = '__retried__';
const stamp = (l: string) =>
  l === OK ? line() : l === RETRIED ? line({ pool: 'green', upstreamStatus: '500, 200', upstreamAddr: '172.18.0.3:3000, 172.18.0.4:3000' }) : l;
const ok = OK;
const retried = RETRIED;

describe('Watcher', () => {
  it('turns a failover in the log into an alert with samples, and a recovery into a resolved alert', async () => {
    const t = setup();
    const w = t.make();
    t.chaos.add('blue');
    await w.start();
    t.write(Array<string>(30).fill(ok));
    // The backup serving a sustained share (8 of 38, over 20%), not one retried request.
    t.write(Array<string>(8).fill(retried));
    await until(() => t.alerts.length === 1);
    const a = t.alerts[0]!;
    assert.equal(a.key, 'failover:blue');
    assert.equal(a.env, 'unit');
    assert.deepEqual(a.explainedBy, ['chaos on blue']);
    assert.equal(a.sampleLines.length, 5);
    for (const l of a.sampleLines) assert.match(l, /"upstream_status":"500, 200"/);
    t.write([ok, ok, ok]);
    await until(() => t.alerts.length === 2);
    assert.deepEqual(t.keys(), ['firing:failover:blue', 'resolved:failover:blue']);
    const s = w.snapshot();
    assert.equal(s.lines.read, 41);
    assert.equal(s.pools.green.requests, 8);
    assert.deepEqual(s.openIncidents, []);
    await w.stop();
  });

  it('a hook that throws on one line costs that line only: the rest of the read is processed, alerts still come', async () => {
    const t = setup();
    let calls = 0;
    const w = t.make({
      isChaosOn: () => {
        if (++calls === 1) throw new Error('chaos lookup failed');
        return false;
      },
    });
    await w.start();
    // The 8th retried request makes the failover; its chaos lookup throws.
    t.write([...Array<string>(30).fill(ok), ...Array<string>(8).fill(retried), ...Array<string>(5).fill(ok)]);
    await until(() => w.snapshot().lines.read === 43);
    let s = w.snapshot();
    assert.equal(s.lines.failed, 1);
    assert.equal(s.window.requests, 43);
    // The failover whose alert failed is not left open without one: the next retry raises it.
    assert.ok(!s.openIncidents.includes('failover:blue'), s.openIncidents.join());
    t.write([retried]);
    await until(() => t.keys().includes('firing:failover:blue'));
    s = w.snapshot();
    assert.equal(s.lines.failed, 1);
    await w.stop();
  });

  it('restarts mid-stream without losing or repeating a line, and without repeating an alert', async () => {
    const t = setup();
    let w = t.make();
    await w.start();
    t.write(Array<string>(100).fill(ok));
    t.write(Array<string>(30).fill(retried)); // failover: 30 of 130 served by the backup
    await until(() => w.snapshot().lines.read === 130);
    // blue failing its attempts (absorbed by retries) is said first, then the backup's share.
    const opened = ['firing:error_rate:blue', 'firing:failover:blue'];
    assert.deepEqual(t.keys(), opened);
    // A writer keeps going while the watcher restarts.
    let written = 130;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        t.write([retried, retried]);
        written += 2;
        await sleep(2);
      }
    })();
    await sleep(30);
    const before = w.snapshot().lines.read;
    await w.stop();
    const readBeforeStop = w.snapshot().lines.read;
    assert.ok(readBeforeStop >= before);
    await sleep(30);
    w = t.make();
    await w.start();
    await sleep(30);
    writing = false;
    await writer;
    await until(() => readBeforeStop + w.snapshot().lines.read >= written).catch(() => undefined);
    await sleep(100);
    assert.equal(readBeforeStop + w.snapshot().lines.read, written, 'every line read exactly once across the restart');
    assert.deepEqual(t.keys(), opened, 'the open incidents are not announced again');
    t.write([ok, ok, ok]);
    await until(() => t.alerts.length === 3);
    assert.deepEqual(t.keys(), [...opened, 'resolved:failover:blue']);
    await w.stop();
  });

  it('counts retried requests (metrics, 5-minute count) and each pool\'s attempts for the post-switch guard', async () => {
    const t = setup();
    const metrics = createMetrics();
    const w = t.make({ metrics });
    await w.start();
    t.write([...Array<string>(50).fill(ok), retried, retried, ...Array<string>(10).fill(line({ pool: 'green' })), line({ status: 502, upstreamStatus: '502' })]);
    await until(() => w.snapshot().lines.read === 63);
    assert.equal(w.poolStats('blue').retried5m, 2, 'two requests failed on blue and were answered by green');
    assert.equal(w.poolStats('green').retried5m, 0);
    // Ten requests went straight to green while blue was active: blue was benched for them.
    assert.deepEqual(w.attemptCounts('blue'), { served: 50, failed: 3, benched: 10, clientErrors: 1 });
    assert.deepEqual(w.attemptCounts('green'), { served: 12, failed: 0, benched: 0, clientErrors: 1 });
    const text = await metrics.registry.metrics();
    assert.match(text, /bluegreen_retried_requests_total\{pool="blue"\} 2/);
    assert.deepEqual(t.keys(), [], 'two retried requests page nobody');
    await w.stop();
  });

  it("the maintenance page's 503s are counted on their own: no error, no alert, not in the window", async () => {
    const t = setup();
    const metrics = createMetrics();
    const w = t.make({ metrics });
    await w.start();
    const page = line({ status: 503, upstreamAddr: '-', upstreamStatus: '-', pool: '-', release: '-', page: 'maintenance' });
    t.write([...Array<string>(30).fill(ok), ...Array<string>(300).fill(page), ...Array<string>(5).fill(ok)]);
    await until(() => w.snapshot().lines.read === 335);
    await w.poke();
    await sleep(50);
    const s = w.snapshot();
    assert.deepEqual([s.lines.malformed, s.lines.maintenancePage, s.window.requests, s.errorRatePct], [0, 300, 35, 0]);
    assert.deepEqual([s.pools.blue.clientErrors, s.openIncidents, t.alerts], [0, [], []]);
    assert.equal(w.attemptCounts('blue').clientErrors, 0);
    const text = await metrics.registry.metrics();
    assert.match(text, /^bluegreen_maintenance_page_requests_total 300$/m);
    assert.doesNotMatch(text, /^bluegreen_requests_total\{[^}]*status_class="5xx"[^}]*\}/m);
    assert.doesNotMatch(text, /^bluegreen_alerts_total\{/m);
    // The same 503s without the page's mark are nginx failing: they do raise the error rate.
    t.write(Array<string>(300).fill(line({ status: 503, upstreamAddr: '-', upstreamStatus: '-', pool: '-', release: '-', page: '-' })));
    await until(() => t.keys().includes('firing:error_rate:all'));
    await w.stop();
  });

  it('follows the active pool as the deploy layer changes it', async () => {
    const t = setup();
    const w = t.make();
    await w.start();
    t.setActive('green');
    t.write(Array<string>(5).fill(line({ pool: 'green' })));
    await until(() => w.snapshot().lines.read === 5);
    assert.deepEqual(t.keys(), []);
    assert.equal(w.snapshot().activePool, 'green');
    await w.stop();
  });

  it('survives 100,000 random, truncated, non-UTF-8 and oversized lines, counting every one', async () => {
    const t = setup({ WINDOW_SIZE: '1000' });
    const w = t.make();
    await w.start();
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const valid = fixtureLines('healthy-blue').concat(fixtureLines('retried'), fixtureLines('timeout'), fixtureLines('no-live-upstreams'));
    const N = 100_000;
    let expectedMalformed = 0;
    const chunks: Buffer[] = [];
    for (let i = 0; i < N; i++) {
      const kind = Math.floor(rand() * 6);
      const base = valid[i % valid.length]!;
      let line: Buffer;
      if (kind === 0) line = Buffer.from(base);
      else if (kind === 1) {
        line = Buffer.from(base.slice(0, 1 + Math.floor(rand() * (base.length - 2)))); // truncated
      } else if (kind === 2) {
        line = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 300) }, () => 1 + Math.floor(rand() * 254)).map((b) => (b === 10 ? 11 : b)));
      } else if (kind === 3) {
        line = Buffer.concat([Buffer.from(base.replace('"uri":"', '"uri":"/')), Buffer.alloc(0)]);
        line = Buffer.from(line.toString().replace('"uri":"/', '"uri":"/\u00e9'), 'latin1'); // non-UTF-8 byte: still a request
      } else if (kind === 4) {
        line = Buffer.from(JSON.stringify({ ...(JSON.parse(base) as object), status: rand() > 0.5 ? 'x' : null }));
      } else {
        line = Buffer.from(base.replace(/"status":\d+/, `"status":${Math.floor(rand() * 600)}`));
      }
      if (i % 25_000 === 1) line = Buffer.alloc(1_100_000, 'z'); // huge
      // parseAccessLine is the authority; the hot path must agree with it on every line.
      if (isMalformed(parseAccessLine(line))) expectedMalformed++;
      chunks.push(line, Buffer.from('\n'));
    }
    appendFileSync(t.path, Buffer.concat(chunks));
    await until(() => w.snapshot().lines.read === N, 30_000);
    const s = w.snapshot();
    assert.equal(s.lines.read, N);
    assert.ok(expectedMalformed > 50_000 && expectedMalformed < N);
    assert.equal(s.lines.malformed, expectedMalformed);
    assert.ok((s.lines.byReason.huge ?? 0) >= 4);
    assert.ok(s.lines.nonUtf8 > 0);
    await w.stop();
  });
});
