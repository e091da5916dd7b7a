// A real 2-node Docker Swarm on one machine (shared/NOTES.md "A 2-node swarm on one machine"):
//   manager = the machine's own engine, advertising the host end of a veth pair;
//   worker  = a second dockerd in a network namespace of ours (other end of the pair), started with
//             nsenter --net (not `ip netns exec`: it remounts /sys and dockerd dies with "Devices
//             cgroup isn't mounted"), with its own data-root, exec-root, socket, pidfile and
//             containerd namespaces.
// Everything is named bgswarm…. The main engine is shared with other test runs: it is made a manager
// only for the suite and always leaves the swarm again; whatever a crashed run left is removed first.
// Traffic goes only to 127.0.0.1 and to the addresses of our namespace's /24.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { run, type RunResult } from './docker.js';
import { ROOT } from './stack.js';

export const NAMES = {
  netns: 'bgswarm',
  hostIf: 'bgswarm0',
  nsIf: 'bgswarm1',
  /** A private /24 nobody else here uses. */
  hostAddr: '10.213.77.1',
  workerAddr: '10.213.77.2',
  /** The worker's data-root; also holds the harness's own notes (state.json). */
  dataDir: '/var/lib/bgswarm',
  /** Exec-root, socket and pidfile live here: short paths (unix socket paths are limited to 108 bytes). */
  runDir: '/run/bgswarm',
  /** A label on the manager node: "this swarm is the harness's", so a later run may dismantle it. */
  nodeLabel: 'bgswarm.harness',
  stack: 'bgswarm',
  /** Debian's docker-registry, on the host end of the pair, over TLS with a certificate of our own. */
  registryDir: '/var/lib/bgswarm-registry',
  // Not 5000: the Debian package's own service may listen there (systemd starts it on install).
  registryPort: 5213,
} as const;

/** host:port of the harness's registry, as REGISTRY names it. */
export const REGISTRY = `${NAMES.hostAddr}:${NAMES.registryPort}`;
/** Both engines of this machine read /etc/docker/certs.d/<host:port>/ca.crt at each pull and push: no restart. */
const REGISTRY_TRUST = `/etc/docker/certs.d/${REGISTRY}`;

const WORKER_SOCKET = `unix://${NAMES.runDir}/docker.sock`;
const WORKER_PIDFILE = `${NAMES.runDir}/docker.pid`;
const STATE_FILE = `${NAMES.dataDir}/state.json`;

/** What the harness changed on the main engine, kept on disk so a later run can undo a crashed one. */
interface HarnessState {
  /** docker_gwbridge did not exist before `swarm init` made it: remove it after leaving. */
  createdGwbridge: boolean;
}

async function must(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, stepMs = 500): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(stepMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export const workerEnv = (): NodeJS.ProcessEnv => ({ ...process.env, DOCKER_HOST: WORKER_SOCKET });

async function hasCommand(name: string): Promise<boolean> {
  return (await run('sh', ['-c', `command -v ${name}`])).code === 0;
}

/**
 * Why the suite cannot run here, or false. Needs root (netns, veth, a second dockerd), `ip`
 * (iproute2), `nsenter` (util-linux) and `dockerd`, and a main engine that is not already in a swarm
 * of someone else's. With CI=true any of these is a failure, not a skip: scripts/test-host.sh (npm test) installs them.
 */
export async function swarmSkipReason(): Promise<string | false> {
  const reasons: string[] = [];
  if (process.platform !== 'linux') reasons.push('Linux only (network namespaces)');
  else if (process.getuid?.() !== 0) reasons.push('needs root (ip netns, veth, a second dockerd)');
  for (const [cmd, pkg] of [['ip', 'iproute2'], ['nsenter', 'util-linux'], ['dockerd', 'docker.io']] as const) {
    if (!(await hasCommand(cmd))) reasons.push(`no ${cmd} (Debian: ${pkg})`);
  }
  if (reasons.length === 0 && (await run('ip', ['netns', 'list'])).code !== 0) reasons.push('`ip netns` does not work here');
  if (reasons.length === 0) {
    const info = await run('docker', ['info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}}']);
    const [state, nodeId] = info.stdout.trim().split(' ');
    if (state === 'active' && !(await isHarnessNode(nodeId ?? ''))) {
      reasons.push('the Docker engine is already in a swarm that is not this suite\'s (left alone)');
    }
  }
  if (reasons.length === 0) return false;
  const reason = `2-node swarm harness unavailable: ${reasons.join('; ')}`;
  if (process.env.CI === 'true') throw new Error(`CI=true: ${reason}`);
  return reason;
}

async function isHarnessNode(nodeId: string): Promise<boolean> {
  if (!nodeId) return false;
  const r = await run('docker', ['node', 'inspect', '--format', `{{index .Spec.Labels "${NAMES.nodeLabel}"}}`, nodeId]);
  // A worker cannot inspect nodes: then only our state file can say it is ours.
  return r.stdout.trim() === 'true' || (r.code !== 0 && existsSync(STATE_FILE));
}

function readState(): HarnessState | undefined {
  try {
    return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as HarnessState;
  } catch {
    return undefined;
  }
}

/** Pids of processes started for the worker: dockerd and the containerd it manages both name our dirs. */
function workerPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cmdline.includes(`${NAMES.runDir}/`) || cmdline.includes(`${NAMES.dataDir}/`)) pids.push(Number(name));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids.filter((p) => p !== process.pid);
}

