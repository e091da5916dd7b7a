// npm run bench:switch — N switches back and forth under load through nginx. Prints JSON: requests,
// failed, and switch time p50/p95: from the command to nginx serving the target (3 requests in a row
// through nginx), measured in-process (operation) and through the CLI in the bot container.
// Env: BENCH_SWITCHES [10], BENCH_RATE [200].
import { botCli, hostDeployLayer } from '../test/e2e/deploy-host.js';
import { runLoad } from '../test/e2e/support/load.js';
import { startStack } from '../test/e2e/support/stack.js';

const switches = Number(process.env.BENCH_SWITCHES ?? 10);
const rate = Number(process.env.BENCH_RATE ?? 200);
const by = { kind: 'cli' as const, id: 'bench', name: 'bench:switch' };

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

// The bot's own auto-demote stays out of the way: this measures switches people make.
const stack = await startStack({ project: 'bgbench-switch', env: { AUTO_FAILOVER: 'false', POST_SWITCH_GUARD_SEC: '0' } });
try {
  const layer = await hostDeployLayer(stack);
  const opMs: number[] = [];
  const cliMs: number[] = [];
  const problems: string[] = [];
  const cliSwitches = Math.min(4, switches);
  const seconds = switches * 0.6 + cliSwitches * 1.5 + 3;
  const load = await runLoad({
    url: stack.url('/'),
    rate,
    amount: Math.round(rate * seconds),
    connections: 40,
    during: async () => {
      await new Promise((r) => setTimeout(r, 1000));
      for (let i = 0; i < switches; i++) {
        const target = i % 2 === 0 ? 'green' : 'blue';
        const t0 = performance.now();
        const r = await layer.ops.switchPool(target, { force: false, by });
        opMs.push(performance.now() - t0);
        if (r.status !== 'ok' || !r.data?.changed) problems.push(JSON.stringify(r));
        await new Promise((res) => setTimeout(res, 300));
      }
      for (let i = 0; i < cliSwitches; i++) {
        const active = await layer.ops.activePool();
        const target = active === 'blue' ? 'green' : 'blue';
        const t0 = performance.now();
        const r = await botCli(stack, 'switch', target);
        cliMs.push(performance.now() - t0);
        if (r.code !== 0) problems.push(r.stdout || r.stderr);
        await new Promise((res) => setTimeout(res, 300));
      }
    },
  });
  const round = (n: number) => Math.round(n);
  console.log(
    JSON.stringify({
      bench: 'switch',
      rate,
      switches: switches + cliSwitches,
      requests: load.requests,
      failed: load.failed,
      byPool: load.byPool,
      switchMs: { p50: round(pct(opMs, 50)), p95: round(pct(opMs, 95)), max: round(Math.max(...opMs)) },
      cliSwitchMs: { p50: round(pct(cliMs, 50)), p95: round(pct(cliMs, 95)), note: 'docker exec + node start-up + the same operation' },
      latencyMs: { p50: load.p50, p99: load.p99, max: load.max },
      problems,
    }),
  );
} finally {
  if (!process.env.BENCH_KEEP) await stack.down();
}
