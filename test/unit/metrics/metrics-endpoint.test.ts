// GET /metrics: valid Prometheus text, every product metric exposed, and values that move when the
// watcher reads traffic and raises alerts (real Watcher on a temp log, real app, real HTTP).
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createApp, type App } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { createLogger } from '../../../src/log.js';
import { createMetrics, type Metrics } from '../../../src/metrics.js';
import { Watcher } from '../../../src/watcher/watcher.js';
import { parsePromText, sampleSum, sampleValue, type PromFamily } from '../../support/prom-text.js';

const FIXTURES = new URL('../../fixtures/access-log/', import.meta.url).pathname;

describe('parsePromText (the checker itself)', () => {
  it('accepts a well-formed exposition', () => {
    const f = parsePromText('# HELP a_total A.\n# TYPE a_total counter\na_total{x="1",y="q\\"\\n"} 3\n');
    assert.equal(sampleValue(f, 'a_total', { x: '1' }), 3);
    assert.equal(f.get('a_total')?.samples[0]?.labels.y, 'q"\n');
  });
  for (const [why, text] of [
    ['no trailing newline', '# TYPE a gauge\na 1'],
    ['sample without family', 'a 1\n'],
    ['unquoted label', '# TYPE a gauge\na{x=1} 1\n'],
    ['bad value', '# TYPE a gauge\na 1,5\n'],
    ['duplicate series', '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n'],
    ['TYPE after samples', '# HELP a A\na 1\n# TYPE a gauge\n'],
    ['family split in two groups', '# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x="2"} 1\n'],
    ['bucket without le', '# TYPE h histogram\nh_bucket 1\n'],
    ['bad metric name', '# TYPE 1a gauge\n'],
  ] as const) {
    it(`rejects ${why}`, () => assert.throws(() => parsePromText(text)));
  }
});

describe('GET /metrics', () => {
  let dir: string;
  let app: App;
  let metrics: Metrics;
  let watcher: Watcher;
  let base: string;
  const logPath = () => join(dir, 'access.json.log');

  async function scrape(): Promise<{ families: Map<string, PromFamily>; contentType: string | null }> {
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    return { families: parsePromText(text), contentType: res.headers.get('content-type') };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bg-metrics-'));
    writeFileSync(logPath(), '');
    const config = loadConfig({
      BOT_HOST: '127.0.0.1',
      BOT_PORT: '0',
      METRICS_PORT: '0',
      STATE_DIR: join(dir, 'state'),
      NGINX_STATE_DIR: join(dir, 'nginx'),
      ACCESS_LOG_PATH: logPath(),
      DOCKER_SOCKET: join(dir, 'no-docker.sock'),
      AUTO_FAILOVER: 'false',
      POOL_URL_BLUE: 'http://127.0.0.1:9',
      POOL_URL_GREEN: 'http://127.0.0.1:9',
      ALERT_MIN_REQUESTS: '10',
      LOG_LEVEL: 'silent',
    });
    const log = createLogger({ level: 'silent' });
    metrics = createMetrics();
    // Injected, so the app runs this watcher (it would build its own from config otherwise).
    watcher = new Watcher({ config, log, metrics, notifiers: [], tail: { startAt: 'start' }, tickMs: 60_000 });
    app = createApp({ config, log, metrics, watcher });
    // Scraped where Prometheus scrapes it: the metrics listener, not the public one.
    const addr = await app.start();
    base = `http://127.0.0.1:${addr.metrics.port}`;
  });

  after(async () => {
    await app.stop();
  });

  it('serves every product metric in Prometheus text format, with the default process metrics', async () => {
    const { families, contentType } = await scrape();
    assert.match(contentType ?? '', /^text\/plain; version=0\.0\.4/);
    const declared = Object.values(metrics)
      .filter((m): m is Exclude<Metrics[keyof Metrics], Metrics['registry']> => m !== metrics.registry)
      .map((m) => (m as unknown as { name: string }).name);
    assert.ok(declared.length >= 13);
    for (const name of declared) assert.ok(families.has(name), `${name} missing from /metrics`);
    for (const f of families.values()) {
      if (f.type === 'counter') assert.match(f.name, /_total$/, `counter ${f.name} must end in _total`);
      assert.ok(f.help && f.help.length > 0, `${f.name} has no HELP`);
      assert.doesNotMatch(f.name, /_(ms|milliseconds|percent)$/, `${f.name}: use base units`);
    }
    assert.ok(families.has('process_cpu_seconds_total') && families.has('nodejs_heap_size_used_bytes'));
    assert.equal(families.get('bluegreen_operation_lock_wait_seconds')?.type, 'histogram');
  });

  const lines = (text: string) => text.split('\n').filter((l) => l.length > 0).length;
  const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
  const greenLines = (n: number, pool: 'blue' | 'green') => {
    const template = JSON.parse(fixture('healthy-blue.log').split('\n')[0]!) as Record<string, unknown>;
    return Array.from({ length: n }, (_, i) =>
      JSON.stringify({ ...template, request_id: `${pool}${i}`, time: new Date().toISOString(), pool, release: `${pool}-v1`, upstream_status: '200' }),
    ).join('\n');
  };

  it('moves as traffic is read: requests by pool and status class, lines, malformed lines', async () => {
    const before = (await scrape()).families;
    assert.equal(sampleSum(before, 'bluegreen_requests_total'), 0);
    // Real lines captured from the stack, and one line nginx would never write.
    const healthy = fixture('healthy-blue.log');
    appendFileSync(logPath(), `${healthy}not json at all\n`);
    await watcher.poke();
    const now = (await scrape()).families;
    assert.equal(sampleValue(now, 'bluegreen_watcher_lines_total'), lines(healthy) + 1);
    assert.equal(sampleValue(now, 'bluegreen_watcher_malformed_lines_total'), 1);
    assert.equal(sampleSum(now, 'bluegreen_requests_total'), lines(healthy));
    assert.ok((sampleValue(now, 'bluegreen_requests_total', { pool: 'blue', status_class: '2xx' }) ?? 0) > 0);
    assert.equal(sampleSum(now, 'bluegreen_alerts_total'), 0);
  });

  it('counts upstream-attempt errors, the failover and its alert when the backup serves', async () => {
    // A real retried request ("500, 200": blue failed, green answered), then green keeps serving.
    appendFileSync(logPath(), `${fixture('retried.log')}${greenLines(5, 'green')}\n`);
    await watcher.poke();
    const now = (await scrape()).families;
    assert.ok(sampleSum(now, 'bluegreen_upstream_attempt_errors_total') >= 1);
    assert.equal(sampleValue(now, 'bluegreen_alerts_total', { kind: 'failover', status: 'firing' }), 1);
    assert.equal(sampleValue(now, 'bluegreen_failovers_total', { from_pool: 'blue' }), 1);
    assert.ok((sampleValue(now, 'bluegreen_requests_total', { pool: 'green', status_class: '2xx' }) ?? 0) >= 5);
    const rate = sampleValue(now, 'bluegreen_error_rate_ratio', { pool: 'blue' });
    assert.ok(rate !== undefined && rate >= 0 && rate <= 1, 'error rate is a ratio');
  });

  it('counts the resolution when the active pool serves again', async () => {
    appendFileSync(logPath(), `${greenLines(5, 'blue')}\n`);
    await watcher.poke();
    const now = (await scrape()).families;
    assert.equal(sampleValue(now, 'bluegreen_alerts_total', { kind: 'recovery', status: 'resolved' }), 1);
  });
});
