import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseCommand, USAGE } from '../../../src/commands/parse-command.js';
import { loadConfig } from '../../../src/config.js';
import { HttpServer } from '../../../src/http-server.js';
import { createMetrics, type Metrics } from '../../../src/metrics.js';
import { createSlackBot, type SlackBot } from '../../../src/bot/slack-bot.js';
import { operationalAlert } from '../../../src/shared/alert.js';
import { AlertPolicy } from '../../../src/watcher/alert-policy.js';
import { SlackStandIn } from '../../support/slack-stand-in.js';
import { alertEvent, AuditSink, capturedLogger, FakeRunner, statusView } from './fixtures.js';

// The real WebClient against the stand-in. The outage is real but short (backoff is scaled down
// for the test); outbox.test.ts covers a full 30 s outage on a virtual clock.

/** A Slack bot (no listener of its own) posting to the stand-in, with fast retries; `env` adds settings. */
function deliveryBot(slack: SlackStandIn, env: Record<string, string> = {}, metrics?: Metrics): SlackBot {
  return createSlackBot({
    config: loadConfig({ SLACK_BOT_TOKEN: 'xoxb-delivery', SLACK_SIGNING_SECRET: 'delivery-secret', SLACK_API_URL: slack.apiUrl, SLACK_ALERT_CHANNEL: 'C_ALERTS', ...env }),
    log: capturedLogger('warn').log,
    http: new HttpServer(capturedLogger('warn').log),
    ...(metrics ? { metrics } : {}),
    deps: { parse: parseCommand, runner: new FakeRunner(), status: async () => ({ status: 'ok' as const, message: 'status', data: statusView() }), audit: new AuditSink().audit, usage: USAGE },
    outbox: { minIntervalMs: 0, backoffMs: 20, maxBackoffMs: 100 },
  });
}

describe('Slack delivery through outages', () => {
  const slack = new SlackStandIn();
  let bot: SlackBot;
  const metrics = createMetrics();

  before(async () => {
    await slack.start();
    bot = deliveryBot(slack, {}, metrics);
  });

  after(async () => {
    await bot.stop();
    await slack.stop();
  });

  it('Slack down, then back: every alert arrives, in order, and updates land on the right message', async () => {
    const notifier = bot.notifier;
    assert.ok(notifier);
    slack.setDown(true);
    for (let i = 0; i < 15; i += 1) {
      await notifier.notify(alertEvent({ id: `e${i}`, key: `error_rate:blue:${i}`, kind: 'error_rate', title: `alert ${i}`, summary: `alert ${i}` }));
    }
    await notifier.notify(alertEvent({ id: 'r0', key: 'error_rate:blue:0', kind: 'error_rate', status: 'resolved', title: 'alert 0', summary: 'cleared', at: '2024-06-01T03:04:02.000Z' }));
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(slack.refused.length >= 5, `retried while down (${slack.refused.length} attempts)`);
    assert.equal(slack.callsOf('chat.postMessage').length, 0);
    slack.setDown(false);
    await bot.outbox.drain();
    const posts = slack.callsOf('chat.postMessage').filter((c) => c.args.thread_ts === undefined);
    assert.deepEqual(
      posts.map((p) => String(p.args.text).match(/alert \d+/)?.[0]),
      Array.from({ length: 15 }, (_, i) => `alert ${i}`),
    );
    const firstTs = await slack.waitFor(() => notifier.incident('error_rate:blue:0')?.ts);
    const update = slack.callsOf('chat.update').find((c) => c.args.ts === firstTs);
    assert.ok(update, 'the resolution updated the first message');
    assert.match(JSON.stringify(update.args.blocks), /Resolved after 4m/);
    assert.ok(slack.callsOf('chat.postMessage').some((c) => c.args.thread_ts === firstTs && /Resolved after 4m/.test(String(c.args.text))));
    const retries = await metrics.registry.getSingleMetricAsString('bluegreen_slack_api_retries_total');
    assert.match(retries, /method="chat.postMessage"} \d+/);
  });

  it('honours Retry-After on a 429 and keeps going', async () => {
    const notifier = bot.notifier;
    assert.ok(notifier);
    const before = slack.callsOf('chat.postMessage').length;
    slack.rateLimitNext(1, 1);
    const t0 = Date.now();
    await notifier.notify(alertEvent({ id: 'rl1', key: 'latency:blue:rl', kind: 'latency', title: 'rl 1' }));
    await notifier.notify(alertEvent({ id: 'rl2', key: 'latency:green:rl', kind: 'latency', title: 'rl 2', pool: 'green' }));
    await bot.outbox.drain();
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 950, `waited for Retry-After (${elapsed} ms)`);
    const titles = slack.callsOf('chat.postMessage').slice(before).map((c) => String(c.args.text).match(/rl \d/)?.[0]);
    assert.deepEqual(titles, ['rl 1', 'rl 2']);
  });

  it('two auto-demotes of one pool, the first resolved before the second: two messages, the resolution on the first', async () => {
    const notifier = bot.notifier;
    assert.ok(notifier);
    await bot.outbox.drain();
    const before = slack.callsOf('chat.postMessage').filter((c) => c.args.thread_ts === undefined).length;
    // The one pipeline: deploy control's alerts through the alert policy to the notifier.
    const policy = new AlertPolicy({ env: 'test', cooldownMs: 300_000, windowSize: 200 }, (a) => void notifier.notify(a));
    const demote = (status: 'firing' | 'resolved', at: string, firstAt: string) =>
      operationalAlert({ kind: 'auto_failover', status, severity: status === 'firing' ? 'warning' : 'info', pool: 'blue', env: 'test', title: `demote ${status} ${firstAt}`, summary: 's', at, firstAt, occurrence: Date.parse(firstAt) });
    policy.raise(demote('firing', '2024-06-01T03:00:00.000Z', '2024-06-01T03:00:00.000Z'), false);
    policy.raise(demote('resolved', '2024-06-01T03:01:00.000Z', '2024-06-01T03:00:00.000Z'), false);
    policy.raise(demote('firing', '2024-06-01T03:02:00.000Z', '2024-06-01T03:02:00.000Z'), false);
    await bot.outbox.drain();
    const posts = slack.callsOf('chat.postMessage').filter((c) => c.args.thread_ts === undefined).slice(before);
    assert.deepEqual(posts.map((p) => String(p.args.text).match(/demote firing \S+/)?.[0]), ['demote firing 2024-06-01T03:00:00.000Z', 'demote firing 2024-06-01T03:02:00.000Z']);
    const first = await slack.waitFor(() => notifier.incident('auto_failover:blue:1717210800000')?.ts);
    assert.ok(slack.callsOf('chat.update').some((c) => c.args.ts === first && /RESOLVED/.test(String(c.args.text))), 'the resolution updated the first message');
  });
});

