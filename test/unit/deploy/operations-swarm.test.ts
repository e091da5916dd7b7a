import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BluegreenError } from '../../../src/errors.js';
import type { OperationsDeps, OperationsSettings } from '../../../src/deploy/operations.js';
import { createSwarmEngine } from '../../../src/deploy/swarm/swarm-engine.js';
import { alice, harness } from './fakes.js';
import { FakeSwarm, poolTask, replaceTasks, updateState } from './swarm/fake-swarm.js';

// The operations' Swarm branches (issue #13), with a swarm in memory. blue is active throughout.

const V2 = 'bluegreen-demo-app:v2';
const NOW = '2025-01-01T10:00:00Z';
const ROLLBACK_WHY = 'update rolled back due to failure or early termination of task k2x9q0w8e7r6t5y4u3i2o1p0a';
const SETTINGS: OperationsSettings = { envName: 'test', healthTimeoutMs: 100, verifyTimeoutMs: 100, deployHealthTimeoutMs: 1000, maintenanceDefaultMs: 3_600_000, chaosDefaultMs: 300_000, chaosMaxMs: 1_800_000, releaseIds: {} };

async function swarmHarness(over: Partial<OperationsDeps> = {}) {
  const fake = new FakeSwarm();
  const h = await harness({
    engineOf: ({ nginx, settings, log }) =>
      createSwarmEngine({
        control: fake,
        nginx,
        appPort: 3000,
        adminPort: 3001,
        health: { path: '/healthz' },
        syncMs: 1000,
        pollMs: 1,
        healthTimeoutMs: settings.healthTimeoutMs,
        deployHealthTimeoutMs: settings.deployHealthTimeoutMs,
        log,
        probeTask: async () => ({ outcome: 'healthy', status: 200, ms: 1, detail: '200 in 1 ms' }),
        serves: async () => true,
      }),
    ...over,
  });
  return { ...h, fake };
}

const message = (r: { status: string; message?: string; reason?: string }) => (r.status === 'refused' ? r.reason : r.message) ?? '';

describe('status in Swarm mode', () => {
  it("each pool's service: desired, serving per node, tasks; the release from the service's spec; the stack as the project", async () => {
    const h = await swarmHarness({ settings: { ...SETTINGS, releaseIds: { green: 'configured-green' } } });
    h.fake.state.pools.green.release = 'green-v7';
    h.fake.state.pools.green.desired = 3;
    h.fake.state.pools.green.tasks.push(poolTask('green', 3, { state: 'pending', address: undefined, error: 'no suitable node (scheduling constraints not satisfied on 2 nodes)' }));
    const r = await h.ops.status();
    assert.equal(r.status, 'ok');
    const report = r.status === 'ok' ? r.data : undefined;
    assert.deepEqual(report?.docker, { ok: true, project: 'bg' });
    const green = report?.pools.find((p) => p.pool === 'green');
    assert.equal(green?.release, 'green-v7');
    assert.equal(green?.runs?.unit, 'service bg_app_green');
    assert.equal(green?.runs?.desired, 3);
    assert.equal(green?.runs?.running, 2);
    assert.equal(green?.runs?.state, '2/3 running');
    assert.equal(green?.runs?.perNode, 'mgr (mgr0a1): 1, wrk (wrk9f8): 1');
    assert.match(green?.runs?.notRunning.at(-1) ?? '', /bg_app_green\.3 on mgr \(mgr0a1\) pending: no suitable node \(scheduling constraints not satisfied on 2 nodes\)$/);
    assert.equal(report?.pools.find((p) => p.pool === 'blue')?.release, 'blue-v1');
    assert.ok(!h.engine.calls.some((c) => c.startsWith('list')), 'Compose containers are not looked for');
  });

  it('a swarm it cannot read: status still answers, and names the problem', async () => {
    const h = await swarmHarness();
    h.fake.down = new BluegreenError('DOCKER_UNAVAILABLE', 'This node is not a swarm manager: Swarm mode needs the Docker socket of a swarm manager');
    const r = await h.ops.status();
    assert.equal(r.status, 'ok');
    const report = r.status === 'ok' ? r.data : undefined;
    assert.equal(report?.docker.ok, false);
    assert.match(report?.docker.ok === false ? report.docker.error : '', /not a swarm manager/);
    assert.equal(report?.pools[0]?.runs, undefined);
  });

  it("a switch names the release of the service's spec", async () => {
    const h = await swarmHarness();
    h.fake.state.pools.green.release = 'green-v3';
    const r = await h.ops.switchPool('green', { force: false, by: alice });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    assert.equal(r.status === 'ok' ? r.data?.release : undefined, 'green-v3');
  });
});

