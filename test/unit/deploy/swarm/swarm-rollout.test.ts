import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rollOut, scaleTo, taskErrors, type RolloutOptions } from '../../../../src/deploy/swarm/swarm-rollout.js';
import { clusterSnapshot, FakeSwarm, poolTask, replaceTasks, updateState, WORKER, type SwarmStep } from './fake-swarm.js';
import type { PoolTask } from '../../../../src/deploy/swarm/cluster.js';
import type { HttpProbe } from '../../../../src/deploy/pools/probe-http.js';

const V2 = 'bluegreen-demo-app:v2';
const EARLIER = '2025-01-01T09:00:00Z';
const NOW = '2025-01-01T10:00:00Z';
// Swarm's own words (swarmkit's updater), as `docker service update` prints them.
const ROLLBACK_WHY = 'update rolled back due to failure or early termination of task k2x9q0w8e7r6t5y4u3i2o1p0a';
const PAUSE_WHY = 'update paused due to failure or early termination of task k2x9q0w8e7r6t5y4u3i2o1p0a';

/** A clock that only moves when the code under test sleeps: a deadline is reached in no time. */
function follow(fake: FakeSwarm, over: Partial<RolloutOptions> = {}) {
  let t = 0;
  const said: string[] = [];
  const opts: RolloutOptions = {
    control: fake,
    timeoutMs: 60_000,
    pollMs: 1000,
    say: (line) => said.push(line),
    now: () => t,
    sleep: async (ms) => {
      t += ms;
    },
    ...over,
  };
  return { opts, said, elapsed: () => t };
}

/** Step: the task of `slot` replaced by one on the service's current image. */
const replaceSlot =
  (slot: number): SwarmStep =>
  (s) => {
    const svc = s.pools.blue;
    svc.tasks = svc.tasks.map((t) => (t.slot === slot ? poolTask('blue', slot, { image: svc.image, release: svc.release }) : t));
  };
const nothing: SwarmStep = () => undefined;