describe('Slack down during a flood of audit lines: the outbox is bounded', () => {
  const slack = new SlackStandIn();
  let bot: SlackBot;

  before(async () => {
    await slack.start();
    bot = deliveryBot(slack, { OUTBOX_MAX: '10' });
  });

  after(async () => {
    await bot.stop();
    await slack.stop();
  });

  it('keeps OUTBOX_MAX messages, drops the audit lines before the alerts, and says how many once Slack is back', async () => {
    const notifier = bot.notifier;
    assert.ok(notifier);
    slack.setDown(true);
    for (let i = 0; i < 3; i += 1) await notifier.notify(alertEvent({ id: `f${i}`, key: `error_rate:blue:f${i}`, kind: 'error_rate', title: `alert ${i}`, summary: `alert ${i}` }));
    for (let i = 0; i < 40; i += 1) {
      notifier.audit({ at: new Date().toISOString(), by: { kind: 'slack', id: 'U_MALLORY', name: 'mallory' }, op: 'switch', args: { pool: 'green' }, result: 'refused', message: `not an admin (${i})`, durationMs: 1 });
      assert.ok(bot.outbox.pending <= 10);
    }
    // The resolution of the first alert: an update and a reply that follow its post.
    await notifier.notify(alertEvent({ id: 'f0r', key: 'error_rate:blue:f0', kind: 'error_rate', status: 'resolved', title: 'alert 0', summary: 'cleared' }));
    assert.equal(bot.outbox.pending, 10);
    assert.equal(bot.outbox.dropped, 35);
    slack.setDown(false);
    await bot.outbox.drain();
    const posts = slack.callsOf('chat.postMessage').filter((c) => c.args.thread_ts === undefined).map((c) => String(c.args.text));
    assert.deepEqual(
      posts.map((t) => t.match(/alert \d|messages were dropped|not an admin \(\d+\)/)?.[0]),
      ['alert 0', 'messages were dropped', 'alert 1', 'alert 2', 'not an admin (35)', 'not an admin (36)', 'not an admin (37)', 'not an admin (38)', 'not an admin (39)'],
    );
    assert.match(posts[1] ?? '', /^:warning: 35 messages were dropped while Slack was unreachable/);
    const firstTs = notifier.incident('error_rate:blue:f0')?.ts;
    assert.ok(slack.callsOf('chat.update').some((c) => c.args.ts === firstTs && /RESOLVED/.test(String(c.args.text))), 'the resolution still reached the alert');
  });
});
