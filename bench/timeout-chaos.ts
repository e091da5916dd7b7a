// npm run bench:timeout-chaos — 12 s of `timeout` chaos on the active pool at 200 rps through nginx,
// with the bot's auto-demote running in its container. Prints JSON: requests, failed, waited > 1 s.
// Env: BENCH_RATE [200], BENCH_CHAOS_SEC [12], plus any stack env to try settings
// (HEALTH_CHECK_INTERVAL_MS, AUTO_FAILOVER_AFTER, PROXY_READ_TIMEOUT, MAX_FAILS, FAIL_TIMEOUT, ...).
import { botCli } from '../test/e2e/deploy-host.js';
import { runLoad } from '../test/e2e/support/load.js';
import { chaos, startStack } from '../test/e2e/support/stack.js';

const rate = Number(process.env.BENCH_RATE ?? 200);
const chaosSec = Number(process.env.BENCH_CHAOS_SEC ?? 12);
// Chaos starts just after the load does and lasts until it ends: every request is made during chaos.
const leadMs = 200;
const connections = Number(process.env.BENCH_CONNECTIONS ?? 40);
const passthrough = [
  'HEALTH_CHECK_INTERVAL_MS',
  'AUTO_FAILOVER_AFTER',
  'AUTO_FAILOVER',
  'PROXY_READ_TIMEOUT',
  'PROXY_CONNECT_TIMEOUT',
  'PROXY_NEXT_UPSTREAM_TIMEOUT',
  'MAX_FAILS',
  'FAIL_TIMEOUT',
];
const env: Record<string, string> = {};
for (const k of passthrough) if (process.env[k]) env[k] = process.env[k]!;

const stack = await startStack({ project: 'bgbench-timeout-chaos', env });
try {
  let chaosStartedAt = 0;
  const load = await runLoad({
    url: stack.url('/'),
    rate,
    amount: rate * chaosSec,
    connections,
    during: async () => {
      await new Promise((r) => setTimeout(r, leadMs));
      chaosStartedAt = Date.now();
      await chaos(stack, 'blue', 'start', 'timeout');
      await new Promise((r) => setTimeout(r, chaosSec * 1000));
    },
  });
  await chaos(stack, 'blue', 'stop');
  const status = await botCli(stack, 'status');
  const report = (status.result?.status === 'ok' ? status.result.data : undefined) as
    | { active: string; lastFailover?: { at: string; reason?: string } }
    | undefined;
  const failoverAt = report?.lastFailover ? Date.parse(report.lastFailover.at) : undefined;
  const out = {
    bench: 'timeout-chaos',
    rate,
    chaosSec,
    connections,
    settings: env,
    requests: load.requests,
    failed: load.failed,
    waitedOver1s: load.slowOver1s,
    waitedOver1sPercent: Math.round((load.slowOver1s / Math.max(1, load.requests)) * 10000) / 100,
    p99Ms: load.p99,
    maxMs: load.max,
    byPool: load.byPool,
    autoFailoverAfterMs: failoverAt ? failoverAt - chaosStartedAt : null,
    activeAfter: report?.active,
  };
  console.log(JSON.stringify(out));
} finally {
  if (!process.env.BENCH_KEEP) await stack.down();
}
