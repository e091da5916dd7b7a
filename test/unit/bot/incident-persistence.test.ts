import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseCommand, USAGE } from '../../../src/commands/parse-command.js';
import { loadConfig } from '../../../src/config.js';
import { HttpServer } from '../../../src/http-server.js';
import { actionIdFor } from '../../../src/bot/ids.js';
import { fileIncidentStore, type SavedIncident } from '../../../src/bot/incident-store.js';
import { createSlackBot, type SlackBot } from '../../../src/bot/slack-bot.js';
import { blockActionBody, postSigned, SlackStandIn } from '../../support/slack-stand-in.js';
import { ADMIN, alertEvent, ALERTS, AuditSink, capturedLogger, FakeRunner, statusView } from './fixtures.js';

// An alert posted by one bot process, clicked after a restart: the new process takes the
// incident's message (channel, ts) back from STATE_DIR and updates it in place.

const SECRET = 'persist-signing-secret';

describe('incident messages survive a bot restart', () => {
  const slack = new SlackStandIn();
  const dir = mkdtempSync(join(tmpdir(), 'bg-incidents-'));
  const file = join(dir, 'slack-incidents.json');
  const config = loadConfig({
    SLACK_BOT_TOKEN: 'xoxb-persist',
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: 'http://127.0.0.1:9/api/',
    SLACK_ALERT_CHANNEL: ALERTS,
    SLACK_ADMIN_USERS: ADMIN,
  });
  const running: { bot: SlackBot; http: HttpServer }[] = [];

  async function startBot(runner = new FakeRunner(), logs = capturedLogger('debug')) {
    const http = new HttpServer(logs.log);
    const bot = createSlackBot({
      config: { ...config, SLACK_API_URL: slack.apiUrl },
      log: logs.log,
      http,
      incidentStore: fileIncidentStore(file),
      deps: { parse: parseCommand, runner, status: async () => ({ status: 'ok' as const, message: 'status', data: statusView() }), audit: new AuditSink().audit, usage: USAGE },
      outbox: { minIntervalMs: 0, backoffMs: 10 },
    });
    await bot.start();
    const addr: AddressInfo = await http.listen(0, '127.0.0.1');
    const handle = { bot, http };
    running.push(handle);
    return { ...handle, runner, logs, url: `http://127.0.0.1:${addr.port}/slack/events` };
  }

  async function stopBot(h: { bot: SlackBot; http: HttpServer }) {
    await h.bot.stop();
    await h.http.close();
    running.splice(running.indexOf(h), 1);
  }

  /** Every queued Slack call answered and every resulting change saved. */
  async function settle(bot: SlackBot) {
    await bot.outbox.drain();
    await bot.notifier?.flush();
  }

  before(async () => {
    await slack.start();
  });

  after(async () => {
    for (const h of [...running]) await stopBot(h);
    await slack.stop();
  });

  it('a click after a restart updates the original message in place, not below it', async () => {
    const first = await startBot();
    assert.ok(first.bot.notifier);
    await first.bot.notifier.notify(alertEvent({ key: 'failover:blue' }));
    const post = await slack.waitFor(() => slack.callsOf('chat.postMessage').find((c) => String(JSON.stringify(c.args.blocks)).includes('failover:blue')), 5000, 'the alert');
    const ts = String(post.answer?.ts);
    await settle(first.bot);
    await stopBot(first);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { incidents: SavedIncident[] };
    assert.deepEqual(
      saved.incidents.map((i) => [i.key, i.channel, i.ts]),
      [['failover:blue', ALERTS, ts]],
    );

    const second = await startBot();
    const updatesBefore = slack.callsOf('chat.update').length;
    const res = await postSigned({
      url: second.url,
      secret: SECRET,
      body: blockActionBody({
        actionId: actionIdFor('switchTo', 'green'),
        value: JSON.stringify({ k: 'failover:blue', p: 'green' }),
        userId: ADMIN,
        channelId: ALERTS,
        messageTs: ts,
        responseUrl: slack.responseUrl('after-restart'),
      }),
    });
    assert.equal(res.status, 200);
    const update = await slack.waitFor(
      () => slack.callsOf('chat.update').slice(updatesBefore).find((c) => c.args.ts === ts && /<@U_ADMIN> pressed \*Switch to green\* — ok/.test(JSON.stringify(c.args.blocks))),
      5000,
      'the original message updated',
    );
    assert.equal(update.args.channel, ALERTS);
    // The rebuilt message is the whole alert again, not just the action line.
    assert.match(JSON.stringify(update.args.blocks), /Failover: blue -> green/);
    assert.equal(second.runner.active, 'green');
    await slack.waitFor(() => slack.callsOf('chat.postMessage').some((c) => c.args.thread_ts === ts && /pressed/.test(String(c.args.text))), 5000, 'the thread reply');
    // Nothing was answered below the alert as for an unknown incident.
    await settle(second.bot);
    assert.equal(slack.responses.filter((r) => r.id === 'after-restart').length, 0);
    await stopBot(second);
  });

  it('shows a click cut off by a restart as such, and starts clean from a broken file', async () => {
    const view = { repeats: 0, resolvedAt: undefined, acknowledgedBy: undefined, actions: [{ userId: ADMIN, label: 'Roll back', state: 'running' as const, detail: 'rollback…', at: '2024-06-01T03:00:05.000Z' }] };
    await fileIncidentStore(file).save([{ key: 'post_switch_guard:green', channel: ALERTS, ts: '1700000000.000555', alert: alertEvent({ key: 'post_switch_guard:green', kind: 'post_switch_guard', pool: 'green' }), view }]);
    const bot = await startBot();
    const inc = bot.bot.notifier?.incident('post_switch_guard:green');
    assert.equal(inc?.ts, '1700000000.000555');
    assert.equal(inc?.view.actions[0]?.state, 'failed');
    assert.match(String(inc?.view.actions[0]?.detail), /cut off by a bot restart/);
    await stopBot(bot);

    writeFileSync(file, '{"version":1,"incidents":[{"key":');
    const clean = await startBot();
    assert.equal(clean.bot.notifier?.incident('post_switch_guard:green'), undefined);
    await clean.bot.notifier?.notify(alertEvent({ key: 'latency:blue', kind: 'latency', pool: 'blue' }));
    await slack.waitFor(() => slack.callsOf('chat.postMessage').some((c) => String(JSON.stringify(c.args.blocks)).includes('latency:blue')), 5000, 'a new alert');
    await settle(clean.bot);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { incidents: SavedIncident[] };
    assert.deepEqual(
      saved.incidents.map((i) => i.key),
      ['latency:blue'],
    );
  });
});
