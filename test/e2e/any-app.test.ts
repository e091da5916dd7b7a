// Your app, not ours (issue #19): every headline use with an app that knows nothing about bluegreen:
// busybox httpd (test/e2e/support/any-app), not Node, its own port (8000) and health path
// (/health), no X-App-Pool / X-Release-Id. nginx names the pool and release of each answer; the bot
// alerts, demotes, guards, deploys, pauses and kills it through Docker, all on the real stack.
// Figures print as ANYAPP_FIGURES.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { StatusReport } from '../../src/deploy/operations.js';
import { blockActionBody, postSigned } from '../support/slack-stand-in.js';
import { botCli, eventually, serviceContainer } from './deploy-host.js';
import { ANY_APP_HEALTH_PATH, ANY_APP_PORT, ANY_APP_WORK_PATH, buildAnyApp } from './support/any-app.js';
import { dockerAvailable, run } from './support/docker.js';
import { runLoad, type LoadResult } from './support/load.js';
import { ALERTS, buttonsOf, standInOf, tsOf, waitForGuardAlert, type Call } from './support/slack-e2e.js';
import { startStack, type Stack } from './support/stack.js';

const SECRET = 'e2e-anyapp-secret-7d1f';
const ADMIN = 'U_E2E_ANYAPP';
const TAG = (process.env.IMAGE_TAG ?? 'local').toLowerCase().replace(/[^a-z0-9_.-]/g, '');
const IMAGE = (v: string) => `bluegreen-test-anyapp:${v}-${TAG}`;
const V1 = IMAGE('v1');
const V2 = IMAGE('v2');
/** Passes /health, then fails 30% of /cgi-bin/work once it served 50 of them well. */
const BAD = IMAGE('v2-bad');
const RATE = 100;

const docker = await dockerAvailable();

interface LogLine {
  uri: string;
  status: number;
  upstream_status: string;
  pool: string;
  release: string;
}

