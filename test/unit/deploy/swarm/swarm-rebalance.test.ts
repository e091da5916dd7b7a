import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crowdedNode } from '../../../../src/deploy/swarm/cluster.js';
import { rebalance, type RebalanceOptions } from '../../../../src/deploy/swarm/swarm-rebalance.js';
import { createSpreadKeeper } from '../../../../src/deploy/swarm/swarm-spread-keeper.js';
import { ok, refused } from '../../../../src/shared/op-result.js';
import type { Pool } from '../../../../src/pool.js';
import { captureLogger } from '../fakes.js';
import { clusterSnapshot, FakeSwarm, MANAGER, poolTask, swarmNode, WORKER, type SwarmStep } from './fake-swarm.js';

/** Both blue tasks on the manager, as after a rolling update or a lost worker. */
function crowded(): FakeSwarm {
  const fake = new FakeSwarm();
  fake.state.pools.blue.tasks = [poolTask('blue', 1, { nodeId: MANAGER }), poolTask('blue', 2, { nodeId: MANAGER, address: '10.0.1.40' })];
  return fake;
}

/** Swarm's answer to a scale: up places the new task on `node`; down removes one copy from the node with the most. */
function swarmLike(fake: FakeSwarm, node: string): void {
  fake.onScale = (pool, replicas): SwarmStep[] => [
    (s) => {
      const svc = s.pools[pool];
      const running = svc.tasks.filter((t) => t.desiredState === 'running');
      if (replicas > running.length) svc.tasks.push(poolTask(pool, replicas, { nodeId: node, address: '10.0.1.50' }));
      else {
        const byNode = new Map<string, number>();
        for (const t of running) byNode.set(t.nodeId, (byNode.get(t.nodeId) ?? 0) + 1);
        const most = [...byNode].sort((a, b) => b[1] - a[1])[0]![0];
        const victim = running.filter((t) => t.nodeId === most).at(-1)!;
        victim.desiredState = 'shutdown';
      }
    },
  ];
}

function opts(fake: FakeSwarm, over: Partial<RebalanceOptions> = {}) {
  let t = 0;
  const said: string[] = [];
  const o: RebalanceOptions = { control: fake, serves: async () => true, timeoutMs: 30_000, pollMs: 1000, say: (l) => said.push(l), now: () => t, sleep: async (ms) => void (t += ms), ...over };
  return { o, said };
}

describe('crowdedNode', () => {
  it('the node all of a pool’s serving tasks sit on, only when another node could take one', () => {
    const fake = crowded();
    assert.equal(crowdedNode(fake.state, fake.state.pools.blue), MANAGER);
    assert.equal(crowdedNode(fake.state, fake.state.pools.green), undefined, 'one task on each node');
    fake.state.nodes = [swarmNode(MANAGER), swarmNode(WORKER, { state: 'down' })];
    assert.equal(crowdedNode(fake.state, fake.state.pools.blue), undefined, 'nowhere else to go');
    fake.state.nodes = [swarmNode(MANAGER), swarmNode(WORKER, { availability: 'drain' })];
    assert.equal(crowdedNode(fake.state, fake.state.pools.blue), undefined);
    const one = clusterSnapshot({ blue: 1, green: 2 });
    assert.equal(crowdedNode(one, one.pools.blue), undefined, 'a single task cannot be spread');
  });
});

