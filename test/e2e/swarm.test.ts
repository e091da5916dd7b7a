// Docker Swarm mode (issue #13): the stack of docker-stack.yml on a real 2-node swarm built on this
// machine (test/e2e/support/swarm.ts), deployed with scripts/swarm.sh, driven by the real bot through
// the Docker API: nginx follows the tasks, status/switch/chaos/deploy/scale work on services, Swarm's
// own rollback and a lost node reach Slack (a Web API stand-in on the harness's own address). Needs
// root, iproute2 and util-linux (nsenter); skipped with the reason elsewhere, never with CI=true.
import type { StatusReport } from '../../src/deploy/operations.js';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SlackStandIn } from '../support/slack-stand-in.js';
import { dockerAvailable, run } from './support/docker.js';
import { eventually } from './support/slack-e2e.js';
import { runSampledLoad, summarizeSamples, type Sample, type SampleSummary } from './support/load.js';
import { buildAnyApp } from './support/any-app.js';
import { foreignContainer, refusalsIn, tryEscalations } from './support/escalations.js';
import { DEMO_IMAGE, ensureImages, freePort } from './support/stack.js';
import {
  busyLoops,
  cutWorker,
  NAMES,
  reconnectWorker,
  pushImage,
  registryAvailable,
  nginxContainer,
  removeSwarmLeftovers,
  serviceTasks,
  startRegistry,
  startSwarm,
  startWorkerDaemon,
  stopWorkerDaemon,
  swarmResidue,
  swarmSkipReason,
  swarmScript,
  type SwarmCluster,
  type TaskInfo,
} from './support/swarm.js';

const RATE = 200;
const REPLICAS = 2;
const POOLS = ['blue', 'green'] as const;
const ALERTS = 'C_E2E_SWARM';
const V2_LOCAL = `${DEMO_IMAGE}-swarm-v2`;
const BAD_LOCAL = `${DEMO_IMAGE}-swarm-neverhealthy`;
/** The names the nodes pull, once pushed to the harness's registry. */
let V2_IMAGE = '';
let BAD_IMAGE = '';
/** busybox httpd (test/e2e/support/any-app): not Node, no bluegreen headers; /healthz as the stack asks. */
const ANY_LOCAL = `bluegreen-test-anyapp:swarm-${(process.env.IMAGE_TAG ?? 'local').toLowerCase().replace(/[^a-z0-9_.-]/g, '')}`;
let ANY_IMAGE = '';

const docker = await dockerAvailable();
let skip = docker ? await swarmSkipReason() : 'no Docker engine (start dockerd)';
if (!skip && !(await registryAvailable())) {
  skip = 'no docker-registry or openssl (Debian: docker-registry, openssl): the suite runs the stack from a registry (REGISTRY)';
  if (process.env.CI === 'true') throw new Error(`CI=true: ${skip}`);
}

const figures: Record<string, unknown> = {};

interface AccessLine {
  upstream_addr: string;
  pool: string;
  status: number;
}

/** Which pool and which upstream address answered each request, from nginx's access log. */
async function accessLog(): Promise<AccessLine[]> {
  const r = await run('docker', ['exec', await nginxContainer(), 'cat', '/var/log/bluegreen/access.json.log']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as AccessLine);
}

