import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { currentTasks, toTask, unhealthyAfterMs, withoutDigest, withSnapshotCache } from '../../../../src/deploy/swarm/swarm-control.js';
import { FakeSwarm, poolTask } from './fake-swarm.js';

// The pure part of swarm-control.ts: the Docker API's task JSON into PoolTask, and which tasks are
// worth showing. The dockerode calls themselves run in the swarm end-to-end suite.

type ApiTask = Parameters<typeof toTask>[0];

/** A task as `GET /tasks` answers (API 1.41), trimmed to the fields read, of stack `bg`. */
function apiTask(over: Partial<ApiTask> = {}): ApiTask {
  return {
    ID: 'k2x9q0w8e7r6t5y4u3i2o1p0a',
    Slot: 2,
    NodeID: 'mgr0a1b2c3d4e5f6',
    DesiredState: 'running',
    UpdatedAt: '2025-03-04T10:00:02.5Z',
    Spec: {
      ContainerSpec: {
        Image: 'bluegreen-demo-app:v2@sha256:3b1f1d2c4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789abcdef',
        Env: ['APP_POOL=blue', 'RELEASE_ID=blue-v2', 'PORT=3000', 'ADMIN_PORT=3001'],
      },
    },
    Status: { State: 'running', Err: '', Timestamp: '2025-03-04T10:00:03.123456789Z' },
    NetworksAttachments: [
      // The routing mesh comes first: never an address nginx can use for one task.
      { Network: { Spec: { Name: 'ingress', Labels: {} } }, Addresses: ['10.0.0.7/24'] },
      { Network: { Spec: { Name: 'bg_default', Labels: { 'com.docker.stack.namespace': 'bg' } } }, Addresses: ['10.0.1.12/24'] },
    ],
    ...over,
  };
}

describe('withoutDigest', () => {
  it('drops the digest Swarm pins, keeps registry, port and tag', () => {
    assert.equal(withoutDigest('registry.local:5000/bluegreen-demo-app:v2@sha256:3b1f'), 'registry.local:5000/bluegreen-demo-app:v2');
    assert.equal(withoutDigest('bluegreen-demo-app@sha256:3b1f'), 'bluegreen-demo-app');
    assert.equal(withoutDigest('bluegreen-demo-app:v2'), 'bluegreen-demo-app:v2');
  });
});

describe('toTask', () => {
  it('names the task by service and slot, reads its address on the stack network (not ingress), image without digest, RELEASE_ID', () => {
    assert.deepEqual(toTask(apiTask(), 'bg_app_blue', 'bg'), {
      id: 'k2x9q0w8e7r6t5y4u3i2o1p0a',
      name: 'bg_app_blue.2',
      slot: 2,
      nodeId: 'mgr0a1b2c3d4e5f6',
      state: 'running',
      desiredState: 'running',
      error: undefined,
      address: '10.0.1.12',
      image: 'bluegreen-demo-app:v2',
      release: 'blue-v2',
      since: '2025-03-04T10:00:03.123456789Z',
    });
  });

  it('finds the stack network by its name when it carries no stack label; another stack\'s network is not ours', () => {
    const byName = apiTask({ NetworksAttachments: [{ Network: { Spec: { Name: 'bg_default' } }, Addresses: ['10.0.1.13/24'] }] });
    assert.equal(toTask(byName, 'bg_app_blue', 'bg').address, '10.0.1.13');
    const other = apiTask({
      NetworksAttachments: [
        { Network: { Spec: { Name: 'ingress', Labels: {} } }, Addresses: ['10.0.0.7/24'] },
        { Network: { Spec: { Name: 'shop_default', Labels: { 'com.docker.stack.namespace': 'shop' } } }, Addresses: ['10.0.9.2/24'] },
      ],
    });
    assert.equal(toTask(other, 'bg_app_blue', 'bg').address, undefined);
    // Not attached yet (pending, assigned): no address, so it cannot be a member.
    assert.equal(toTask(apiTask({ NetworksAttachments: undefined }), 'bg_app_blue', 'bg').address, undefined);
  });

  it('a failed task keeps Swarm\'s error; a task with no slot (global) is named by its id', () => {
    const failed = toTask(apiTask({ DesiredState: 'shutdown', Status: { State: 'failed', Err: 'task: non-zero exit (1)', Timestamp: '2025-03-04T10:01:00Z' } }), 'bg_app_blue', 'bg');
    assert.equal(failed.state, 'failed');
    assert.equal(failed.error, 'task: non-zero exit (1)');
    const global = toTask(apiTask({ Slot: undefined, Status: undefined, Spec: undefined }), 'bg_nginx', 'bg');
    assert.equal(global.name, 'bg_nginx.k2x9q0w8e7r6');
    assert.equal(global.state, 'unknown');
    assert.equal(global.since, '2025-03-04T10:00:02.5Z');
    assert.equal(global.release, undefined);
  });
});

