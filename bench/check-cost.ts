// npm run bench:check-cost — what one health check costs, each way the stack can check (README,
// "What each check costs"). A demo-app container runs alone; for each kind, N checks one after the
// other, and the CPU they took: inside the container (its cgroup's cpuacct), and on the whole host
// (/proc/stat, minus what the host spent idle-looking over the same time without checks: dockerd,
// containerd and runc do most of an exec's work outside the container).
//   docker-exec-node   a Docker health check `node -e fetch(...)`: runc exec + a node process
//   docker-exec-wget   the same with busybox wget (nginx's check)
//   bot-probe          the bot's probe: one HTTP GET from outside (probeHttp), no process anywhere
// Prints JSON. Env: BENCH_CHECKS [20] (the bot probe runs 25 times as many: it is cheap).
import { readFileSync } from 'node:fs';
import { probeHttp } from '../src/deploy/pools/probe-http.js';
import { run } from '../test/e2e/support/docker.js';
import { DEMO_IMAGE, ensureImages } from '../test/e2e/support/stack.js';

const N = Number(process.env.BENCH_CHECKS ?? 20);

/** Host CPU time in ms (user + nice + system + irq + softirq), from /proc/stat. */
function hostCpuMs(): number {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq] = fields.map(Number);
  return ((user! + nice! + system! + irq! + softirq!) * 1000) / 100;
}

/** The container's CPU time in ms (cgroup v1 cpuacct, or v2 cpu.stat). */
function containerCpuMs(id: string): number {
  for (const path of [`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`]) {
    try {
      return Number(readFileSync(path, 'utf8')) / 1e6;
    } catch {
      // not cgroup v1
    }
  }
  for (const path of [`/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`, `/sys/fs/cgroup/docker/${id}/cpu.stat`]) {
    try {
      return Number(/usage_usec (\d+)/.exec(readFileSync(path, 'utf8'))?.[1]) / 1000;
    } catch {
      // not here
    }
  }
  return Number.NaN;
}

const round = (n: number) => Math.round(n * 100) / 100;

await ensureImages();
const started = await run('docker', ['run', '-d', '--rm', DEMO_IMAGE]);
if (started.code !== 0) throw new Error(started.stderr);
const id = started.stdout.trim();
try {
  const ip = (await run('docker', ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', id])).stdout.trim();
  const url = new URL(`http://${ip}:3000/healthz`);
  // Ready, and warm.
  for (let i = 0; i < 50 && (await probeHttp(url, { connectTimeoutMs: 500, timeoutMs: 1000 })).outcome !== 'healthy'; i++) await new Promise((r) => setTimeout(r, 100));

  const measure = async (count: number, one: () => Promise<void>) => {
    const host0 = hostCpuMs();
    const ctr0 = containerCpuMs(id);
    const t0 = performance.now();
    for (let i = 0; i < count; i++) await one();
    const wall = performance.now() - t0;
    const host = hostCpuMs() - host0;
    const ctr = containerCpuMs(id) - ctr0;
    // The host's CPU over the same time with nothing to do, so that only the checks are counted.
    const idle0 = hostCpuMs();
    await new Promise((r) => setTimeout(r, wall));
    const idle = hostCpuMs() - idle0;
    return { checks: count, wallMsEach: round(wall / count), containerCpuMsEach: round(ctr / count), hostCpuMsEach: round(Math.max(0, host - idle) / count) };
  };
  const exec = (cmd: string[]) => async () => {
    const r = await run('docker', ['exec', id, ...cmd]);
    if (r.code !== 0) throw new Error(`${cmd.join(' ')}: ${r.stderr}`);
  };
  const results = {
    'docker-exec-node': await measure(N, exec(['node', '-e', "fetch('http://127.0.0.1:3000/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"])),
    'docker-exec-wget': await measure(N, exec(['wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:3000/healthz'])),
    'bot-probe': await measure(N * 25, async () => {
      const p = await probeHttp(url, { connectTimeoutMs: 500, timeoutMs: 2000 });
      if (p.outcome !== 'healthy') throw new Error(p.detail);
    }),
  };
  // The peak memory of a check process, measured on the host with the same node and busybox.
  const rss = async (cmd: string[]) => Number((await run('/usr/bin/time', ['-f', '%M', ...cmd])).stderr.trim().split('\n').at(-1)) / 1024;
  const hostRssMb = {
    node: round(await rss([process.execPath, '-e', `fetch('${url}').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`])),
    wget: round(await rss(['busybox', 'wget', '-q', '-O', '/dev/null', String(url)])),
  };
  console.log(JSON.stringify({ bench: 'check-cost', ...results, peakRssMbOfCheckProcess: hostRssMb }));
} finally {
  await run('docker', ['rm', '-f', id]);
}