/** Stops the worker's engine (SIGTERM: its containers stop with it), as a lost node in the tests. */
export async function stopWorkerDaemon(): Promise<void> {
  let pid = 0;
  try {
    pid = Number(readFileSync(WORKER_PIDFILE, 'utf8').trim());
  } catch {
    // No pidfile: maybe no daemon, maybe a half-started one: the scan below finds it.
  }
  if (pid > 0 && existsSync(`/proc/${pid}`)) {
    process.kill(pid, 'SIGTERM');
    await until('the worker dockerd to stop', async () => !existsSync(`/proc/${pid}`), 30_000).catch(() => {
      if (existsSync(`/proc/${pid}`)) process.kill(pid, 'SIGKILL');
    });
  }
  // Its containerd (and shims) exit with it; any still running after a crash are ended by pid.
  await until('the worker containerd to stop', async () => workerPids().length === 0, 10_000).catch(() => {
    for (const p of workerPids()) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
}

/**
 * Cuts the worker off the network the way a host vanishes: its end of the veth goes down, so every
 * packet to it is dropped (connections time out; nothing is refused). Its engine keeps running.
 */
export async function cutWorker(): Promise<void> {
  await must('ip', ['-n', NAMES.netns, 'link', 'set', NAMES.nsIf, 'down']);
}

/** The worker's network back: it rejoins the swarm by itself. */
export async function reconnectWorker(): Promise<void> {
  await must('ip', ['-n', NAMES.netns, 'link', 'set', NAMES.nsIf, 'up']);
}

/**
 * A saturated host: `n` busy loops (one per core on this 2-core machine) at normal priority, each
 * ended by `timeout` after `seconds` whatever happens to the test; stop() ends them sooner.
 */
export function busyLoops(n: number, seconds: number): { stop(): void } {
  const loops = Array.from({ length: n }, () => spawn('timeout', [String(Math.ceil(seconds)), 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' }));
  return {
    stop() {
      // GNU timeout passes the TERM it receives on to its child (a KILL would leave the child looping).
      for (const l of loops) l.kill('SIGTERM');
    },
  };
}

/** Mounts the worker's daemon left (container rootfs, shm, netns files), deepest first. */
async function unmountOurs(): Promise<void> {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(`${NAMES.dataDir}/`) || p.startsWith(`${NAMES.runDir}/`))
    .sort((a, b) => b.length - a.length);
  for (const p of points) await run('umount', ['-l', p]);
}

/**
 * Removes everything this harness may have made, whatever state a run ended in; returns what it
 * found. Safe to call when nothing is there. Order: the stack, the worker (leave, stop), the main
 * engine's swarm membership (only when it is ours), its gwbridge, the namespace and veth, the dirs.
 */
export async function removeSwarmLeftovers(): Promise<string[]> {
  const found: string[] = [];
  found.push(...(await stopRegistry()));
  const info = await run('docker', ['info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}}']);
  const [state, nodeId] = info.stdout.trim().split(' ');
  const ours = state === 'active' && (await isHarnessNode(nodeId ?? ''));
  if (ours) {
    const services = (await run('docker', ['service', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${NAMES.stack}`])).stdout.trim();
    if (services) {
      found.push(`stack ${NAMES.stack}`);
      await run('bash', ['scripts/swarm.sh', 'down'], { cwd: ROOT, env: { ...process.env, STACK_NAME: NAMES.stack, SWARM_WAIT_SEC: '60' }, timeoutMs: 90_000 });
    }
  }
  if (existsSync(WORKER_PIDFILE) || workerPids().length > 0) {
    found.push('worker dockerd');
    await run('docker', ['swarm', 'leave', '--force'], { env: workerEnv(), timeoutMs: 30_000 });
    await stopWorkerDaemon();
  }
  if (ours) {
    found.push('main engine swarm membership');
    await must('docker', ['swarm', 'leave', '--force'], { timeoutMs: 60_000 });
  }
  // Task containers, networks and volumes of the stack on the main engine (leave removes most).
  const ctrs = (await run('docker', ['ps', '-aq', '--filter', `label=com.docker.stack.namespace=${NAMES.stack}`])).stdout.split('\n').filter(Boolean);
  if (ctrs.length > 0) {
    found.push(`${ctrs.length} stack containers`);
    await run('docker', ['rm', '-f', '-v', ...ctrs]);
  }
  const vols = (await run('docker', ['volume', 'ls', '-q', '--filter', `name=${NAMES.stack}_`])).stdout.split('\n').filter((v) => v.startsWith(`${NAMES.stack}_`));
  if (vols.length > 0) {
    found.push(`volumes ${vols.join(', ')}`);
    await run('docker', ['volume', 'rm', ...vols]);
  }
  const saved = readState();
  if (saved?.createdGwbridge && (await run('docker', ['network', 'inspect', 'docker_gwbridge'])).code === 0) {
    // Only when nothing else uses it (a swarm of someone else's would): rm refuses then.
    if ((await run('docker', ['network', 'rm', 'docker_gwbridge'])).code === 0) found.push('docker_gwbridge');
  }
  if ((await run('ip', ['netns', 'pids', NAMES.netns])).code === 0) {
    found.push(`netns ${NAMES.netns}`);
    await run('ip', ['netns', 'del', NAMES.netns]);
  }
  // Deleting the namespace deletes the pair, a moment later; a pair never moved is deleted here.
  if ((await run('ip', ['link', 'show', NAMES.hostIf])).code === 0) {
    await run('ip', ['link', 'del', NAMES.hostIf]);
    found.push(`veth ${NAMES.hostIf}`);
  }
  await until(`veth ${NAMES.hostIf} to go`, async () => (await run('ip', ['link', 'show', NAMES.hostIf])).code !== 0, 10_000, 200);
  await unmountOurs();
  for (const dir of [NAMES.runDir, NAMES.dataDir]) {
    if (existsSync(dir)) {
      found.push(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return found;
}

/** What is left of the harness on this machine: empty when clean. */
export async function swarmResidue(): Promise<string[]> {
  const left: string[] = [];
  if ((await run('ip', ['netns', 'pids', NAMES.netns])).code === 0) left.push(`netns ${NAMES.netns}`);
  if ((await run('ip', ['link', 'show', NAMES.hostIf])).code === 0) left.push(`veth ${NAMES.hostIf}`);
  if (workerPids().length > 0) left.push(`processes ${workerPids().join(', ')}`);
  const state = (await run('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}'])).stdout.trim();
  if (state !== 'inactive') left.push(`main engine swarm state ${state}`);
  const vols = (await run('docker', ['volume', 'ls', '-q'])).stdout.split('\n').filter((v) => v.startsWith(`${NAMES.stack}_`));
  if (vols.length > 0) left.push(`volumes ${vols.join(', ')}`);
  const ctrs = (await run('docker', ['ps', '-aq', '--filter', `label=com.docker.stack.namespace=${NAMES.stack}`])).stdout.trim();
  if (ctrs) left.push('stack containers');
  for (const dir of [NAMES.runDir, NAMES.dataDir, NAMES.registryDir, REGISTRY_TRUST]) if (existsSync(dir)) left.push(dir);
  if (registryPids().length > 0) left.push('registry process');
  return left;
}

export interface SwarmCluster {
  managerId: string;
  workerId: string;
  /** Tears it all down (idempotent); see removeSwarmLeftovers. */
  down(): Promise<string[]>;
}

/** Starts the worker's engine in our namespace (again, after stopWorkerDaemon: it rejoins the swarm by itself). */
export async function startWorkerDaemon(): Promise<void> {
  mkdirSync(`${NAMES.dataDir}/data`, { recursive: true });
  mkdirSync(`${NAMES.runDir}/exec`, { recursive: true });
  const logFd = openSync(`${NAMES.runDir}/dockerd.log`, 'a');
  const daemon = spawn(
    'nsenter',
    [
      `--net=/var/run/netns/${NAMES.netns}`,
      'dockerd',
      '--data-root', `${NAMES.dataDir}/data`,
      '--exec-root', `${NAMES.runDir}/exec`,
      '-H', WORKER_SOCKET,
      '--pidfile', WORKER_PIDFILE,
      '--containerd-namespace', 'bgswarm',
      '--containerd-plugins-namespace', 'bgswarm-plugins',
    ],
    { stdio: ['ignore', logFd, logFd], detached: true },
  );
  closeSync(logFd);
  daemon.unref();
  await until('the worker dockerd to answer', async () => (await run('docker', ['info'], { env: workerEnv(), timeoutMs: 5000 })).code === 0, 60_000).catch((err: Error) => {
    throw new Error(`${err.message}; its log ends:\n${readFileSync(`${NAMES.runDir}/dockerd.log`, 'utf8').slice(-2000)}`);
  });
}

/**
 * Builds the two nodes and the swarm. On any failure what was made so far is removed before the
 * error goes on.
 */
export async function startSwarm(): Promise<SwarmCluster> {
  const left = await removeSwarmLeftovers();
  if (left.length > 0) console.error(`# swarm: removed leftovers of an earlier run: ${left.join('; ')}`);
  try {
    // The namespace and the veth pair: host end 10.213.77.1, worker end 10.213.77.2.
    await must('ip', ['netns', 'add', NAMES.netns]);
    await must('ip', ['link', 'add', NAMES.hostIf, 'type', 'veth', 'peer', 'name', NAMES.nsIf]);
    await must('ip', ['link', 'set', NAMES.nsIf, 'netns', NAMES.netns]);
    await must('ip', ['addr', 'add', `${NAMES.hostAddr}/24`, 'dev', NAMES.hostIf]);
    await must('ip', ['link', 'set', NAMES.hostIf, 'up']);
    await must('ip', ['-n', NAMES.netns, 'addr', 'add', `${NAMES.workerAddr}/24`, 'dev', NAMES.nsIf]);
    await must('ip', ['-n', NAMES.netns, 'link', 'set', NAMES.nsIf, 'up']);
    await must('ip', ['-n', NAMES.netns, 'link', 'set', 'lo', 'up']);

    await startWorkerDaemon();

    // The swarm: the main engine manages, listening only on the host end of the pair.
    const createdGwbridge = (await run('docker', ['network', 'inspect', 'docker_gwbridge'])).code !== 0;
    writeFileSync(STATE_FILE, JSON.stringify({ createdGwbridge } satisfies HarnessState));
    await must('docker', ['swarm', 'init', '--advertise-addr', NAMES.hostAddr, '--listen-addr', `${NAMES.hostAddr}:2377`], { timeoutMs: 60_000 });
    const managerId = (await must('docker', ['info', '--format', '{{.Swarm.NodeID}}'])).stdout.trim();
    await must('docker', ['node', 'update', '--label-add', `${NAMES.nodeLabel}=true`, managerId]);
    const token = (await must('docker', ['swarm', 'join-token', '-q', 'worker'])).stdout.trim();
    await must('docker', ['swarm', 'join', '--token', token, '--advertise-addr', NAMES.workerAddr, '--listen-addr', `${NAMES.workerAddr}:2377`, `${NAMES.hostAddr}:2377`], { env: workerEnv(), timeoutMs: 60_000 });
    const workerId = (await must('docker', ['info', '--format', '{{.Swarm.NodeID}}'], { env: workerEnv() })).stdout.trim();
    await until('both nodes Ready', async () => {
      const r = await run('docker', ['node', 'ls', '--format', '{{.ID}} {{.Status}}']);
      return [managerId, workerId].every((id) => r.stdout.includes(`${id} Ready`));
    }, 60_000);
    return { managerId, workerId, down: removeSwarmLeftovers };
  } catch (err) {
    await removeSwarmLeftovers();
    throw err;
  }
}

/** The manager's view of a service's tasks that should be running: node, state and overlay address. */
export interface TaskInfo {
  id: string;
  nodeId: string;
  state: string;
  addresses: string[];
}

export async function serviceTasks(service: string): Promise<TaskInfo[]> {
  const ids = (await must('docker', ['service', 'ps', '-q', '--filter', 'desired-state=running', service])).stdout.split('\n').filter(Boolean);
  if (ids.length === 0) return [];
  const r = await must('docker', ['inspect', ...ids]);
  // `docker inspect <task>` (API 1.41): [{"ID": "...", "NodeID": "...", "Status": {"State": "running", ...},
  //   "NetworksAttachments": [{"Network": {...}, "Addresses": ["10.0.1.3/24"]}], ...}]
  const tasks = JSON.parse(r.stdout) as { ID: string; NodeID: string; Status: { State: string }; NetworksAttachments?: { Addresses?: string[] }[] }[];
  return tasks.map((t) => ({
    id: t.ID,
    nodeId: t.NodeID,
    state: t.Status.State,
    addresses: (t.NetworksAttachments ?? []).flatMap((n) => n.Addresses ?? []).map((a) => a.split('/')[0] ?? a),
  }));
}

/** The stack's nginx container (placed on the edge node: this machine's engine). */
export async function nginxContainer(): Promise<string> {
  const r = await must('docker', ['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${NAMES.stack}_nginx`, '--filter', 'status=running']);
  const id = r.stdout.split('\n').find(Boolean);
  if (!id) throw new Error('no running nginx task container on the manager');
  return id;
}

/**
 * The pools' and the bot's ADMIN_TOKEN for the harness's stack: one per test process, so every `up`
 * deploys the same (swarm.sh would otherwise read the checkout's .env, or write one there).
 */
const ADMIN_TOKEN = randomBytes(32).toString('hex');

/** `scripts/swarm.sh up|down` for the harness's stack. */
export function swarmScript(cmd: 'up' | 'down', env: Record<string, string>): Promise<RunResult> {
  // DOCKER_GID given as ADMIN_TOKEN is, so swarm.sh never writes the checkout's .env.
  const gid = String(statSync('/var/run/docker.sock').gid);
  return run('bash', ['scripts/swarm.sh', cmd], { cwd: ROOT, env: { ...process.env, STACK_NAME: NAMES.stack, ADMIN_TOKEN, DOCKER_GID: gid, ...env }, timeoutMs: 300_000 });
}


function registryPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(`${NAMES.registryDir}/`)) pids.push(Number(name));
    } catch {
      // Gone while we looked.
    }
  }
  return pids;
}

async function stopRegistry(): Promise<string[]> {
  const found: string[] = [];
  const pids = registryPids();
  if (pids.length > 0) {
    found.push('registry');
    for (const p of pids) process.kill(p, 'SIGTERM');
    await until('the registry to stop', async () => registryPids().length === 0, 10_000).catch(() => {
      for (const p of registryPids()) process.kill(p, 'SIGKILL');
    });
  }
  for (const dir of [REGISTRY_TRUST, NAMES.registryDir]) {
    if (existsSync(dir)) {
      found.push(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return found;
}

/** Whether Debian's docker-registry is installed (scripts/test-host.sh installs it). */
export async function registryAvailable(): Promise<boolean> {
  return (await run('sh', ['-c', 'command -v docker-registry && command -v openssl'])).code === 0;
}

/**
 * A registry every node pulls from, as REGISTRY wants: Debian's docker-registry on the host end of
 * the veth, TLS with a certificate made here for that address, trusted by both engines through
 * /etc/docker/certs.d (read at each pull and push, no daemon restart). Call after startSwarm.
 */
export async function startRegistry(): Promise<string> {
  const dir = NAMES.registryDir;
  mkdirSync(`${dir}/data`, { recursive: true });
  await must('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=bgswarm-registry',
    '-addext', `subjectAltName=IP:${NAMES.hostAddr}`, '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`]);
  mkdirSync(REGISTRY_TRUST, { recursive: true });
  writeFileSync(`${REGISTRY_TRUST}/ca.crt`, readFileSync(`${dir}/cert.pem`));
  writeFileSync(`${dir}/config.yml`, [
    'version: 0.1',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${dir}/data`,
    'http:',
    `  addr: ${REGISTRY}`,
    '  tls:',
    `    certificate: ${dir}/cert.pem`,
    `    key: ${dir}/key.pem`,
    '',
  ].join('\n'));
  const logFd = openSync(`${dir}/registry.log`, 'a');
  const child = spawn('docker-registry', ['serve', `${dir}/config.yml`], { stdio: ['ignore', logFd, logFd], detached: true });
  closeSync(logFd);
  child.unref();
  await until('the registry to answer', async () => (await run('curl', ['-fsS', '--cacert', `${dir}/cert.pem`, `https://${REGISTRY}/v2/`])).code === 0, 30_000).catch((err: Error) => {
    throw new Error(`${err.message}; its log ends:\n${readFileSync(`${dir}/registry.log`, 'utf8').slice(-2000)}`);
  });
  return REGISTRY;
}

/** Tags a local image into the registry and pushes it; returns the name nodes pull. */
export async function pushImage(image: string): Promise<string> {
  const name = `${REGISTRY}/${image}`;
  await must('docker', ['tag', image, name]);
  await must('docker', ['push', '-q', name], { timeoutMs: 300_000 });
  return name;
}
