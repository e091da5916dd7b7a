// Deploy control against the real engine and stack: the `bluegreen` CLI inside the bot container
// (as operators run it), and operations built on the host against the published 127.0.0.1 ports.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DeployLayer } from '../../src/deploy/create-deploy-layer.js';
import type { StatusReport } from '../../src/deploy/operations.js';
import { botCli, eventually, hostDeployLayer, servedBy, serviceContainer } from './deploy-host.js';
import { composeCommand, dockerAvailable, run } from './support/docker.js';
import { runLoad } from './support/load.js';
import { chaos, DEMO_IMAGE, ROOT, startStack, type Stack } from './support/stack.js';

const by = { kind: 'cli' as const, id: 'e2e', name: 'e2e' };
const V2_IMAGE = `${DEMO_IMAGE}-v2`;

async function status(stack: Stack): Promise<StatusReport> {
  const r = await botCli(stack, 'status');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.result?.status, 'ok');
  return (r.result as { data: StatusReport }).data;
}

async function botFile(stack: Stack, path: string): Promise<string> {
  const r = await run('docker', ['exec', await serviceContainer(stack.project, 'bot'), 'cat', path]);
  return r.stdout;
}

async function botHealthy(stack: Stack): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${stack.ports.bot}/healthz`);
  await res.arrayBuffer();
  return res.ok;
}

const docker = await dockerAvailable();

describe('deploy control on the real stack', { skip: !docker && 'no Docker engine (start dockerd)', timeout: 900_000 }, () => {
  let stack: Stack;
  let host: DeployLayer;

  before(async () => {
    // The bot's own auto-demote and guard stay off here so each test sees only what it does.
    stack = await startStack({ project: 'bge2e-deploy', env: { AUTO_FAILOVER: 'false', POST_SWITCH_GUARD_SEC: '0' } });
    host = await hostDeployLayer(stack);
  });

  after(async () => {
    await stack?.down();
  });

  it('10 switches back and forth under 200 rps: 0 failed requests, the release header moves', async () => {
    const results: string[] = [];
    const load = await runLoad({
      url: stack.url('/'),
      rate: 200,
      amount: 2000,
      connections: 40,
      during: async () => {
        await new Promise((r) => setTimeout(r, 500));
        for (let i = 0; i < 10; i++) {
          const target = i % 2 === 0 ? 'green' : 'blue';
          const r = await host.ops.switchPool(target, { force: false, by });
          results.push(r.status === 'ok' && r.data?.changed ? `ok:${r.data.to}` : JSON.stringify(r));
          await new Promise((res) => setTimeout(res, 600));
        }
      },
    });
    assert.deepEqual(results, Array.from({ length: 10 }, (_, i) => `ok:${i % 2 === 0 ? 'green' : 'blue'}`));
    assert.equal(load.failed, 0, JSON.stringify(load));
    assert.ok(load.requests >= 1900, `requests: ${load.requests}`);
    assert.ok((load.byRelease['blue-v1'] ?? 0) > 100 && (load.byRelease['green-v1'] ?? 0) > 100, JSON.stringify(load.byRelease));
    assert.equal((await servedBy(stack)).pool, 'blue');
  });

  it('refuses a switch to an unhealthy pool; --force proceeds', async () => {
    await chaos(stack, 'green', 'start', 'error');
    try {
      const refused = await botCli(stack, 'switch', 'green');
      assert.equal(refused.code, 3, refused.stdout + refused.stderr);
      assert.equal(refused.result?.status, 'refused');
      assert.match(refused.result?.status === 'refused' ? refused.result.reason : '', /green is unhealthy \(HTTP 503\).*--force/);
      assert.equal((await servedBy(stack)).pool, 'blue');
      assert.equal((await status(stack)).active, 'blue');

      const forced = await botCli(stack, 'switch', 'green', '--force');
      assert.equal(forced.code, 0, forced.stdout + forced.stderr);
      assert.match(forced.result?.status === 'ok' ? forced.result.message : '', /forced while green is unhealthy/);
      assert.equal((await status(stack)).active, 'green');
      // green answers 500; nginx retries on its backup, so clients still get blue's answers.
      const res = await fetch(stack.url('/'));
      await res.arrayBuffer();
      assert.equal(res.status, 200);
    } finally {
      await chaos(stack, 'green', 'stop');
    }
    await eventually('nginx to serve green once it recovers', async () => (await servedBy(stack)).pool === 'green');
    assert.equal((await botCli(stack, 'switch', 'blue')).code, 0);
  });

  it('serializes 5 concurrent switches: final state consistent, nginx config valid', async () => {
    const targets = ['green', 'blue', 'green', 'blue', 'green'];
    const runs = await Promise.all(targets.map((t) => botCli(stack, 'switch', t)));
    for (const r of runs) assert.equal(r.code, 0, r.stdout + r.stderr);
    const s = await status(stack);
    assert.equal(s.lock, undefined, 'lock released');
    // The CLI's status carries the watcher's figures, asked of the bot process.
    for (const p of s.pools) assert.equal(typeof p.stats?.retried5m, 'number', `${p.pool}: ${JSON.stringify(p.stats)}`);
    const audit = (await botFile(stack, '/var/lib/bluegreen/state/audit.jsonl'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { op: string; result: string; message: string })
      .slice(-5);
    assert.deepEqual(audit.map((a) => `${a.op}:${a.result}`), Array(5).fill('switch:ok'));
    // The last switch that moved traffic is where nginx points, and where requests go.
    assert.equal(s.lastSwitch?.to, s.active);
    assert.equal((await servedBy(stack)).pool, s.active);
    const nginxId = await serviceContainer(stack.project, 'nginx');
    assert.equal((await run('docker', ['exec', nginxId, 'nginx', '-t'])).code, 0);
    assert.equal((await botCli(stack, 'switch', 'blue')).code, 0);
  });

  it('rollback returns to the previous pool, and the state survives a bot restart', async () => {
    assert.equal((await botCli(stack, 'switch', 'green')).code, 0);
    const rb = await botCli(stack, 'rollback');
    assert.equal(rb.code, 0, rb.stdout + rb.stderr);
    assert.match(rb.result?.status === 'ok' ? rb.result.message : '', /Rolled back green -> blue/);
    assert.equal((await servedBy(stack)).pool, 'blue');

    const restart = await stack.compose('restart', '-t', '2', 'bot');
    assert.equal(restart.code, 0, restart.stderr);
    await eventually('the bot to answer again', () => botHealthy(stack));
    const s = await status(stack);
    assert.equal(s.active, 'blue');
    assert.equal(s.previousPool, 'green');
    assert.equal(s.lastSwitch?.kind, 'rollback');

    const again = await botCli(stack, 'rollback');
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal((await servedBy(stack)).pool, 'green');
    assert.equal((await botCli(stack, 'switch', 'blue')).code, 0);
  });

  it('aborts a deploy without touching anything when nginx rejects its config', async () => {
    const nginxId = await serviceContainer(stack.project, 'nginx');
    const greenBefore = await serviceContainer(stack.project, 'app_green');
    await run('docker', ['exec', nginxId, 'sh', '-c', 'cp /etc/nginx/nginx.conf /tmp/good.conf && echo "garbage here;" >> /etc/nginx/nginx.conf']);
    try {
      const r = await botCli(stack, 'deploy', 'green', DEMO_IMAGE, 'green-x');
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.result?.status === 'failed' ? r.result.message : '', /nginx -t failed: \[emerg\] unknown directive "garbage"/);
      assert.equal(await serviceContainer(stack.project, 'app_green'), greenBefore);
      assert.equal((await servedBy(stack)).pool, 'blue', 'nginx still serves');
    } finally {
      await run('docker', ['exec', nginxId, 'cp', '/tmp/good.conf', '/etc/nginx/nginx.conf']);
    }
  });

  it('deploys a new release to the idle pool only; after the switch responses carry it', async () => {
    const tag = await run('docker', ['tag', DEMO_IMAGE, V2_IMAGE]);
    assert.equal(tag.code, 0, tag.stderr);
    const active = await botCli(stack, 'deploy', 'blue', V2_IMAGE, 'blue-v2');
    assert.equal(active.code, 3, active.stdout + active.stderr);

    const d = await botCli(stack, 'deploy', 'green', V2_IMAGE, 'green-v2');
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.match(d.result?.status === 'ok' ? d.result.message : '', /healthy and idle/);
    assert.equal((await servedBy(stack)).release, 'blue-v1', 'deploy does not switch');
    const s = await status(stack);
    const green = s.pools.find((p) => p.pool === 'green');
    assert.equal(green?.runs?.image, V2_IMAGE);
    assert.equal(green?.release, 'green-v2');

    assert.equal((await botCli(stack, 'switch', 'green')).code, 0);
    assert.deepEqual(await servedBy(stack), { pool: 'green', release: 'green-v2' });
    assert.equal((await botCli(stack, 'switch', 'blue')).code, 0);
  });

  it('without Docker (its filter stopped) the bot keeps running and says why', async () => {
    // The bot holds no socket: it reaches Docker through docker-filter (README: Least privilege).
    const base = await composeCommand();
    const compose = (...args: string[]) => run(base[0]!, [...base.slice(1), '-p', stack.project, ...args], { env: stack.env, cwd: ROOT });
    const stop = await compose('stop', 'docker-filter');
    assert.equal(stop.code, 0, stop.stderr);
    try {
      const s = await status(stack);
      assert.equal(s.docker.ok, false);
      assert.match(s.docker.ok === false ? s.docker.error : '', /Docker is not reachable at tcp:\/\/docker-filter:2375.*docker-filter service running/);
      assert.equal(s.active, 'blue');

      const d = await botCli(stack, 'deploy', 'green', DEMO_IMAGE);
      assert.equal(d.code, 1);
      assert.match(d.result?.status === 'failed' ? `${d.result.message} ${d.result.cause}` : '', /Docker is not reachable.*DOCKER_UNAVAILABLE/);
      // A switch needs no Docker: flag files and HTTP.
      assert.equal((await botCli(stack, 'switch', 'green')).code, 0);
      assert.equal((await servedBy(stack)).pool, 'green');
      assert.ok(await botHealthy(stack), 'the bot is still running');
    } finally {
      assert.equal((await compose('start', 'docker-filter')).code, 0);
    }
    await eventually('the bot to reach Docker again through its filter', async () => (await status(stack)).docker.ok, 30_000);
  });
});