describe('rebalance: one task more, placed by Swarm on the emptier node, then one less', () => {
  it('moves a task to the other node without ever running fewer than before', async () => {
    const fake = crowded();
    swarmLike(fake, WORKER);
    const served: string[] = [];
    const { o, said } = opts(fake, { serves: async (t) => (served.push(t.name), served.length >= 2) });
    const r = await rebalance('blue', o);
    assert.equal(r.kind, 'moved');
    assert.deepEqual(fake.calls, ['scale blue 3', 'scale blue 2']);
    assert.equal(served.length, 2, 'waited until nginx served the new task before removing one');
    const nodes = r.snapshot.pools.blue.tasks.filter((t) => t.desiredState === 'running').map((t) => t.nodeId).sort();
    assert.deepEqual(nodes, [MANAGER, WORKER].sort());
    assert.match(said[0] ?? '', /^blue: all 2 serving tasks run on mgr \(mgr0a1\); adding one on another node/);
    if (r.kind === 'moved') assert.deepEqual([r.from, r.to], ['mgr (mgr0a1)', 'wrk (wrk9f8)']);
  });

  it('nothing to do when spread', async () => {
    const fake = new FakeSwarm();
    const r = await rebalance('blue', opts(fake).o);
    assert.equal(r.kind, 'spread');
    assert.deepEqual(fake.calls, []);
  });

  it('Swarm places the extra task on the same node (constraints): back to as many as before, and why', async () => {
    const fake = crowded();
    swarmLike(fake, MANAGER);
    const r = await rebalance('blue', opts(fake).o);
    assert.equal(r.kind, 'failed');
    if (r.kind === 'failed') assert.match(r.why, /Swarm placed the extra task on mgr \(mgr0a1\) too/);
    assert.deepEqual(fake.calls, ['scale blue 3', 'scale blue 2']);
  });

  it('the extra task never serves: back to as many as before at the deadline', async () => {
    const fake = crowded();
    swarmLike(fake, WORKER);
    const r = await rebalance('blue', opts(fake, { serves: async () => false, timeoutMs: 5000 }).o);
    assert.equal(r.kind, 'failed');
    if (r.kind === 'failed') assert.equal(r.why, 'the extra task did not serve within 5 s');
    assert.deepEqual(fake.calls, ['scale blue 3', 'scale blue 2']);
  });
});

describe('the spread keeper', () => {
  function keeper(over: { busy?: boolean; result?: 'ok' | 'refused' } = {}) {
    let t = 0;
    const asked: Pool[] = [];
    const k = createSpreadKeeper({
      rebalance: async (pool) => (asked.push(pool), over.result === 'refused' ? refused('no') : ok('moved')),
      busy: async () => over.busy ?? false,
      afterMs: 10_000,
      retryMs: 60_000,
      log: captureLogger().log,
      now: () => t,
    });
    return { k, asked, at: (ms: number) => (t = ms) };
  }

  it('spreads a pool that stayed on one node for afterMs, once', async () => {
    const { k, asked, at } = keeper();
    const snap = crowded().state;
    k.observe(snap);
    at(9_000);
    k.observe(snap);
    assert.deepEqual(asked, [], 'a node just back settles first');
    at(10_000);
    k.observe(snap);
    k.observe(snap);
    await k.idle();
    assert.deepEqual(asked, ['blue']);
  });

  it('not while Swarm moves the tasks itself (an update), nor while another operation holds the lock', async () => {
    const busy = keeper({ busy: true });
    const snap = crowded().state;
    busy.k.observe(snap);
    busy.at(20_000);
    busy.k.observe(snap);
    await busy.k.idle();
    assert.deepEqual(busy.asked, []);
    const updating = keeper();
    snap.pools.blue.update = { state: 'updating', message: undefined, startedAt: undefined, completedAt: undefined };
    updating.k.observe(snap);
    updating.at(20_000);
    updating.k.observe(snap);
    await updating.k.idle();
    assert.deepEqual(updating.asked, []);
  });

  it('a rebalance that did not work is not tried again before retryMs', async () => {
    const { k, asked, at } = keeper({ result: 'refused' });
    const snap = crowded().state;
    k.observe(snap);
    at(10_000);
    k.observe(snap);
    await k.idle();
    at(30_000);
    k.observe(snap);
    await k.idle();
    assert.deepEqual(asked, ['blue']);
    at(71_000);
    k.observe(snap);
    await k.idle();
    assert.deepEqual(asked, ['blue', 'blue']);
  });
});