describe('deploy in Swarm mode', () => {
  it("the idle pool: Swarm's rolling update followed to completed; the release recorded; nothing pulled here", async () => {
    const h = await swarmHarness();
    h.fake.onUpdate = (pool) => [updateState(pool, 'updating', NOW), (s) => (replaceTasks(pool)(s), updateState(pool, 'completed', NOW)(s))];
    const steps: string[] = [];
    const r = await h.ops.deploy('green', V2, { releaseId: 'green-v2', by: alice, progress: (s) => steps.push(s) });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    assert.equal(
      message(r),
      `Deployed ${V2} (release green-v2) to green: Swarm's rolling update completed, 2 of 2 tasks running (mgr (mgr0a1): 1, wrk (wrk9f8): 1); it is idle. Switch to it with: switch green`,
    );
    assert.deepEqual(r.status === 'ok' ? r.data : undefined, { container: 'bg_app_green', release: 'green-v2' });
    assert.deepEqual(h.fake.calls, [`update green ${V2} {"RELEASE_ID":"green-v2"}`]);
    const rec = (await h.store.read()).releases.green;
    assert.deepEqual(rec && { image: rec.image, releaseId: rec.releaseId, by: rec.by.id }, { image: V2, releaseId: 'green-v2', by: 'alice' });
    assert.ok(!h.engine.calls.some((c) => c.startsWith('pull')), h.engine.calls.join('\n'));
    assert.equal(steps[0], 'nginx config test passed');
    assert.match(steps[1] ?? '', /^Swarm is updating bg_app_green to bluegreen-demo-app:v2: 2 tasks/);
    assert.equal(steps.at(-1), `completed: 2 of 2 running tasks on ${V2}, 2 healthy`);
    assert.equal(h.nginx.active, 'blue', 'deploy never moves traffic');
    assert.deepEqual((await h.store.readAudit()).map((a) => [a.op, a.result]), [['deploy', 'ok']]);
  });

  it("rolled back by Swarm: failed, with Swarm's reason and the task's error; nothing recorded", async () => {
    const h = await swarmHarness();
    h.fake.onUpdate = (pool) => [
      updateState(pool, 'updating', NOW),
      updateState(pool, 'rollback_started', NOW, ROLLBACK_WHY),
      (s) => {
        const svc = s.pools[pool];
        svc.image = 'bluegreen-demo-app:local';
        svc.release = 'green-v1';
        // Slot 2 is still being started again after its new task failed.
        svc.tasks = [
          poolTask(pool, 1),
          poolTask(pool, 2, { state: 'starting' }),
          poolTask(pool, 2, { state: 'failed', desiredState: 'shutdown', image: V2, error: 'task: non-zero exit (1)' }),
        ];
        updateState(pool, 'rollback_completed', NOW, 'rollback completed')(s);
      },
    ];
    const r = await h.ops.deploy('green', V2, { releaseId: 'green-v2', by: alice });
    assert.equal(r.status, 'failed', JSON.stringify(r));
    assert.equal(
      message(r),
      `deploy of ${V2} to green failed: Swarm rolled the update back (${ROLLBACK_WHY}; rollback completed; bg_app_green.2: task: non-zero exit (1)); green runs bluegreen-demo-app:local (release green-v1) again, 1 of 2 tasks running (mgr (mgr0a1): 1); blue served throughout`,
    );
    assert.equal(r.status === 'failed' ? r.cause : undefined, 'docker service ps bg_app_green --no-trunc');
    assert.equal((await h.store.read()).releases.green, undefined);
    assert.deepEqual((await h.store.readAudit()).map((a) => [a.op, a.result]), [['deploy', 'failed']]);
  });

  it('paused by Swarm: failed, says how to roll it back by hand', async () => {
    const h = await swarmHarness();
    h.fake.onUpdate = (pool) => [updateState(pool, 'updating', NOW), updateState(pool, 'paused', NOW, 'update paused due to failure or early termination of task k2x9')];
    const r = await h.ops.deploy('green', V2, { by: alice });
    assert.equal(r.status, 'failed');
    assert.match(message(r), /^deploy of bluegreen-demo-app:v2 to green stopped: Swarm paused the update \(update paused due to failure or early termination of task k2x9\); 2 of 2 tasks running .*; blue keeps serving$/);
    assert.match(r.status === 'failed' ? String(r.cause) : '', /docker service rollback bg_app_green/);
  });

  it('not ended in time: failed, says the update was never started rather than an earlier one\'s state', async () => {
    const h = await swarmHarness({ settings: { ...SETTINGS, deployHealthTimeoutMs: 10 } });
    h.fake.state.pools.green.update = { state: 'completed', message: 'update completed', startedAt: '2025-01-01T09:00:00Z', completedAt: '2025-01-01T09:00:00Z' };
    const r = await h.ops.deploy('green', V2, { by: alice });
    assert.equal(r.status, 'failed');
    assert.match(message(r), /did not end within 0 s \(update not started\); Swarm goes on with it/);
    h.fake.onUpdate = (pool) => [updateState(pool, 'updating', NOW)];
    const again = await h.ops.deploy('green', V2, { by: alice });
    assert.match(message(again), /\(update updating\)/);
  });

  it('the active pool is refused, and Swarm is not asked', async () => {
    const h = await swarmHarness();
    const r = await h.ops.deploy('blue', V2, { by: alice });
    assert.equal(r.status, 'refused');
    assert.match(message(r), /blue is the active pool; deploy goes to the idle pool \(green\)/);
    assert.deepEqual(h.fake.calls, []);
  });

  it('an nginx config nginx already rejects stops the deploy before Swarm changes anything', async () => {
    const h = await swarmHarness();
    h.nginx.configError = new BluegreenError('NGINX_CONFIG_INVALID', 'nginx -t failed: [emerg] unknown directive');
    const r = await h.ops.deploy('green', V2, { by: alice });
    assert.equal(r.status, 'failed');
    assert.deepEqual(h.fake.calls, []);
  });
});

