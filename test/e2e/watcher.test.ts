// The watcher end to end: real nginx writing its JSON log on the shared volume, the real bot
// container tailing it, alerts posted to the incoming-webhook stand-in inside the compose network
// (SLACK_WEBHOOK_URL, no bot token: webhook mode). Traffic only through nginx's 127.0.0.1 port.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { dockerAvailable } from './support/docker.js';
import { runLoad } from './support/load.js';
import { chaos, startStack, type Stack, type StandInState } from './support/stack.js';

const docker = await dockerAvailable();

type Webhook = StandInState['webhooks'][number];
const textOf = (w: Webhook) => String(w.body.text ?? '');

describe('watcher: alerts from the real access log', { skip: !docker && 'no Docker engine (start dockerd)', timeout: 600_000 }, () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack({
      project: 'bge2ewatcher',
      standIn: true,
      env: {
        SLACK_WEBHOOK_URL: 'http://standin:4000/webhook',
        ENV_NAME: 'e2e-watcher',
        // The scenario is about what the log shows; auto-demote would switch pools under it.
        AUTO_FAILOVER: 'false',
        ALERT_MIN_REQUESTS: '20',
        ALERT_COOLDOWN_SEC: '0',
        WINDOW_SEC: '20',
      },
    });
  });

  after(async () => {
    await stack?.down();
  });

  it('chaos on the active pool -> failover alert within 1 s; on both -> error rate and all down; stop -> recovery and resolved', async () => {
    const standIn = stack.standIn!;
    const seen = async (re: RegExp, since: number, what: string, timeoutMs = 20_000): Promise<Webhook> =>
      standIn.waitFor(what, (s) => s.webhooks.find((w) => w.at >= since && re.test(textOf(w))), timeoutMs);
    const figures: Record<string, number> = {};

    const load = await runLoad({
      url: stack.url('/'),
      rate: 100,
      amount: 7000,
      maxSeconds: 90,
      connections: 4,
      during: async () => {
        await sleep(2000); // steady blue traffic first: no alert
        assert.deepEqual((await standIn.state()).webhooks.map(textOf), [], 'healthy traffic raises nothing');

        const t0 = Date.now();
        await chaos(stack, 'blue', 'start', 'error');
        const failover = await seen(/Failover: green \(backup\) is serving instead of blue/, t0, 'the failover alert', 5000);
        figures.failoverAlertMs = failover.at - t0;
        assert.match(textOf(failover), /\[e2e-watcher\]/);

        const t1 = Date.now();
        await chaos(stack, 'green', 'start', 'error');
        const down = await seen(/All pools down/, t1, 'the all-down alert');
        const rate = await seen(/Error rate .* is above 2%/, t1, 'the error-rate alert');
        figures.allDownAlertMs = down.at - t1;
        figures.errorRateAlertMs = rate.at - t1;
        // Chaos started behind the bot's back (on the pool's own port) is known to the bot from its
        // next health check (HEALTH_CHECK_INTERVAL_MS, 1 s), while all-down fires within ms of the
        // first failures: blue's chaos is known by now, green's may or may not be yet.
        assert.match(JSON.stringify(down.body.blocks), /explained by: chaos on blue(, chaos on green)?"/);

        const t2 = Date.now();
        await chaos(stack, 'green', 'stop');
        await chaos(stack, 'blue', 'stop');
        const recovery = await seen(/Recovery: blue serves again/, t2, 'the recovery');
        const answered = await seen(/Pools answer again/, t2, 'all-down resolved');
        const normal = await seen(/Error rate back to normal/, t2, 'error rate resolved', 40_000);
        figures.recoveryMs = recovery.at - t2;
        figures.allDownResolvedMs = answered.at - t2;
        figures.errorRateResolvedMs = normal.at - t2;
      },
    });
    console.log(JSON.stringify({ watcherE2e: figures, load: { requests: load.requests, failed: load.failed, byPool: load.byPool } }));

    assert.ok(figures.failoverAlertMs! <= 1000, `failover alert after ${figures.failoverAlertMs} ms`);
    // Order kept: each incident's firing reached the webhook before its resolution.
    const texts = (await standIn.state()).webhooks.map(textOf);
    const at = (re: RegExp) => texts.findIndex((t) => re.test(t));
    assert.ok(at(/Failover:/) < at(/Recovery:/));
    assert.ok(at(/All pools down/) < at(/Pools answer again/));
    assert.equal(texts.filter((t) => /Failover:/.test(t)).length, 1, 'one failover incident, not one per line');
  });
});
