// npm run bench:reload — what an nginx reload costs clients, plain (`nginx -s reload`) and drained
// (`bluegreen-nginx-members reload`: `Connection: close` for a second first, see
// nginx/nginx.conf.template). N reloads of each under a fixed-rate load of keep-alive clients
// (fetch: a request on a connection nginx closed fails "other side closed", it is not retried).
// Prints JSON: per kind, requests, failed and why, latency. Env: BENCH_RELOADS [20], BENCH_RATE [200].
import { serviceContainer } from '../test/e2e/deploy-host.js';
import { run } from '../test/e2e/support/docker.js';
import { runSampledLoad, summarizeSamples } from '../test/e2e/support/load.js';
import { startStack } from '../test/e2e/support/stack.js';

const reloads = Number(process.env.BENCH_RELOADS ?? 20);
const rate = Number(process.env.BENCH_RATE ?? 200);
const GAP_MS = 1500;

const stack = await startStack({ project: 'bgbench-reload', services: ['app_blue', 'app_green', 'nginx'], waitForBot: false });
try {
  const nginx = await serviceContainer(stack.project, 'nginx');
  const kinds = {
    plain: ['nginx', '-s', 'reload'],
    drained: ['bluegreen-nginx-members', 'reload'],
  };
  const results: Record<string, unknown> = {};
  for (const [kind, command] of Object.entries(kinds)) {
    const problems: string[] = [];
    const commandMs: number[] = [];
    const samples = await runSampledLoad({
      url: stack.url('/'),
      rate,
      amount: Number.MAX_SAFE_INTEGER,
      maxSeconds: reloads * 5 + 10,
      during: async () => {
        for (let i = 0; i < reloads; i++) {
          await new Promise((r) => setTimeout(r, GAP_MS));
          const t0 = Date.now();
          const r = await run('docker', ['exec', nginx, ...command]);
          commandMs.push(Date.now() - t0);
          if (r.code !== 0) problems.push(r.stderr.trim());
        }
        await new Promise((r) => setTimeout(r, GAP_MS));
      },
    });
    const { byRelease: _byRelease, ...load } = summarizeSamples(samples);
    commandMs.sort((a, b) => a - b);
    results[kind] = { reloads, ...load, commandMsP50: commandMs[Math.floor(commandMs.length / 2)], problems };
  }
  console.log(JSON.stringify({ bench: 'reload', rate, clients: 20, gapMs: GAP_MS, ...results }));
} finally {
  if (!process.env.BENCH_KEEP) await stack.down();
}