describe('rollOut: a Swarm rolling update followed to its end', () => {
  it('completed: says each change once, returns the new tasks, sends the image and env', async () => {
    const fake = new FakeSwarm();
    fake.onUpdate = () => [updateState('blue', 'updating', NOW), nothing, replaceSlot(1), nothing, nothing, (s) => (replaceTasks('blue')(s), updateState('blue', 'completed', NOW)(s))];
    const f = follow(fake);
    const r = await rollOut('blue', V2, { RELEASE_ID: 'blue-v2' }, f.opts);
    assert.equal(r.kind, 'completed');
    assert.equal(r.update?.startedAt, NOW);
    assert.deepEqual(fake.calls, [`update blue ${V2} {"RELEASE_ID":"blue-v2"}`]);
    assert.deepEqual(
      r.snapshot.pools.blue.tasks.map((t) => [t.image, t.release]),
      [
        [V2, 'blue-v2'],
        [V2, 'blue-v2'],
      ],
    );
    assert.deepEqual(f.said, [
      `Swarm is updating bg_app_blue to ${V2}: 2 tasks, one at a time, each new one healthy before an old one stops`,
      `updating: 0 of 2 running tasks on ${V2}`,
      `updating: 1 of 2 running tasks on ${V2}`,
      `completed: 2 of 2 running tasks on ${V2}`,
    ]);
  });

  it('the status an earlier update left (same startedAt) is not taken for the end of this one', async () => {
    const fake = new FakeSwarm();
    fake.state.pools.blue.update = { state: 'completed', message: 'update completed', startedAt: EARLIER, completedAt: EARLIER };
    // Swarm takes a few reads to write the new update's status.
    fake.onUpdate = () => [nothing, nothing, updateState('blue', 'updating', NOW), (s) => (replaceTasks('blue')(s), updateState('blue', 'completed', NOW)(s))];
    const f = follow(fake);
    const r = await rollOut('blue', V2, {}, f.opts);
    assert.equal(r.kind, 'completed');
    assert.equal(r.update?.startedAt, NOW);
    assert.equal(fake.snapshots, 5, 'one read before the update, then until this update completed');
    assert.ok(!f.said.some((l) => l.includes('update completed')), f.said.join('\n'));
  });

  it('an earlier update that ends meanwhile (its state changes, its startedAt does not) is not taken for this one', async () => {
    const fake = new FakeSwarm();
    // A deploy that timed out left Swarm updating; this one supersedes it.
    fake.state.pools.blue.update = { state: 'updating', message: undefined, startedAt: EARLIER, completedAt: undefined };
    fake.onUpdate = () => [updateState('blue', 'completed', EARLIER), updateState('blue', 'updating', NOW), (s) => (replaceTasks('blue')(s), updateState('blue', 'completed', NOW)(s))];
    const f = follow(fake);
    const r = await rollOut('blue', V2, {}, f.opts);
    assert.equal(r.kind, 'completed');
    assert.equal(r.update?.startedAt, NOW);
    assert.equal(r.snapshot.pools.blue.tasks[0]?.image, V2);
  });

  it("rolled back: Swarm's reason for the rollback is kept, not only its final 'rollback completed'", async () => {
    const fake = new FakeSwarm();
    fake.onUpdate = () => [
      updateState('blue', 'updating', NOW),
      updateState('blue', 'rollback_started', NOW, ROLLBACK_WHY),
      (s) => {
        // Swarm puts the previous spec back.
        s.pools.blue.image = 'bluegreen-demo-app:local';
        s.pools.blue.release = 'blue-v1';
        updateState('blue', 'rollback_completed', NOW, 'rollback completed')(s);
      },
    ];
    const f = follow(fake);
    const r = await rollOut('blue', V2, {}, f.opts);
    assert.equal(r.kind, 'rolled_back');
    assert.equal(r.update?.state, 'rollback_completed');
    assert.match(String(r.update?.message), new RegExp(ROLLBACK_WHY));
    assert.ok(f.said.includes(`rollback_started: 0 of 2 running tasks on ${V2} (${ROLLBACK_WHY})`), f.said.join('\n'));
    assert.equal(r.snapshot.pools.blue.image, 'bluegreen-demo-app:local');
  });

  it('paused, and a paused rollback, end the follow with Swarm\'s message', async () => {
    for (const state of ['paused', 'rollback_paused']) {
      const fake = new FakeSwarm();
      fake.onUpdate = () => [updateState('blue', 'updating', NOW), updateState('blue', state, NOW, PAUSE_WHY)];
      const r = await rollOut('blue', V2, {}, follow(fake).opts);
      assert.equal(r.kind, 'paused', state);
      assert.equal(r.update?.state, state);
      assert.equal(r.update?.message, PAUSE_WHY);
    }
  });

  it('times out at the deadline, polling every pollMs, while Swarm is still updating', async () => {
    const fake = new FakeSwarm();
    fake.onUpdate = () => [updateState('blue', 'updating', NOW)];
    const f = follow(fake, { timeoutMs: 5000 });
    const r = await rollOut('blue', V2, {}, f.opts);
    assert.equal(r.kind, 'timeout');
    assert.equal(r.update?.state, 'updating');
    assert.equal(f.elapsed(), 5000);
    assert.equal(fake.snapshots, 6);
    assert.equal(f.said.filter((l) => l.startsWith('updating')).length, 1, 'an unchanged state is said once');
  });

  it('a timeout before Swarm wrote this update\'s status does not report the earlier one\'s', async () => {
    const fake = new FakeSwarm();
    fake.state.pools.blue.update = { state: 'completed', message: 'update completed', startedAt: EARLIER, completedAt: EARLIER };
    const r = await rollOut('blue', V2, {}, follow(fake, { timeoutMs: 3000 }).opts);
    assert.equal(r.kind, 'timeout');
    assert.equal(r.update, undefined);
  });

  it('0 replicas: nothing to replace, and Swarm may never write a status: completed at the first read', async () => {
    const fake = new FakeSwarm(clusterSnapshot({ blue: 0, green: 2 }));
    const f = follow(fake);
    const r = await rollOut('blue', V2, {}, f.opts);
    assert.equal(r.kind, 'completed');
    assert.equal(r.snapshot.pools.blue.image, V2);
    assert.match(f.said[0] ?? '', /0 tasks, one at a time/);
    assert.equal(fake.snapshots, 2);
  });
});

describe("rollOut with the bot's health gate (the pools run no health check of their own)", () => {
  /** Probes answer by task address; healthy unless said. */
  const gate = (answers: Map<string, HttpProbe>, timeoutMs = 5000) => ({
    timeoutMs,
    probe: async (t: PoolTask) => answers.get(t.address ?? '') ?? { outcome: 'healthy' as const, detail: 'HTTP 200', ms: 1 },
  });
  const bad: HttpProbe = { outcome: 'unhealthy', status: 500, detail: 'HTTP 500', ms: 1 };

  it('completed only once every new task passed: Swarm finishing first is not enough', async () => {
    const fake = new FakeSwarm();
    fake.onUpdate = () => [updateState('blue', 'updating', NOW), (s) => (replaceTasks('blue')(s), updateState('blue', 'completed', NOW)(s))];
    const answers = new Map<string, HttpProbe>();
    let reads = 0;
    const f = follow(fake, { health: gate(answers) });
    // The new tasks answer 503 while they warm up, then 200.
    const probe = f.opts.health!.probe;
    f.opts.health!.probe = async (t) => (++reads <= 4 ? { outcome: 'unhealthy', status: 503, detail: 'HTTP 503', ms: 1 } : probe(t));
    const r = await rollOut('blue', V2, {}, f.opts);
    assert.equal(r.kind, 'completed');
    assert.ok(f.said.some((l) => l === `completed: 2 of 2 running tasks on ${V2}, 0 healthy`), f.said.join('\n'));
    assert.equal(f.said.at(-1), `completed: 2 of 2 running tasks on ${V2}, 2 healthy`);
    assert.match(f.said[0] ?? '', /each new task healthy \(checked by the bot\) before it counts/);
  });

  it('a new task that never passes: the bot asks Swarm to roll back, and says why', async () => {
    const fake = new FakeSwarm();
    fake.onUpdate = () => [updateState('blue', 'updating', NOW), (s) => (replaceTasks('blue')(s), updateState('blue', 'completed', NOW)(s))];
    fake.onRollback = () => [
      updateState('blue', 'rollback_started', NOW, 'manually requested rollback'),
      (s) => {
        s.pools.blue.image = 'bluegreen-demo-app:local';
        replaceTasks('blue')(s);
        updateState('blue', 'rollback_completed', NOW, 'rollback completed')(s);
      },
    ];
    const answers = new Map<string, HttpProbe>([['10.0.1.11', bad], ['10.0.1.12', bad]]);
    const f = follow(fake, { health: gate(answers, 5000) });
    const r = await rollOut('blue', V2, {}, f.opts);
    assert.equal(r.kind, 'rolled_back');
    assert.deepEqual(fake.calls, [`update blue ${V2} {}`, 'rollback blue']);
    assert.match(String(r.update?.message), /^the bot rolled the update back: bg_app_blue\.1 did not pass its health check within 5 s of starting \(last: HTTP 500\); rollback completed$/);
    assert.ok(f.elapsed() >= 5000, 'the task had its whole deadline');
    assert.equal(r.snapshot.pools.blue.image, 'bluegreen-demo-app:local');
  });
});

