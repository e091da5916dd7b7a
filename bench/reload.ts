// npm run bench:reload — what a reload of nginx costs clients. The nginx container runs two masters
// (nginx/entrypoint.sh): the edge on the public port, never reloaded, and the inner behind it, which
// every reload targets. N reloads of the inner, plain (`nginx -s reload`) and as the bot does them
// (`bluegreen-nginx-members reload`: `nginx -t`, reload, wait until no old worker serves), each
// under a fixed-rate load of keep-alive clients sending GETs, then POSTs (fetch: a request on a
// connection nginx closed fails "other side closed", it is not retried; a POST is what the edge may
// only resend because nginx/edge.conf.template lists non_idempotent).
// Prints JSON: per method and command, requests, failed and why, latency, the command's p50 time.
// Env: BENCH_RELOADS [20], BENCH_RATE [200], BENCH_KEEP (leave the stack up).
import { serviceContainer } from '../test/e2e/deploy-host.js';
import { run } from '../test/e2e/support/docker.js';
import { runSampledLoad, summarizeSamples } from '../test/e2e/support/load.js';
import { startStack } from '../test/e2e/support/stack.js';

const reloads = Number(process.env.BENCH_RELOADS ?? 20);
const rate = Number(process.env.BENCH_RATE ?? 200);
const GAP_MS = 1500;
const CLIENTS = 20;

const stack = await startStack({ project: 'bgbench-reload', services: ['app_blue', 'app_green', 'nginx'], waitForBot: false });
try {
  const nginx = await serviceContainer(stack.project, 'nginx');
  const commands = {
    plain: ['nginx', '-s', 'reload'],
    members: ['bluegreen-nginx-members', 'reload'],
  };
  const results: Record<string, unknown> = {};
  for (const method of ['GET', 'POST'] as const) {
    for (const [kind, command] of Object.entries(commands)) {
      const problems: string[] = [];
      const commandMs: number[] = [];
      const samples = await runSampledLoad({
        url: stack.url('/'),
        method,
        body: method === 'POST' ? '{"order":1}' : undefined,
        rate,
        connections: CLIENTS,
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
      results[`${method.toLowerCase()}_${kind}`] = { reloads, ...load, commandMsP50: commandMs[Math.floor(commandMs.length / 2)], problems };
    }
  }
  console.log(JSON.stringify({ bench: 'reload', design: 'edge + inner', rate, clients: CLIENTS, gapMs: GAP_MS, ...results }));
} finally {
  if (!process.env.BENCH_KEEP) await stack.down();
}
