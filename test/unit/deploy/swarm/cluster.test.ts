import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describePerNode, nodeLabel, servingTasks, swarmPoolStatus, tasksPerNode } from '../../../../src/deploy/swarm/cluster.js';
import { clusterSnapshot, MANAGER, poolTask, swarmNode, WORKER } from './fake-swarm.js';

describe('servingTasks: the tasks nginx may send requests to', () => {
  it('keeps running tasks Swarm wants running, on a ready node, with an address', () => {
    const snap = clusterSnapshot({ blue: 0, green: 0 });
    const serving = poolTask('blue', 1);
    snap.pools.blue.tasks = [
      serving,
      poolTask('blue', 2, { state: 'starting' }),
      // Being replaced: still running, but Swarm stops it (rolling update, scale down).
      poolTask('blue', 3, { desiredState: 'shutdown' }),
      poolTask('blue', 4, { address: undefined }),
      poolTask('blue', 5, { state: 'failed', desiredState: 'shutdown', error: 'task: non-zero exit (1)' }),
    ];
    assert.deepEqual(servingTasks(snap, snap.pools.blue), [serving]);
  });

  it('drops the tasks of a node that is down, though Swarm still says they run', () => {
    const snap = clusterSnapshot({ blue: 2, green: 0 });
    snap.nodes = [swarmNode(MANAGER), swarmNode(WORKER, { state: 'down' })];
    assert.deepEqual(
      servingTasks(snap, snap.pools.blue).map((t) => t.nodeId),
      [MANAGER],
    );
    // A task on a node Swarm does not list at all is not trusted either.
    snap.nodes = [swarmNode(WORKER)];
    assert.deepEqual(
      servingTasks(snap, snap.pools.blue).map((t) => t.nodeId),
      [WORKER],
    );
  });
});

describe('per-node figures', () => {
  it('labels nodes by host name and id start, since two engines on one machine share a host name', () => {
    const nodes = [swarmNode(MANAGER, { hostname: 'vm' }), swarmNode(WORKER, { hostname: 'vm' })];
    assert.equal(nodeLabel(nodes, MANAGER), 'vm (mgr0a1)');
    assert.equal(nodeLabel(nodes, WORKER), 'vm (wrk9f8)');
    assert.equal(nodeLabel(nodes, 'gone12345678'), 'gone12');
  });

  it('counts serving tasks per node, and says none when nothing serves', () => {
    const snap = clusterSnapshot({ blue: 3, green: 0 });
    snap.pools.blue.tasks.push(poolTask('blue', 4, { state: 'pending' }));
    assert.deepEqual(tasksPerNode(snap, snap.pools.blue), { 'mgr (mgr0a1)': 2, 'wrk (wrk9f8)': 1 });
    assert.equal(describePerNode(tasksPerNode(snap, snap.pools.blue)), 'mgr (mgr0a1): 2, wrk (wrk9f8): 1');
    assert.equal(describePerNode(tasksPerNode(snap, snap.pools.green)), 'none');
  });

  it('status of a pool: desired vs serving, the spec image and release, every task with its node and error', () => {
    const snap = clusterSnapshot({ blue: 2, green: 2 });
    snap.pools.green.desired = 3;
    snap.pools.green.release = 'green-v2';
    snap.pools.green.tasks.push(poolTask('green', 3, { state: 'pending', error: 'no suitable node (scheduling constraints not satisfied on 2 nodes)', address: undefined }));
    const s = swarmPoolStatus(snap, 'green');
    assert.equal(s.service, 'bg_app_green');
    assert.equal(s.desired, 3);
    assert.equal(s.running, 2);
    assert.equal(s.release, 'green-v2');
    assert.deepEqual(s.perNode, { 'mgr (mgr0a1)': 1, 'wrk (wrk9f8)': 1 });
    assert.deepEqual(s.tasks.at(-1), { name: 'bg_app_green.3', node: 'mgr (mgr0a1)', state: 'pending', error: 'no suitable node (scheduling constraints not satisfied on 2 nodes)' });
  });
});
