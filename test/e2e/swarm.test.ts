// Docker Swarm mode, first slice (issue #13): the stack of docker-stack.yml on a real 2-node swarm
// built on this machine (test/e2e/support/swarm.ts), deployed with scripts/swarm.sh. Needs root,
// iproute2 and util-linux (nsenter); skipped with the reason elsewhere, never skipped with CI=true.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dockerAvailable, run } from './support/docker.js';
import { runLoad } from './support/load.js';
import { DEMO_IMAGE, ensureImages, freePort } from './support/stack.js';
import {
  NAMES,
  loadImagesIntoWorker,
  nginxContainer,
  removeSwarmLeftovers,
  serviceTasks,
  startSwarm,
  swarmResidue,
  swarmSkipReason,
  swarmScript,
  type SwarmCluster,
  type TaskInfo,
} from './support/swarm.js';

const RATE = 200;
const AMOUNT = 2000;
const REPLICAS = 2;
const POOLS = ['blue', 'green'] as const;

const docker = await dockerAvailable();
const skip = docker ? await swarmSkipReason() : 'no Docker engine (start dockerd)';

const figures: Record<string, unknown> = {};

/** Which pool and which upstream address answered each request, from nginx's access log. */
async function accessLog(): Promise<{ upstream_addr: string; pool: string; status: number }[]> {
  const r = await run('docker', ['exec', await nginxContainer(), 'cat', '/var/log/bluegreen/access.json.log']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { upstream_addr: string; pool: string; status: number });
}

function countBy<T>(items: T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
}

describe('swarm: the stack on a 2-node swarm', { skip, timeout: 600_000 }, () => {
  let cluster: SwarmCluster | undefined;
  let port = 0;
  const url = (path = '/') => `http://127.0.0.1:${port}${path}`;
  const tasks: Record<string, TaskInfo[]> = {};
  let tornDown = false;

  before(async () => {
    const started = Date.now();
    await ensureImages();
    port = await freePort();
    cluster = await startSwarm();
    // The pools may run on the worker; nginx and the bot run on the edge node (this engine).
    await loadImagesIntoWorker([DEMO_IMAGE]);
    const up = await swarmScript('up', { NGINX_PORT: String(port), BLUEGREEN_IMAGES_READY: '1', BLUE_REPLICAS: String(REPLICAS), GREEN_REPLICAS: String(REPLICAS) });
    assert.equal(up.code, 0, `swarm:up failed:\n${up.stderr.slice(-3000)}`);
    figures.bring_up_sec = Math.round((Date.now() - started) / 100) / 10;
  });

  after(async () => {
    console.log(`SWARM_FIGURES ${JSON.stringify(figures)}`);
    if (!tornDown) await removeSwarmLeftovers();
  });

  it("each pool's tasks run on both nodes, nginx and the bot on the edge node", async () => {
    assert.ok(cluster);
    const perNode: Record<string, Record<string, number>> = {};
    for (const service of ['app_blue', 'app_green', 'nginx', 'bot']) {
      tasks[service] = await serviceTasks(`${NAMES.stack}_${service}`);
      const running = tasks[service].filter((t) => t.state === 'running');
      perNode[service] = countBy(running, (t) => (t.nodeId === cluster?.managerId ? 'manager' : t.nodeId === cluster?.workerId ? 'worker' : t.nodeId));
    }
    figures.tasks_per_node = perNode;
    for (const pool of POOLS) {
      assert.deepEqual(perNode[`app_${pool}`], { manager: 1, worker: 1 }, `app_${pool}: ${JSON.stringify(perNode)}`);
    }
    assert.deepEqual(perNode.nginx, { manager: 1 });
    assert.deepEqual(perNode.bot, { manager: 1 });
  });

  it('200 requests/s for 10 s through nginx: 0 failed, both tasks of the active pool serve', async () => {
    const before = (await accessLog()).length;
    const r = await runLoad({ url: url('/'), rate: RATE, amount: AMOUNT, maxSeconds: 20 });
    const lines = (await accessLog()).slice(before);
    const byAddr = countBy(lines, (l) => l.upstream_addr);
    const workerAddrs = (tasks.app_blue ?? []).filter((t) => t.nodeId === cluster?.workerId).flatMap((t) => t.addresses);
    const fromWorker = lines.filter((l) => workerAddrs.some((a) => l.upstream_addr === `${a}:3000`)).length;
    figures.load = { rate: RATE, requests: r.requests, failed: r.failed, p50_ms: r.p50, p99_ms: r.p99, max_ms: r.max, by_upstream: byAddr, served_by_worker: fromWorker };
    assert.ok(r.requests >= AMOUNT, `sent ${r.requests}`);
    assert.equal(r.failed, 0, JSON.stringify(r));
    assert.equal(r.byPool.blue, r.requests, JSON.stringify(r.byPool));
    // Round robin over the two blue tasks: one of them is on the worker, over the overlay network.
    const blueAddrs = (tasks.app_blue ?? []).flatMap((t) => t.addresses.map((a) => `${a}:3000`)).sort();
    assert.deepEqual(Object.keys(byAddr).sort(), blueAddrs, JSON.stringify(byAddr));
    assert.ok(fromWorker > AMOUNT / 4, `the worker's blue task served ${fromWorker}`);
  });

  it('both pools answer through nginx: switch by the flag file and back', async () => {
    const nginx = await nginxContainer();
    const flip = async (to: 'blue' | 'green') => {
      const from = to === 'blue' ? 'green' : 'blue';
      const r = await run('docker', ['exec', nginx, 'sh', '-c', `touch /etc/nginx/bluegreen/active-${to} && rm -f /etc/nginx/bluegreen/active-${from}`]);
      assert.equal(r.code, 0, r.stderr);
    };
    const served: Record<string, Record<string, number>> = {};
    for (const pool of ['green', 'blue'] as const) {
      await flip(pool);
      const before = (await accessLog()).length;
      const pools: Record<string, number> = {};
      for (let i = 0; i < 20; i++) {
        const res = await fetch(url('/'));
        await res.arrayBuffer();
        assert.equal(res.status, 200);
        const p = res.headers.get('x-app-pool') ?? 'none';
        pools[p] = (pools[p] ?? 0) + 1;
      }
      assert.deepEqual(pools, { [pool]: 20 });
      const addrs = new Set((await accessLog()).slice(before).map((l) => l.upstream_addr));
      const want = (tasks[`app_${pool}`] ?? []).flatMap((t) => t.addresses.map((a) => `${a}:3000`));
      assert.deepEqual([...addrs].sort(), want.sort(), `${pool} served from ${[...addrs].join(' ')}`);
      served[pool] = pools;
    }
    figures.switch = served;
  });

  it('swarm:down and tear-down leave no stack, namespace, daemon, veth, volume or swarm membership', async () => {
    const down = await swarmScript('down', {});
    assert.equal(down.code, 0, down.stderr);
    const vols = (await run('docker', ['volume', 'ls', '-q'])).stdout.split('\n').filter((v) => v.startsWith(`${NAMES.stack}_`));
    assert.deepEqual(vols, [], 'swarm:down left volumes');
    const started = Date.now();
    await removeSwarmLeftovers();
    tornDown = true;
    figures.tear_down_sec = Math.round((Date.now() - started) / 100) / 10;
    assert.deepEqual(await swarmResidue(), []);
  });
});