describe('scale', () => {
  it('sets the replicas and answers when they run, with the count per node', async () => {
    const h = await swarmHarness();
    const r = await h.ops.scale('green', 3, { force: false, by: alice });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    assert.equal(message(r), 'Scaled green from 2 to 3: 3 of 3 tasks running (mgr (mgr0a1): 2, wrk (wrk9f8): 1)');
    assert.deepEqual(r.status === 'ok' ? r.data : undefined, { pool: 'green', previous: 2, desired: 3, running: 3, perNode: { 'mgr (mgr0a1)': 2, 'wrk (wrk9f8)': 1 } });
    const audit = await h.store.readAudit();
    assert.deepEqual(audit.map((a) => [a.op, a.result, a.args]), [['scale', 'ok', { pool: 'green', replicas: 3, force: false }]]);
  });

  it('is refused under Compose: each pool is one container', async () => {
    const h = await harness();
    const r = await h.ops.scale('green', 3, { force: false, by: alice });
    assert.equal(r.status, 'refused');
    assert.match(message(r), /^scale needs Swarm mode/);
  });

  it('the active pool to 0 is refused unless forced; the idle pool to 0 is not', async () => {
    const h = await swarmHarness();
    const r = await h.ops.scale('blue', 0, { force: false, by: alice });
    assert.equal(r.status, 'refused');
    assert.match(message(r), /blue is the active pool: with 0 tasks every request would go to the backup green/);
    assert.deepEqual(h.fake.calls, []);
    const forced = await h.ops.scale('blue', 0, { force: true, by: alice });
    assert.equal(forced.status, 'ok', JSON.stringify(forced));
    assert.equal(forced.status === 'ok' ? forced.data?.running : undefined, 0);
    assert.equal(message(forced), 'Scaled blue from 2 to 0: 0 running (none)');
    const idle = await h.ops.scale('green', 0, { force: false, by: alice });
    assert.equal(idle.status, 'ok');
    assert.deepEqual(h.fake.calls, ['scale blue 0', 'scale green 0']);
  });

  it("not running in time: failed, quoting the tasks' errors", async () => {
    const h = await swarmHarness({ settings: { ...SETTINGS, deployHealthTimeoutMs: 10 } });
    h.fake.onScale = (pool) => [(s) => s.pools[pool].tasks.push(poolTask(pool, 3, { state: 'pending', address: undefined, error: 'no suitable node (scheduling constraints not satisfied on 2 nodes)' }))];
    const r = await h.ops.scale('green', 3, { force: false, by: alice });
    assert.equal(r.status, 'failed', JSON.stringify(r));
    assert.equal(
      message(r),
      'Scaled green from 2 to 3, but 2 of 3 run after 0 s (mgr (mgr0a1): 1, wrk (wrk9f8): 1): bg_app_green.3: no suitable node (scheduling constraints not satisfied on 2 nodes); Swarm keeps trying',
    );
    assert.equal(r.status === 'failed' ? r.cause : undefined, 'docker service ps bg_app_green --no-trunc');
  });

  it('a swarm that cannot be reached: failed with the reason, not thrown', async () => {
    const h = await harness({
      engine: async () => {
        throw new BluegreenError('DOCKER_UNAVAILABLE', 'Docker is not reachable at /var/run/docker.sock (ENOENT)');
      },
    });
    const r = await h.ops.scale('green', 3, { force: false, by: alice });
    assert.equal(r.status, 'failed');
    assert.match(message(r), /^scale failed: Docker is not reachable/);
  });
});