describe('scaleTo', () => {
  it('done when exactly the replicas serve and no more are wanted; says each change of the count', async () => {
    const fake = new FakeSwarm();
    fake.onScale = () => [
      (s) => s.pools.blue.tasks.push(poolTask('blue', 3, { state: 'starting', nodeId: WORKER })),
      (s) => {
        const t = s.pools.blue.tasks.find((x) => x.slot === 3);
        if (t) t.state = 'running';
      },
    ];
    const f = follow(fake);
    const r = await scaleTo('blue', 3, f.opts);
    assert.equal(r.kind, 'done');
    assert.equal(r.previous, 2);
    assert.deepEqual(fake.calls, ['scale blue 3']);
    assert.deepEqual(f.said, ['Swarm asked for 3 blue tasks (was 2)', '2 of 3 running (mgr (mgr0a1): 1, wrk (wrk9f8): 1)', '3 of 3 running (mgr (mgr0a1): 1, wrk (wrk9f8): 2)']);
  });

  it('not done while a task Swarm still wants is on its way, though the count already matches', async () => {
    const fake = new FakeSwarm(clusterSnapshot({ blue: 3, green: 2 }));
    fake.onScale = () => [
      // Slot 3 crashed and its replacement starts: 2 serve, but Swarm still wants 3 tasks.
      (s) => {
        const t = s.pools.blue.tasks.find((x) => x.slot === 3);
        if (t) t.state = 'starting';
      },
      (s) => (s.pools.blue.tasks = s.pools.blue.tasks.filter((x) => x.slot !== 3)),
    ];
    const r = await scaleTo('blue', 2, follow(fake).opts);
    assert.equal(r.kind, 'done');
    assert.equal(fake.snapshots, 2);
  });

  it('to 0: done when no task is left', async () => {
    const fake = new FakeSwarm();
    const f = follow(fake);
    const r = await scaleTo('green', 0, f.opts);
    assert.equal(r.kind, 'done');
    assert.deepEqual(f.said, ['Swarm asked for 0 green tasks (was 2)', '0 of 0 running (none)']);
  });

  it('times out while a task cannot be placed, and its error is what a failed scale quotes', async () => {
    const fake = new FakeSwarm();
    fake.onScale = () => [(s) => s.pools.blue.tasks.push(poolTask('blue', 3, { state: 'pending', address: undefined, error: 'no suitable node (scheduling constraints not satisfied on 2 nodes)' }))];
    const f = follow(fake, { timeoutMs: 4000 });
    const r = await scaleTo('blue', 3, f.opts);
    assert.equal(r.kind, 'timeout');
    assert.equal(f.elapsed(), 4000);
    assert.equal(f.said.length, 2, f.said.join('\n'));
    assert.deepEqual(taskErrors(r.snapshot, 'blue'), ['bg_app_blue.3: no suitable node (scheduling constraints not satisfied on 2 nodes)']);
  });
});

describe('taskErrors', () => {
  it('quotes at most three task errors, with the task name', () => {
    const snap = clusterSnapshot({ blue: 0, green: 0 });
    snap.pools.blue.tasks = [1, 2, 3, 4].map((slot) => poolTask('blue', slot, { state: 'rejected', desiredState: 'shutdown', error: `No such image: x:${slot}` }));
    snap.pools.blue.tasks.push(poolTask('blue', 5));
    assert.deepEqual(taskErrors(snap, 'blue'), ['bg_app_blue.1: No such image: x:1', 'bg_app_blue.2: No such image: x:2', 'bg_app_blue.3: No such image: x:3']);
    assert.deepEqual(taskErrors(snap, 'green'), []);
  });
});