describe('any HTTP app: busybox httpd behind bluegreen (real stack, no app cooperation)', { skip: docker ? false : 'no Docker engine', timeout: 900_000 }, () => {
  let stack: Stack;
  const figures: Record<string, unknown> = {};
  const standIn = () => standInOf(stack);

  const status = async (): Promise<StatusReport> => {
    const r = await botCli(stack, 'status');
    assert.equal(r.result?.status, 'ok', r.stdout + r.stderr);
    return (r.result as { data: StatusReport }).data;
  };
  const logLines = async (): Promise<LogLine[]> => (await stack.accessLog()).map((l) => JSON.parse(l) as LogLine);
  const containerOf = (pool: 'blue' | 'green') => serviceContainer(stack.project, `app_${pool}`);
  const load = (path: string, seconds: number, during: () => Promise<void>): Promise<LoadResult> =>
    runLoad({ url: stack.url(path), rate: RATE, amount: RATE * seconds, maxSeconds: seconds * 2 + 10, connections: 10, during });
  const summary = (r: LoadResult) => ({ requests: r.requests, failed: r.failed, p99: r.p99, max: r.max, byPool: r.byPool });
  const after1s = async (act: () => Promise<void>) => {
    await new Promise((r) => setTimeout(r, 1000));
    await act();
  };

  before(async () => {
    await buildAnyApp(V1, 'v1');
    await buildAnyApp(V2, 'v2');
    await buildAnyApp(BAD, 'v2-bad', { FAIL_PCT: '30', FAIL_AFTER: '50' });
    stack = await startStack({
      project: 'bge2e-anyapp',
      standIn: true,
      timeoutMs: 180_000,
      env: {
        BLUE_IMAGE: V1,
        GREEN_IMAGE: V1,
        APP_PORT: String(ANY_APP_PORT),
        APP_HEALTH_PATH: ANY_APP_HEALTH_PATH,
        RELEASE_ID_BLUE: 'site-v1-blue',
        RELEASE_ID_GREEN: 'site-v1-green',
        SLACK_BOT_TOKEN: 'xoxb-e2e-anyapp',
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: 'http://standin:4000/api/',
        SLACK_ALERT_CHANNEL: ALERTS,
        SLACK_ADMIN_USERS: ADMIN,
        ENV_NAME: 'e2e-anyapp',
        POST_SWITCH_GUARD_SEC: '60',
        LOG_LEVEL: 'debug',
      },
    });
  });

  after(async () => {
    process.stdout.write(`ANYAPP_FIGURES ${JSON.stringify(figures)}\n`);
    if (stack && process.env.BLUEGREEN_E2E_KEEP !== '1') await stack.down();
    await run('docker', ['rmi', '-f', V1, V2, BAD]);
  });

  it('status is healthy on /health at port 8000; nginx names the pool and release of each answer, the app sends neither', async () => {
    const st = await status();
    assert.deepEqual(
      st.pools.map((p) => [p.pool, p.healthy, p.healthDetail]),
      [
        ['blue', true, 'HTTP 200'],
        ['green', true, 'HTTP 200'],
      ],
    );
    const res = await fetch(stack.url('/'));
    assert.match(await res.text(), /any-app v1/);
    assert.equal(res.headers.get('x-app-pool'), null, 'the app sends no pool header');
    assert.equal(res.headers.get('x-bluegreen-pool'), 'blue', 'nginx names the pool (POOL_HEADER on)');
    // The bot tells nginx the releases once deploy control is ready.
    await eventually('the access log to name pool and release', async () => {
      const last = (await logLines()).filter((l) => l.uri === '/').at(-1);
      await (await fetch(stack.url('/'))).arrayBuffer();
      return last?.pool === 'blue' && last.release === 'site-v1-blue';
    });
  });

  it('switch green under load: 0 failed, the log names green and its release', async () => {
    let message = '';
    const r = await load('/', 10, () =>
      after1s(async () => {
        const sw = await botCli(stack, 'switch', 'green');
        assert.equal(sw.code, 0, sw.stdout + sw.stderr);
        message = sw.result?.status === 'ok' ? sw.result.message : '';
      }),
    );
    figures.switch = summary(r);
    assert.equal(r.failed, 0, JSON.stringify(r.firstFailures));
    assert.match(message, /green/);
    assert.ok((r.byPool.green ?? 0) > RATE * 5, JSON.stringify(r.byPool));
    const last = (await logLines()).filter((l) => l.uri === '/').at(-1);
    assert.deepEqual([last?.pool, last?.release], ['green', 'site-v1-green']);
  });

  it('the active container killed under load: 0 failed, an alert naming green, auto-demote to blue, status truthful', async () => {
    const since = (await standIn().state()).now;
    const green = await containerOf('green');
    let killedAt = 0;
    try {
      const r = await load('/', 15, () =>
        after1s(async () => {
          killedAt = Date.now();
          assert.equal((await run('docker', ['kill', green])).code, 0);
        }),
      );
      figures.killActive = summary(r);
      assert.equal(r.failed, 0, JSON.stringify(r.firstFailures));
      // The watcher's failover (failover:green) or the bot's own auto-demote (auto_failover:green:<when>), whichever explains it.
      const alert = await standIn().waitFor(
        'an alert naming green',
        (st) =>
          st.calls.find(
            (c) => c.method === 'chat.postMessage' && c.at >= since && c.args.channel === ALERTS && buttonsOf(c).some((b) => /"k":"(auto_)?failover:green/.test(b.value)),
          ),
        30_000,
      );
      // The stand-in runs on this host: its clock is this one.
      figures.killActive = { ...(figures.killActive as object), alertAfterMs: alert.at - killedAt, alert: String(alert.args.text).slice(0, 120) };
      await eventually('blue to be active (auto-demote)', async () => (await status()).active === 'blue', 30_000);
      const st = await status();
      const row = st.pools.find((p) => p.pool === 'green')!;
      const state = (await run('docker', ['inspect', '-f', '{{.State.Status}}', green])).stdout.trim();
      assert.equal(state, 'exited', 'docker kill is not undone by the restart policy');
      assert.equal(row.healthy, false, 'status does not call an exited container healthy');
      assert.equal(row.runs?.state, 'exited');
    } finally {
      // Back as an operator would bring it: start it again.
      await run('docker', ['start', green]);
    }
    await eventually('green healthy again', async () => (await status()).pools.find((p) => p.pool === 'green')?.healthy === true, 60_000);
  });

  it('chaos pause on the active pool under load: timeouts retried on the backup, 0 failed; chaos stop unpauses', async () => {
    const st = await status();
    const active = st.active;
    const id = await containerOf(active);
    const r = await load('/', 12, () =>
      after1s(async () => {
        const c = await botCli(stack, 'chaos', 'start', active, 'pause', 'for', '2m');
        assert.equal(c.code, 0, c.stdout + c.stderr);
        assert.match(c.result?.status === 'ok' ? c.result.message : '', /Chaos \(pause\) started on/);
      }),
    );
    assert.equal((await run('docker', ['inspect', '-f', '{{.State.Status}}', id])).stdout.trim(), 'paused');
    const retried = (await logLines()).filter((l) => l.uri === '/' && l.upstream_status.includes(', ')).length;
    figures.pause = { ...summary(r), retriedInLog: retried };
    assert.equal(r.failed, 0, JSON.stringify(r.firstFailures));
    assert.ok(retried > 0, 'nginx retried attempts on the backup');
    const stop = await botCli(stack, 'chaos', 'stop', active);
    assert.equal(stop.code, 0, stop.stdout + stop.stderr);
    assert.match(stop.result?.status === 'ok' ? stop.result.message : '', /unpaused/);
    assert.equal((await run('docker', ['inspect', '-f', '{{.State.Status}}', id])).stdout.trim(), 'running');
  });

  it('chaos kill for 5s on the idle pool ends by itself: the bot starts the container again', async () => {
    const idle = (await status()).active === 'blue' ? 'green' : 'blue';
    const id = await containerOf(idle);
    const started = Date.now();
    const c = await botCli(stack, 'chaos', 'start', idle, 'kill', 'for', '5s');
    assert.equal(c.code, 0, c.stdout + c.stderr);
    await eventually(`${idle} running again after its 5 s`, async () => (await run('docker', ['inspect', '-f', '{{.State.Status}}', id])).stdout.trim() === 'running', 30_000);
    figures.killFor5s = { backAfterMs: Date.now() - started };
    await eventually('the chaos record gone', async () => (await status()).pools.every((p) => !p.chaos), 10_000);
  });

  it('chaos loss 30% on the active pool under load: dropped packets retried on the backup, 0 failed; delay is refused on a kernel without netem', async () => {
    const active = (await status()).active;
    const before = (await logLines()).length;
    const r = await load('/', 12, () =>
      after1s(async () => {
        const c = await botCli(stack, 'chaos', 'start', active, 'loss', '30', 'for', '2m');
        assert.equal(c.code, 0, c.stdout + c.stderr);
        assert.match(c.result?.status === 'ok' ? c.result.message : '', /Chaos \(loss 30%\) started on/);
      }),
    );
    const lines = (await logLines()).slice(before).filter((l) => l.uri === '/');
    const retried = lines.filter((l) => l.upstream_status.includes(', ')).length;
    const stop = await botCli(stack, 'chaos', 'stop', active);
    assert.equal(stop.code, 0, stop.stdout + stop.stderr);
    assert.match(stop.result?.status === 'ok' ? stop.result.message : '', /helper\(s\) removed their loss/);
    figures.loss30 = { ...summary(r), retriedInLog: retried };
    assert.equal(r.failed, 0, JSON.stringify(r.firstFailures));
    assert.ok(retried > 0, 'nginx retried attempts whose packets were dropped');
    // The fault is gone with the helper: a burst through nginx is answered by the pool in one try.
    const after = (await logLines()).length;
    for (let i = 0; i < 20; i++) await (await fetch(stack.url('/'))).arrayBuffer();
    const clean = (await logLines()).slice(after).filter((l) => l.uri === '/');
    figures.loss30 = { ...(figures.loss30 as object), afterStopRetried: clean.filter((l) => l.upstream_status.includes(', ')).length };

    const netem = (await run('sh', ['-c', 'test -d /sys/module/sch_netem || modinfo sch_netem >/dev/null 2>&1'])).code === 0;
    const delay = await botCli(stack, 'chaos', 'start', active, 'delay', '200', 'for', '10s');
    if (netem) {
      assert.equal(delay.code, 0, delay.stdout + delay.stderr);
      await botCli(stack, 'chaos', 'stop', active);
    } else {
      assert.equal(delay.result?.status, 'refused', delay.stdout);
      assert.match((delay.result as { reason: string }).reason, /chaos delay cannot run on (blue|green): this kernel cannot delay packets \(tc netem: .*\); delay needs the sch_netem module on the host/);
      figures.delay = 'refused: no netem on this kernel';
    }
  });

  it('a bad release (30% 500s after 50 requests) switched in under load: the guard offers Roll back, a click rolls back, 0 failed', async () => {
    const idle = (await status()).active === 'blue' ? 'green' : 'blue';
    const previous = idle === 'blue' ? 'green' : 'blue';
    const d = await botCli(stack, 'deploy', idle, BAD, 'site-v2-bad');
    assert.equal(d.code, 0, d.stdout + d.stderr);
    const since = (await standIn().state()).now;
    let alert: Call | undefined;
    let switchedAt = 0;
    const r = await load(ANY_APP_WORK_PATH, 25, () =>
      after1s(async () => {
        switchedAt = Date.now();
        const sw = await botCli(stack, 'switch', idle);
        assert.equal(sw.code, 0, sw.stdout + sw.stderr);
        alert = await waitForGuardAlert(stack, since, idle, previous);
        const offeredMs = Date.now() - switchedAt;
        const button = buttonsOf(alert).find((b) => b.action_id === `bg_rollback.${previous}`)!;
        const clicked = Date.now();
        const res = await postSigned({
          url: `http://127.0.0.1:${stack.ports.bot}/slack/events`,
          secret: SECRET,
          body: blockActionBody({ actionId: button.action_id, value: button.value, userId: ADMIN, channelId: ALERTS, messageTs: tsOf(alert), responseUrl: standIn().responseUrl('anyapp-rollback') }),
        });
        assert.equal(res.status, 200);
        await eventually(`${previous} active again`, async () => (await status()).active === previous, 15_000);
        figures.badRelease = { rollBackOfferedMs: offeredMs, clickToRolledBackMs: Date.now() - clicked };
      }),
    );
    figures.badRelease = { ...(figures.badRelease as object), ...summary(r) };
    assert.ok(alert, 'Roll back was offered');
    assert.equal(r.failed, 0, JSON.stringify(r.firstFailures));
    // Each 500 of the bad release was retried: nginx logs the pool and release that answered in the end.
    const retried = (await logLines()).filter((l) => l.uri === ANY_APP_WORK_PATH && l.upstream_status.startsWith('500, '));
    assert.ok(retried.length > 0, 'the bad release failed attempts that nginx retried');
    // Answered by the previous pool, whatever it runs now: nginx names it and its release.
    const previousRelease = (await status()).pools.find((p) => p.pool === previous)?.release;
    assert.deepEqual([...new Set(retried.map((l) => `${l.pool} ${l.release}`))], [`${previous} ${previousRelease}`]);
    (figures.badRelease as Record<string, unknown>).retriedInLog = retried.length;
  });

  it('deploy of v2 to the idle pool and switch under load: 0 failed, the log names the new release', async () => {
    const idle = (await status()).active === 'blue' ? 'green' : 'blue';
    const d = await botCli(stack, 'deploy', idle, V2, 'site-v2');
    assert.equal(d.code, 0, d.stdout + d.stderr);
    const r = await load('/', 10, () =>
      after1s(async () => {
        const sw = await botCli(stack, 'switch', idle);
        assert.equal(sw.code, 0, sw.stdout + sw.stderr);
      }),
    );
    figures.deploySwitch = summary(r);
    assert.equal(r.failed, 0, JSON.stringify(r.firstFailures));
    const res = await fetch(stack.url('/'));
    assert.match(await res.text(), /any-app v2/);
    await eventually('the log to name site-v2', async () => {
      await (await fetch(stack.url('/'))).arrayBuffer();
      const last = (await logLines()).filter((l) => l.uri === '/').at(-1);
      return last?.pool === idle && last.release === 'site-v2';
    });
  });

  it('maintenance page: clients get 503 and the page; the bot still sees both pools healthy; off serves the app again', async () => {
    const on = await botCli(stack, 'maintenance', 'on', 'for', '10m', '--page');
    assert.equal(on.code, 0, on.stdout + on.stderr);
    assert.match(on.result?.status === 'ok' ? on.result.message : '', /nginx serves the maintenance page/);
    const page = await fetch(stack.url('/'), { headers: { accept: 'text/html' } });
    assert.equal(page.status, 503);
    assert.equal(page.headers.get('retry-after'), '300');
    assert.doesNotMatch(await page.text(), /any-app/);
    assert.ok((await status()).pools.every((p) => p.healthy));
    const off = await botCli(stack, 'maintenance', 'off');
    assert.equal(off.code, 0, off.stdout + off.stderr);
    assert.match(off.result?.status === 'ok' ? off.result.message : '', /the pools serve again/);
    assert.equal((await fetch(stack.url('/'))).status, 200);
  });

  it('drill: the app has no chaos endpoint, so the drill pauses it; failover, detection, recovery, 0 failed', async () => {
    const before = (await logLines()).length;
    const drill = await botCli(stack, 'drill');
    if (drill.result?.status !== 'ok') {
      // What nginx did with the drill's traffic, for whoever reads the failure.
      const lines = (await stack.accessLog()).slice(before);
      const tail = lines.filter((_, i) => i % 25 === 0 || i > lines.length - 30).map((l) => {
        const o = JSON.parse(l) as Record<string, unknown>;
        return `${String(o.time)} ${String(o.status)} ${String(o.upstream_addr)} ${String(o.upstream_status)} ${String(o.pool)} ${String(o.request_time)}`;
      });
      const bot = await run('docker', ['logs', '--tail', '60', await serviceContainer(stack.project, 'bot')]);
      assert.fail(`${drill.stdout.slice(0, 3000)}\n${drill.stderr.slice(-2000)}\naccess log:\n${tail.join('\n')}\nbot:\n${bot.stdout.slice(-5000)}`);
    }
    const d = (drill.result as { data: { mode: string; failed: number; requests: number; restoredActive: boolean; timeToFailoverMs?: number; timeToDetectMs?: number; notes: string[] } }).data;
    figures.drill = { mode: d.mode, requests: d.requests, failed: d.failed, timeToFailoverMs: d.timeToFailoverMs, timeToDetectMs: d.timeToDetectMs };
    assert.equal(d.mode, 'pause');
    assert.match(d.notes.join(' '), /serves no chaos endpoint: the drill paused its containers instead/);
    assert.equal(d.failed, 0);
    assert.equal(d.restoredActive, true);
    assert.ok(d.timeToFailoverMs !== undefined && d.timeToDetectMs !== undefined, JSON.stringify(d));
  });
});
