// The maintenance page on the real stack, driven as an operator drives it: the `bluegreen` CLI inside
// the bot container. Traffic only through nginx's 127.0.0.1 port, 200 requests/s, bounded.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MaintenanceReport } from '../../src/deploy/operations.js';
import { parsePromText, sampleSum } from '../support/prom-text.js';
import { botCli, eventually } from './deploy-host.js';
import { botMetricsText } from './support/bot-metrics.js';
import { dockerAvailable } from './support/docker.js';
import { runSampledLoad, type Sample } from './support/load.js';
import { DEMO_IMAGE, startStack, type Stack } from './support/stack.js';

const docker = await dockerAvailable();

async function metrics(stack: Stack) {
  return parsePromText(await botMetricsText(stack));
}

async function get(stack: Stack, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(stack.url(path), { headers });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

async function cli(stack: Stack, ...args: string[]) {
  const r = await botCli(stack, ...args);
  assert.equal(r.code, 0, `bluegreen ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r;
}

async function show(stack: Stack): Promise<MaintenanceReport> {
  const r = await cli(stack, 'maintenance');
  return (r.result as { data: MaintenanceReport }).data;
}

const isPage = (s: Sample) => s.status === 503 && s.retryAfter !== null && s.pool === null;

/** ms from `from` to the start of the first request after which every request up to `until` matched. */
function settledAfter(samples: readonly Sample[], from: number, until: number, match: (s: Sample) => boolean): number | undefined {
  const window = samples.filter((s) => s.start >= from && s.start < until);
  let firstOfRun: number | undefined;
  for (const s of window) {
    if (!match(s)) firstOfRun = undefined;
    else firstOfRun ??= s.start;
  }
  return firstOfRun === undefined ? undefined : firstOfRun - from;
}

describe('maintenance page on the real stack', { skip: !docker && 'no Docker engine (start dockerd)', timeout: 600_000 }, () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack({ project: 'bge2e-maint', env: { ENV_NAME: 'e2e-maint' } });
  });

  after(async () => {
    await stack?.down();
  });

  it('under 200 rps: on --page -> only the 503 page with Retry-After, no alert; off -> only 200s from the active pool; 0 failed', async () => {
    const alertsBefore = sampleSum(await metrics(stack), 'bluegreen_alerts_total');
    const health: number[] = [];
    const marks = { onStart: 0, onDone: 0, offStart: 0, offDone: 0 };
    // What the bot measured from writing (removing) the flag to nginx serving the page (the pools).
    const verified: { on?: number; off?: number } = {};
    const verifiedMs = (message: string) => Number(/\((\d+) ms\)/.exec(message)?.[1]);
    let json: Awaited<ReturnType<typeof get>> | undefined;
    let html: Awaited<ReturnType<typeof get>> | undefined;
    let healthOn = true;
    const healthLoop = (async () => {
      while (healthOn) {
        health.push((await get(stack, '/nginx-health')).status);
        await sleep(100);
      }
    })();

    const samples = await runSampledLoad({
      url: stack.url('/'),
      rate: 200,
      amount: 4000,
      maxSeconds: 40,
      connections: 40,
      during: async () => {
        await sleep(2000);
        marks.onStart = Date.now();
        const on = await cli(stack, 'maintenance', 'on', '--page', 'for', '10m', 'db upgrade');
        marks.onDone = Date.now();
        assert.equal(on.result?.status, 'ok', on.stdout);
        assert.match((on.result as { message: string }).message, /nginx serves the maintenance page/);
        verified.on = verifiedMs((on.result as { message: string }).message);
        await sleep(1500);
        json = await get(stack, '/api/orders', { accept: 'application/json' });
        html = await get(stack, '/', { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' });
        await sleep(2000);
        marks.offStart = Date.now();
        const off = await cli(stack, 'maintenance', 'off');
        marks.offDone = Date.now();
        assert.equal(off.result?.status, 'ok', off.stdout);
        assert.match((off.result as { message: string }).message, /the maintenance page is down, the pools serve again/);
        verified.off = verifiedMs((off.result as { message: string }).message);
        await sleep(3000);
      },
    });
    healthOn = false;
    await healthLoop;

    const statuses: Record<string, number> = {};
    for (const s of samples) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
    const failed = samples.filter((s) => s.status === 0);
    const onToPageMs = settledAfter(samples, marks.onStart, marks.offStart, isPage);
    const offToTrafficMs = settledAfter(samples, marks.offStart, Infinity, (s) => s.status === 200 && s.pool === 'blue');
    const pageRequests = samples.filter((s) => isPage(s)).length;
    console.log(
      'MAINTENANCE_FIGURES',
      JSON.stringify({
        requests: samples.length,
        rps: Math.round(samples.length / ((samples.at(-1)!.start - samples[0]!.start) / 1000)),
        failed: failed.length,
        statuses,
        pageRequests,
        onToPageMs,
        offToTrafficMs,
        onCommandMs: marks.onDone - marks.onStart,
        offCommandMs: marks.offDone - marks.offStart,
        flagToPageMs: verified.on,
        flagToTrafficMs: verified.off,
        healthChecks: health.length,
      }),
    );

    assert.deepEqual(failed, [], 'no request failed at the connection level');
    assert.ok(samples.length >= 1500, `${samples.length} requests`);
    // Before: the pools; from 1 s after the command returned until off: only the page.
    for (const s of samples.filter((x) => x.start < marks.onStart)) assert.deepEqual([s.status, s.pool], [200, 'blue']);
    const during = samples.filter((s) => s.start >= marks.onDone + 1000 && s.start < marks.offStart);
    assert.ok(during.length >= 400, `${during.length} requests while the page was up`);
    for (const s of during) assert.ok(isPage(s), `page expected, got ${JSON.stringify(s)}`);
    for (const s of samples) assert.ok(s.status === 200 || isPage(s), `only 200 and the page, got ${JSON.stringify(s)}`);
    assert.equal(during[0]?.retryAfter, '300');
    assert.ok(onToPageMs !== undefined && onToPageMs < marks.onDone - marks.onStart + 1000, `on -> page ${onToPageMs} ms`);
    // After off: only 200s from the active pool.
    const back = samples.filter((s) => s.start >= marks.offDone + 1000);
    assert.ok(back.length >= 300, `${back.length} requests after off`);
    for (const s of back) assert.deepEqual([s.status, s.pool], [200, 'blue'], JSON.stringify(s));
    assert.ok(offToTrafficMs !== undefined && offToTrafficMs < marks.offDone - marks.offStart + 1000, `off -> traffic ${offToTrafficMs} ms`);

    // /nginx-health answered 200 throughout; JSON for API clients, HTML for browsers.
    assert.ok(health.length >= 30);
    assert.deepEqual([...new Set(health)], [200]);
    assert.equal(json?.status, 503);
    assert.match(json?.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal((JSON.parse(json?.body ?? '{}') as { status?: string }).status, 'maintenance');
    assert.equal(json?.headers.get('retry-after'), '300');
    assert.equal(html?.status, 503);
    assert.match(html?.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(html?.body ?? '', /planned maintenance/);

    // The watcher saw the page's 503s, counted them apart, and raised nothing (not even held back).
    await sleep(1500);
    const m = await metrics(stack);
    assert.equal(sampleSum(m, 'bluegreen_alerts_total'), alertsBefore, 'no alert, suppressed or sent');
    assert.ok(sampleSum(m, 'bluegreen_maintenance_page_requests_total') >= pageRequests, 'page requests counted on their own');
    assert.equal(sampleSum(m, 'bluegreen_requests_total', { status_class: '5xx' }), 0, 'no 5xx counted as an error');
    const lines = await stack.accessLog();
    const pageLines = lines.filter((l) => l.includes('"page":"maintenance"'));
    assert.ok(pageLines.length >= pageRequests);
    const entry = JSON.parse(pageLines[0]!) as Record<string, unknown>;
    assert.deepEqual([entry.status, entry.upstream_status, entry.pool, entry.release], [503, '-', '-', '-']);
  });

  it('the page survives a restart of nginx and of the bot; off ends it', async () => {
    await cli(stack, 'maintenance', 'on', 'for', '10m', '--page', 'disk swap');
    assert.equal((await get(stack, '/')).status, 503);
    const token = async () => (await stack.compose('exec', '-T', 'nginx', 'cat', '/etc/nginx/bluegreen/probe-token')).stdout.trim();
    const tokenBefore = await token();
    const restart = await stack.compose('restart', 'nginx', 'bot');
    assert.equal(restart.code, 0, restart.stderr);
    await eventually('nginx answers after its restart', async () => (await get(stack, '/nginx-health')).status === 200, 60_000);
    // A new probe token at each nginx start (the next test's probes use it through the bot).
    const tokenAfter = await token();
    assert.match(tokenAfter, /^[0-9a-f]{32}$/);
    assert.notEqual(tokenAfter, tokenBefore);
    const after = await get(stack, '/');
    assert.deepEqual([after.status, after.headers.get('retry-after'), after.headers.get('x-app-pool')], [503, '300', null]);
    await eventually('the bot answers after its restart', async () => (await fetch(`http://127.0.0.1:${stack.ports.bot}/healthz`)).ok, 60_000);
    const m = await show(stack);
    assert.deepEqual([m.on, m.page, m.pageFlag, m.reason], [true, true, true, 'disk swap']);
    await cli(stack, 'maintenance', 'off');
    const back = await get(stack, '/');
    assert.deepEqual([back.status, back.headers.get('x-app-pool')], [200, 'blue']);
  });

  it("behind the page, deploy and switch check the pools through nginx (the bot's probes pass the page); off -> the new release serves", async () => {
    await cli(stack, 'maintenance', 'on', 'for', '10m', '--page', 'release');
    const deployed = await cli(stack, 'deploy', 'green', DEMO_IMAGE, 'green-behind-page');
    assert.equal(deployed.result?.status, 'ok', JSON.stringify(deployed.result));
    const sw = await cli(stack, 'switch', 'green');
    assert.equal(sw.result?.status, 'ok', JSON.stringify(sw.result));
    assert.match(String((sw.result as { message?: string }).message), /^Switched blue -> green: nginx serves green/);
    // The public, and a probe with a wrong token, still get the page.
    for (const headers of [{}, { 'x-bluegreen-probe': 'guess' }] as Record<string, string>[]) {
      const r = await get(stack, '/', headers);
      assert.deepEqual([r.status, r.headers.get('x-app-pool')], [503, null]);
    }
    await cli(stack, 'maintenance', 'off');
    const back = await get(stack, '/');
    assert.deepEqual([back.status, back.headers.get('x-app-pool'), back.headers.get('x-release-id')], [200, 'green', 'green-behind-page']);
    await cli(stack, 'switch', 'blue');
  });

  it('a short window (for 3s) ends by itself: the page goes away, maintenance is off', async () => {
    const on = await cli(stack, 'maintenance', 'on', '--page', 'for', '3s', 'quick');
    assert.equal(on.result?.status, 'ok');
    const t0 = Date.now();
    assert.equal((await get(stack, '/')).status, 503);
    await eventually('the page to go away at expiry', async () => (await get(stack, '/')).status === 200, 15_000);
    const endedMs = Date.now() - t0;
    console.log('MAINTENANCE_EXPIRY', JSON.stringify({ endedMs }));
    // The window is 3 s from the command; the bot's timer looks once a second.
    assert.ok(endedMs >= 1500 && endedMs < 6000, `ended after ${endedMs} ms`);
    const m = await show(stack);
    assert.deepEqual([m.on, m.page, m.pageFlag, m.by?.id], [false, false, false, 'maintenance-timer']);
  });
});