function countBy<T>(items: T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function botContainer(): Promise<string> {
  const r = await run('docker', ['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${NAMES.stack}_bot`, '--filter', 'status=running']);
  const id = r.stdout.split('\n').find(Boolean);
  assert.ok(id, 'no running bot task container on the manager');
  return id;
}

interface CliResult {
  status: string;
  message?: string;
  reason?: string;
  data?: Record<string, unknown>;
}

/** `bluegreen <args> --json` inside the bot's task container, as an operator runs it. */
async function cli(...args: string[]): Promise<CliResult> {
  const r = await run('docker', ['exec', await botContainer(), 'bluegreen', ...args, '--json'], { timeoutMs: 300_000 });
  try {
    return JSON.parse(r.stdout) as CliResult;
  } catch {
    throw new Error(`bluegreen ${args.join(' ')}: no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr.slice(-2000)}`);
  }
}

/** Builds `FROM <DEMO_IMAGE>` plus the given Dockerfile lines. */
async function buildImage(tag: string, lines: string[]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bg-swarm-img-'));
  try {
    await writeFile(join(dir, 'Dockerfile'), [`FROM ${DEMO_IMAGE}`, ...lines, ''].join('\n'));
    const r = await run('docker', ['build', '-q', '-t', tag, dir], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The members nginx was given for a pool (the bot's file on the shared state volume). */
async function membersFile(pool: string): Promise<string[]> {
  const r = await run('docker', ['exec', await nginxContainer(), 'cat', `/etc/nginx/bluegreen/members-${pool}`]);
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .sort();
}

/**
 * When the bot's log first says nginx got members that leave out every one of `gone`, at or after
 * `since` (ms): the bot's own clock, on this machine.
 */
async function membersLeftAt(gone: Set<string>, since: number): Promise<number | undefined> {
  const r = await run('docker', ['service', 'logs', '--raw', `${NAMES.stack}_bot`], { timeoutMs: 60_000 });
  for (const line of r.stdout.split('\n')) {
    if (!line.includes('nginx members reloaded')) continue;
    const entry = JSON.parse(line) as { time: string; members: Record<string, string[]> };
    const at = Date.parse(entry.time);
    if (at >= since && !Object.values(entry.members).flat().some((m) => gone.has(m))) return at;
  }
  return undefined;
}

/** How often the bot has had nginx reload new members so far (its log says each). */
async function memberReloads(): Promise<number> {
  const r = await run('docker', ['service', 'logs', '--raw', `${NAMES.stack}_bot`], { timeoutMs: 60_000 });
  return (r.stdout.match(/nginx members reloaded/g) ?? []).length;
}

const addrsOf = (tasks: TaskInfo[]) => tasks.filter((t) => t.state === 'running').flatMap((t) => t.addresses.map((a) => `${a}:3000`)).sort();

/** The bot gave nginx exactly the running tasks of each pool. */
async function membersMatchTasks(): Promise<boolean> {
  for (const pool of POOLS) {
    const want = addrsOf(await serviceTasks(`${NAMES.stack}_app_${pool}`));
    if (JSON.stringify(await membersFile(pool)) !== JSON.stringify(want)) return false;
  }
  return true;
}

/** A sampled load's outcome: every request sent is counted, answered or not. */
type Load = SampleSummary & { byPool: Record<string, number>; samples: Sample[] };

function summarize(samples: Sample[]): Load {
  const s = summarizeSamples(samples);
  return { ...s, byPool: countBy(samples.filter((x) => x.pool), (x) => x.pool ?? ''), samples };
}

/** Running tasks per node id. */
const perNodeOf = (tasks: TaskInfo[]) => countBy(tasks.filter((t) => t.state === 'running'), (t) => t.nodeId);

const loadFigures = (r: Load) => ({ requests: r.requests, failed: r.failed, failures: r.failures, p50_ms: r.p50, p99_ms: r.p99, max_ms: r.max, by_pool: r.byPool });

describe('swarm: the stack on a 2-node swarm, driven by the bot', { skip, timeout: 1_200_000 }, () => {
  let cluster: SwarmCluster | undefined;
  let port = 0;
  const url = (path = '/') => `http://127.0.0.1:${port}${path}`;
  const tasks: Record<string, TaskInfo[]> = {};
  let tornDown = false;
  const slack = new SlackStandIn();

  /** What the channel was told since the `from`-th call: top-level messages, their text. */
  const told = (from: number) =>
    slack.calls
      .slice(from)
      .filter((c) => c.method === 'chat.postMessage' && c.args.thread_ts === undefined)
      .map((c) => String(c.args.text).slice(0, 160));
  /** Every task id of both pools that Swarm wants running. */
  const allTaskIds = async () => (await Promise.all(POOLS.map((p) => serviceTasks(`${NAMES.stack}_app_${p}`)))).flat().map((t) => t.id).sort();
  /** Alerts posted to the channel whose text or blocks match. */
  const posted = (re: RegExp) => slack.calls.filter((c) => c.method === 'chat.postMessage' && c.args.channel === ALERTS && re.test(JSON.stringify(c.args)));
  /** RATE requests/s until `during` resolves (at most `seconds`, then the load stops by itself). */
  const load = async (seconds: number, during: () => Promise<void>): Promise<Load> =>
    summarize(await runSampledLoad({ url: url('/'), rate: RATE, amount: RATE * seconds, maxSeconds: seconds, during }));

  before(async () => {
    const started = Date.now();
    await ensureImages();
    port = await freePort();
    cluster = await startSwarm();
    // Every node pulls from a registry, as REGISTRY users run it: swarm:up pushes the stack's images.
    const registry = await startRegistry();
    // The bot's Web API calls leave its container for the harness's own address (host end of the veth).
    await slack.start({ host: NAMES.hostAddr, port: 0 });
    const slackPort = new URL(slack.url).port;
    // A release to roll out, and one whose tasks never turn healthy (/healthz answers 500).
    const tag = await run('docker', ['tag', DEMO_IMAGE, V2_LOCAL]);
    assert.equal(tag.code, 0, tag.stderr);
    await buildImage(BAD_LOCAL, ['CMD ["node", "-e", "require(\'node:http\').createServer((q, s) => { s.statusCode = 500; s.end(); }).listen(3000)"]']);
    V2_IMAGE = await pushImage(V2_LOCAL);
    BAD_IMAGE = await pushImage(BAD_LOCAL);
    await buildAnyApp(ANY_LOCAL, 'swarm', { HEALTH_PATH: '/healthz' });
    ANY_IMAGE = await pushImage(ANY_LOCAL);
    const up = await swarmScript('up', {
      REGISTRY: registry,
      NGINX_PORT: String(port),
      BLUEGREEN_IMAGES_READY: '1',
      BLUE_REPLICAS: String(REPLICAS),
      GREEN_REPLICAS: String(REPLICAS),
      SLACK_BOT_TOKEN: 'xoxb-e2e-swarm',
      SLACK_SIGNING_SECRET: 'e2e-swarm-signing-secret',
      SLACK_ALERT_CHANNEL: ALERTS,
      SLACK_API_URL: `http://${NAMES.hostAddr}:${slackPort}/api/`,
      CLUSTER_ALERT_GRACE_SEC: '5',
      DEPLOY_HEALTH_TIMEOUT_MS: '40000',
      ALERT_COOLDOWN_SEC: '0',
    });
    assert.equal(up.code, 0, `swarm:up failed:\n${up.stderr.slice(-3000)}`);
    figures.bring_up_sec = Math.round((Date.now() - started) / 100) / 10;
  });

  after(async () => {
    console.log(`SWARM_FIGURES ${JSON.stringify(figures)}`);
    if (!tornDown) {
      const bot = await run('docker', ['service', 'logs', '--tail', '60', `${NAMES.stack}_bot`]);
      if (process.exitCode) console.error(`# bot log:\n${bot.stdout.slice(-6000)}`);
      await removeSwarmLeftovers();
    }
    await slack.stop();
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

  it('a compromised bot: no Docker socket in it; through the filter every escalation is refused (join tokens, secrets, services, privileged containers)', async () => {
    const bot = await botContainer();
    const sock = await run('docker', ['exec', bot, 'sh', '-c', 'test -e /var/run/docker.sock && echo present || echo absent']);
    assert.equal(sock.stdout.trim(), 'absent');
    const foreign = await foreignContainer(`${NAMES.stack}-someone-else`, V2_LOCAL);
    const { allowed, escalations } = await tryEscalations({ bot, nginx: await nginxContainer(), foreign, image: V2_LOCAL }).finally(() => run('docker', ['rm', '-f', foreign]));
    figures.compromised_bot = { allowed: allowed.status, refused: escalations.filter((a) => a.status === 403).length, of: escalations.length };
    assert.equal(allowed.status, 200, allowed.message);
    for (const a of escalations) assert.equal(a.status, 403, `${a.call}: ${a.status} ${a.message}`);
    const log = await run('docker', ['service', 'logs', '--raw', `${NAMES.stack}_docker-filter`], { timeoutMs: 60_000 });
    const refusals = refusalsIn(log.stdout);
    // Each escalation logged, and nothing else refused so far (the bot's own calls all passed).
    assert.equal(refusals.length, escalations.length, JSON.stringify(refusals));
  });

  it("the bot gives nginx every running task as a member, and status shows the pools' tasks per node", async () => {
    await eventually('the members files to list the running tasks', membersMatchTasks, 30_000);
    const st = await cli('status');
    assert.equal(st.status, 'ok', JSON.stringify(st));
    // Typed as deploy's report, so a change of its shape fails the type check, not this run.
    const pools = (st.data as unknown as StatusReport).pools;
    for (const p of pools) {
      assert.match(p.runs?.unit ?? '', /^service /, `${p.pool} is not described as a service: ${JSON.stringify(p)}`);
      assert.equal(p.runs?.desired, REPLICAS);
      assert.equal(p.runs?.running, REPLICAS);
      assert.equal(p.runs?.perNode?.split(', ').length, 2, p.runs?.perNode);
    }
  });

  it('200 requests/s for 10 s through nginx: 0 failed, both tasks of the active pool serve', async () => {
    const before = (await accessLog()).length;
    const r = await load(10, async () => {
      await sleep(10_000);
    });
    const lines = (await accessLog()).slice(before);
    const byAddr = countBy(lines, (l) => l.upstream_addr);
    const workerAddrs = (tasks.app_blue ?? []).filter((t) => t.nodeId === cluster?.workerId).flatMap((t) => t.addresses);
    const fromWorker = lines.filter((l) => workerAddrs.some((a) => l.upstream_addr === `${a}:3000`)).length;
    figures.load = { ...loadFigures(r), by_upstream: byAddr, served_by_worker: fromWorker };
    assert.ok(r.requests >= RATE * 9, `sent ${r.requests}`);
    assert.equal(r.failed, 0, JSON.stringify(r));
    assert.equal(r.byPool.blue, r.requests, JSON.stringify(r.byPool));
    assert.deepEqual(Object.keys(byAddr).sort(), addrsOf(tasks.app_blue ?? []), JSON.stringify(byAddr));
    assert.ok(fromWorker > (RATE * 10) / 4, `the worker's blue task served ${fromWorker}`);
  });

  it('chaos on every task of the active pool under load: failover, an alert in Slack, 0 failed', async () => {
    const alertsBefore = posted(/blue/i).length;
    const blueBefore = (await serviceTasks(`${NAMES.stack}_app_blue`)).map((t) => t.id).sort();
    let chaos: CliResult | undefined;
    const r = await load(15, async () => {
      await sleep(2000);
      chaos = await cli('chaos', 'start', 'blue', 'error');
      await sleep(9000);
    });
    assert.equal(chaos?.status, 'ok', JSON.stringify(chaos));
    figures.chaos = loadFigures(r);
    assert.equal(r.failed, 0, JSON.stringify(loadFigures(r)));
    assert.ok((r.byPool.green ?? 0) > 0, `green never answered: ${JSON.stringify(r.byPool)}`);
    // Both blue tasks fail: a probe of each through the bot's chaos read says so, and the bot demoted blue.
    const active = await eventually('auto-demote to green', async () => ((await cli('status')).data as { active: string }).active === 'green', 20_000);
    assert.ok(active);
    await eventually('a failover alert about blue in Slack', async () => posted(/blue/i).length > alertsBefore, 20_000);
    const stop = await cli('chaos', 'stop', 'blue');
    assert.equal(stop.status, 'ok', JSON.stringify(stop));
    // The pools run no health check of their own, so Swarm stopped none of the failing tasks: the
    // same tasks serve again once chaos stops, and nginx kept them all the while.
    const blue = await serviceTasks(`${NAMES.stack}_app_blue`);
    assert.deepEqual(blue.map((t) => t.id).sort(), blueBefore, 'Swarm replaced tasks of the pool under chaos');
    assert.ok(await membersMatchTasks());
    await eventually('blue healthy again', async () => /blue healthy/.test(String((await cli('status')).message)), 20_000);
  });

  it('a rolling deploy of the idle pool (2 tasks), then a switch to it, under 200 requests/s: 0 failed', async () => {
    // Green is active after the failover: blue is the idle pool.
    const back = await cli('switch', 'blue');
    assert.equal(back.status, 'ok', JSON.stringify(back));
    let deployed: CliResult | undefined;
    let switched: CliResult | undefined;
    const reloadsBefore = await memberReloads();
    const r = await load(120, async () => {
      deployed = await cli('deploy', 'green', V2_IMAGE, 'green-v2');
      switched = await cli('switch', 'green');
      await sleep(3000);
    });
    assert.equal(deployed?.status, 'ok', JSON.stringify(deployed));
    assert.match(String(deployed?.message), /rolling update completed/);
    assert.equal(switched?.status, 'ok', JSON.stringify(switched));
    // Each replaced task is a membership change: the inner nginx reloads while the load runs (the edge hides it from clients).
    const reloads = (await memberReloads()) - reloadsBefore;
    figures.deploy_and_switch = { ...loadFigures(r), switch_ms: (switched?.data as { ms?: number } | undefined)?.ms, member_reloads: reloads };
    assert.ok(reloads >= 2, `the bot reloaded nginx ${reloads} times while green's two tasks were replaced`);
    assert.equal(r.failed, 0, JSON.stringify(loadFigures(r)));
    assert.ok((r.byRelease['green-v2'] ?? 0) > 0, JSON.stringify(r.byRelease));
    const green = await serviceTasks(`${NAMES.stack}_app_green`);
    assert.equal(green.filter((t) => t.state === 'running').length, REPLICAS);
    // Swarm places a rolling update's tasks beside the old ones (moby#34414): the deploy spread them.
    figures.deploy_and_switch = { ...(figures.deploy_and_switch as object), green_tasks_per_node: perNodeOf(green) };
    assert.deepEqual(Object.values(perNodeOf(green)).sort(), [1, 1], `green's tasks after the deploy: ${JSON.stringify(perNodeOf(green))}; ${String(deployed?.message)}`);
    await eventually('nginx members to follow the new green tasks', membersMatchTasks, 15_000);
  });

  it('any app (busybox httpd, no bluegreen headers) as a replicated service: deploy, switch, a task killed, 0 failed; nginx names the pool', async () => {
    // Green (the demo app) is active: the other app goes to blue.
    let deployed: CliResult | undefined;
    let switched: CliResult | undefined;
    const r = await load(120, async () => {
      deployed = await cli('deploy', 'blue', ANY_IMAGE, 'site-swarm');
      switched = await cli('switch', 'blue');
      await sleep(3000);
    });
    assert.equal(deployed?.status, 'ok', JSON.stringify(deployed));
    assert.equal(switched?.status, 'ok', JSON.stringify(switched));
    figures.any_app_deploy_and_switch = loadFigures(r);
    assert.equal(r.failed, 0, JSON.stringify(loadFigures(r)));
    // The app says nothing of itself: the pool each client saw is nginx's X-Bluegreen-Pool.
    assert.ok((r.byPool.blue ?? 0) > 0, JSON.stringify(r.byPool));
    await eventually('the access log to name blue and its release', async () => {
      await (await fetch(url('/'))).arrayBuffer();
      const log = await run('docker', ['exec', await nginxContainer(), 'tail', '-n', '1', '/var/log/bluegreen/access.json.log']);
      const line = JSON.parse(log.stdout) as { pool: string; release: string };
      return line.pool === 'blue' && line.release === 'site-swarm';
    }, 20_000);

    // A task lost under load: the bot's chaos kill reaches blue's task on this node (Swarm replaces it).
    let killed: CliResult | undefined;
    const lost = await load(20, async () => {
      await sleep(2000);
      killed = await cli('chaos', 'start', 'blue', 'kill', 'for', '30s');
      await sleep(10_000);
    });
    assert.equal(killed?.status, 'ok', JSON.stringify(killed));
    assert.match(String(killed?.message), /Chaos \(kill\) started on blue \(the active pool\) on 1 container\(s\).*1 task\(s\) on other nodes are not touched/);
    figures.any_app_task_killed = loadFigures(lost);
    assert.equal(lost.failed, 0, JSON.stringify(loadFigures(lost)));
    const stop = await cli('chaos', 'stop', 'blue');
    assert.equal(stop.status, 'ok', JSON.stringify(stop));
    await eventually('Swarm to replace the task, and nginx to list it', async () => (await serviceTasks(`${NAMES.stack}_app_blue`)).filter((t) => t.state === 'running').length === REPLICAS && membersMatchTasks(), 60_000);
    // Back to the demo app for the suites below (the drill's chaos needs its admin listener).
    const back = await cli('switch', 'green');
    assert.equal(back.status, 'ok', JSON.stringify(back));
  });

  it('scale: 3 tasks of the idle pool, then 2 again; nginx lists each', async () => {
    const up = await cli('scale', 'blue', '3');
    assert.equal(up.status, 'ok', JSON.stringify(up));
    assert.equal((up.data as { running: number }).running, 3);
    await eventually('3 blue members', async () => (await membersFile('blue')).length === 3 && membersMatchTasks(), 15_000);
    const down = await cli('scale', 'blue', '2');
    assert.equal(down.status, 'ok', JSON.stringify(down));
    await eventually('2 blue members', async () => (await membersFile('blue')).length === 2 && membersMatchTasks(), 15_000);
    const refused = await cli('scale', 'green', '0');
    assert.equal(refused.status, 'refused', JSON.stringify(refused));
  });

  it('a deploy whose tasks never turn healthy: the bot has Swarm roll it back, the reply and Slack say so, 0 failed', async () => {
    let deployed: CliResult | undefined;
    const r = await load(90, async () => {
      deployed = await cli('deploy', 'blue', BAD_IMAGE, 'blue-bad');
    });
    figures.never_healthy_deploy = loadFigures(r);
    assert.equal(deployed?.status, 'failed', JSON.stringify(deployed));
    // The bot's own gate: the new tasks answer /healthz with 500, and Swarm knows only that they run.
    assert.match(String(deployed?.message), /the update was rolled back \(the bot rolled the update back: bgswarm_app_blue\.\d did not pass its health check within 40 s of starting \(last: HTTP 500\)/);
    assert.equal(r.failed, 0, JSON.stringify(loadFigures(r)));
    const blue = await serviceTasks(`${NAMES.stack}_app_blue`);
    assert.equal(blue.filter((t) => t.state === 'running').length, REPLICAS);
    await eventually('Slack to hear of the rollback', async () => posted(/roll(ed)? ?back|rollback/i).some((c) => /blue/.test(JSON.stringify(c.args))), 30_000);
  });

  it('drill, maintenance and rollback work as under Compose', async () => {
    const callsBefore = slack.calls.length;
    const drilled = ((await cli('status')).data as { active: string }).active;
    const taskIds = async () => (await serviceTasks(`${NAMES.stack}_app_${drilled}`)).map((t) => t.id).sort();
    const drilledTasks = await taskIds();
    const drill = await cli('drill');
    const d = drill.data as { failed: number; requests: number; restoredActive: boolean; timeToFailoverMs?: number; timeToDetectMs?: number } | undefined;
    figures.drill = d && { requests: d.requests, failed: d.failed, time_to_failover_ms: d.timeToFailoverMs, time_to_detect_ms: d.timeToDetectMs };
    assert.equal(drill.status, 'ok', JSON.stringify(drill).slice(0, 2000));
    assert.equal(d?.failed, 0);
    assert.equal(d?.restoredActive, true);
    const on = await cli('maintenance', 'on', 'for', '10m', '--page', 'swarm', 'test');
    assert.equal(on.status, 'ok', JSON.stringify(on));
    const page = await fetch(url('/'));
    await page.arrayBuffer();
    assert.equal(page.status, 503);
    const off = await cli('maintenance', 'off');
    assert.equal(off.status, 'ok', JSON.stringify(off));
    const back = await fetch(url('/'));
    await back.arrayBuffer();
    assert.equal(back.status, 200);
    // Roll back to the pool active before the last switch, and roll that back again.
    const activeNow = ((await cli('status')).data as { active: string }).active;
    const rb = await cli('rollback');
    assert.equal(rb.status, 'ok', JSON.stringify(rb));
    const to = (rb.data as { to: string }).to;
    assert.notEqual(to, activeNow);
    const again = await cli('rollback');
    assert.equal(again.status, 'ok', JSON.stringify(again));
    assert.equal((again.data as { to: string }).to, activeNow, JSON.stringify({ rollbacks: [rb.message, again.message], told: told(callsBefore) }));
    // The drill's chaos ended before Swarm's health check failed the drilled tasks: the same tasks serve.
    assert.deepEqual(await taskIds(), drilledTasks, 'Swarm replaced tasks of the drilled pool');
  });

  it('a saturated host for 30 s, no node lost: no task is stopped, no switch, 0 failed', async () => {
    const before = await allTaskIds();
    const activeBefore = ((await cli('status')).data as { active: string }).active;
    const callsBefore = slack.calls.length;
    const busy = busyLoops(2, 35);
    let r: Load;
    try {
      r = await load(30, async () => {
        await sleep(30_000);
      });
    } finally {
      busy.stop();
    }
    figures.saturated_host = loadFigures(r);
    assert.equal(r.failed, 0, JSON.stringify(loadFigures(r)));
    assert.deepEqual(await allTaskIds(), before, 'Swarm stopped or replaced a task while the host was busy');
    assert.equal(((await cli('status')).data as { active: string }).active, activeBefore);
    // The audit of earlier tests' commands may still trickle in (the channel takes about one post a
    // second); an alert is what a busy host must not cause.
    assert.deepEqual(told(callsBefore).filter((l) => /^(WARNING|CRITICAL)/.test(l)), [], 'the channel was alerted about a busy host');
  });

  for (const [how, busy] of [['cut off the network', false], ['cut off the network while the manager is saturated', true], ['stopped (its engine)', false]] as const) {
    it(`the worker ${how}, under load: nginx stops sending to its tasks at once, no switch, alerts raised and resolved, 0 failed; back, the pools spread again`, async () => {
      assert.ok(cluster);
      const key = `worker_${how.startsWith('stopped') ? 'engine_stopped' : busy ? 'cut_saturated' : 'cut'}`;
      const workerId = cluster.workerId;
      const activeBefore = ((await cli('status')).data as { active: string }).active;
      const onWorker = new Set<string>();
      for (const pool of POOLS) for (const t of await serviceTasks(`${NAMES.stack}_app_${pool}`)) if (t.nodeId === workerId && t.state === 'running') for (const a of t.addresses) onWorker.add(`${a}:3000`);
      assert.equal(onWorker.size, 2, `one task of each pool on the worker before it goes: ${[...onWorker].join(', ')}`);
      const callsBefore = slack.calls.length;
      let lostAt = 0;
      let fullAt = 0;
      const loops = busy ? busyLoops(2, 160) : undefined;
      let r: Load;
      try {
        r = await load(150, async () => {
          await sleep(2000);
          lostAt = Date.now();
          if (how.startsWith('stopped')) await stopWorkerDaemon();
          else await cutWorker();
          await eventually(
            'every pool back to full strength on the manager',
            async () => {
              for (const pool of POOLS) {
                const t = (await serviceTasks(`${NAMES.stack}_app_${pool}`)).filter((x) => x.state === 'running' && x.nodeId !== workerId);
                if (t.length < REPLICAS) return false;
              }
              return membersMatchTasks();
            },
            120_000,
          );
          fullAt = Date.now();
        });
      } finally {
        loops?.stop();
      }
      const membersAt = await membersLeftAt(onWorker, lostAt);
      figures[key] = {
        ...loadFigures(r),
        members_updated_ms: membersAt === undefined ? null : membersAt - lostAt,
        to_full_strength_sec: Math.round((fullAt - lostAt) / 100) / 10,
        channel: told(callsBefore),
      };
      assert.equal(r.failed, 0, JSON.stringify(figures[key]));
      assert.ok(membersAt !== undefined, "nginx's members never left out the lost node's tasks");
      // Both pools lost one task of two: neither is healthier, so nothing switches.
      assert.equal(((await cli('status')).data as { active: string }).active, activeBefore, JSON.stringify(told(callsBefore)));
      assert.ok(!told(callsBefore).some((l) => /auto-demote/i.test(l)), JSON.stringify(told(callsBefore)));
      await eventually('an alert naming the lost node', async () => slack.calls.slice(callsBefore).some((c) => JSON.stringify(c.args).includes(workerId.slice(0, 6))), 30_000);
      // The node comes back: its alert resolves, and the bot spreads the pools over both nodes again.
      const backAt = Date.now();
      if (how.startsWith('stopped')) await startWorkerDaemon();
      else await reconnectWorker();
      await eventually(
        'the node-down alert resolved',
        async () => slack.calls.slice(callsBefore).some((c) => JSON.stringify(c.args).includes(workerId.slice(0, 6)) && /resolved|back|ready/i.test(JSON.stringify(c.args))),
        90_000,
      );
      await eventually(
        'each pool on both nodes again, in nginx too',
        async () => {
          for (const pool of POOLS) if (Object.keys(perNodeOf(await serviceTasks(`${NAMES.stack}_app_${pool}`))).length !== 2) return false;
          return membersMatchTasks();
        },
        90_000,
      );
      (figures[key] as Record<string, unknown>).spread_again_sec = Math.round((Date.now() - backAt) / 100) / 10;
    });
  }

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