describe('currentTasks', () => {
  const at = (s: number) => new Date(Date.UTC(2025, 2, 4, 10, 0, s)).toISOString();

  it('shows every task Swarm wants running, sorted by name, and hides the failures of a slot that runs again', () => {
    const running1 = poolTask('blue', 1, { since: at(30) });
    const crashed1 = poolTask('blue', 1, { state: 'failed', desiredState: 'shutdown', error: 'task: non-zero exit (137)', since: at(20) });
    const running2 = poolTask('blue', 2, { since: at(10) });
    assert.deepEqual(currentTasks([running2, crashed1, running1]), [running1, running2]);
  });

  it('a failed start-first update: the old task still runs in the slot, and the newer failure says why', () => {
    const old1 = poolTask('blue', 1, { since: at(1) });
    const failedNew1 = poolTask('blue', 1, { state: 'failed', desiredState: 'shutdown', error: 'task: non-zero exit (1): dockerexec: unhealthy container', since: at(20) });
    assert.deepEqual(currentTasks([failedNew1, old1]), [old1, failedNew1]);
  });

  it('orders a pool of ten or more tasks by slot number, as `docker service ps` does', () => {
    const tasks = [10, 2, 11, 1].map((slot) => poolTask('blue', slot));
    assert.deepEqual(
      currentTasks(tasks).map((t) => t.name),
      ['bg_app_blue.1', 'bg_app_blue.2', 'bg_app_blue.10', 'bg_app_blue.11'],
    );
  });

  it('a slot that cannot start shows its newest failure beside the task Swarm tries next', () => {
    const older = poolTask('blue', 1, { state: 'rejected', desiredState: 'shutdown', error: 'No such image: bluegreen-demo-app:nope', since: at(1) });
    const newer = poolTask('blue', 1, { state: 'rejected', desiredState: 'shutdown', error: 'No such image: bluegreen-demo-app:nope (2)', since: at(5) });
    const next = poolTask('blue', 1, { state: 'preparing', since: at(6) });
    const shown = currentTasks([older, next, newer]);
    assert.deepEqual(shown.map((t) => [t.state, t.error]), [
      ['preparing', undefined],
      ['rejected', 'No such image: bluegreen-demo-app:nope (2)'],
    ]);
  });

  it('a slot whose last task ended cleanly shows nothing of an older failure; a slot with no task left shows its failure', () => {
    const crashed = poolTask('blue', 1, { state: 'failed', desiredState: 'shutdown', error: 'task: non-zero exit (1)', since: at(1) });
    const replacedCleanly = poolTask('blue', 1, { state: 'shutdown', desiredState: 'shutdown', since: at(9) });
    const lastWords = poolTask('blue', 2, { state: 'failed', desiredState: 'shutdown', error: 'starting container failed: port is already allocated', since: at(3) });
    assert.deepEqual(currentTasks([crashed, replacedCleanly, lastWords]), [lastWords]);
  });
});

describe('unhealthyAfterMs: how long failing checks take Swarm to replace a task', () => {
  it("is the spec's interval times its retries, with Docker's defaults, and unknown without a check", () => {
    // docker-stack.yml's pools: interval 2s, retries 3 (the API gives nanoseconds).
    assert.equal(unhealthyAfterMs({ Test: ['CMD', 'node', '-e', '…'], Interval: 2e9, Retries: 3 }), 6000);
    assert.equal(unhealthyAfterMs({ Test: ['CMD-SHELL', 'true'] }), 90_000);
    assert.equal(unhealthyAfterMs({ Test: ['NONE'] }), undefined);
    assert.equal(unhealthyAfterMs(undefined), undefined);
  });
});

describe('withSnapshotCache', () => {
  it('answers readers from a read at most maxAgeMs old, shares one read among concurrent readers, and reads afresh after a change', async () => {
    let t = 0;
    const fake = new FakeSwarm();
    const cached = withSnapshotCache(fake, 1000, () => t);
    await Promise.all([cached.snapshot(), cached.snapshot(), cached.snapshot()]);
    assert.equal(fake.snapshots, 1, 'three readers, one read');
    t = 999;
    await cached.snapshot();
    assert.equal(fake.snapshots, 1);
    t = 1000;
    await cached.snapshot();
    assert.equal(fake.snapshots, 2);
    await cached.scale('blue', 3);
    assert.equal((await cached.snapshot()).pools.blue.desired, 3, 'what the bot changed is read afresh');
    assert.equal(fake.snapshots, 3);
    fake.down = new Error('manager gone');
    t = 5000;
    await assert.rejects(cached.snapshot(), /manager gone/);
    fake.down = undefined;
    await cached.snapshot();
    assert.equal(fake.snapshots, 5, 'a failed read is not kept');
  });
});
