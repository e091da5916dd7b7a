import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { parseCommand, USAGE } from '../../../src/commands/parse-command.js';
import { loadConfig } from '../../../src/config.js';
import { HttpServer } from '../../../src/http-server.js';
import { actionIdFor } from '../../../src/bot/ids.js';
import { createSlackBot, type SlackBot } from '../../../src/bot/slack-bot.js';
import { SlackStandIn } from '../../support/slack-stand-in.js';
import { SocketModeStandIn } from '../../support/socket-mode-stand-in.js';
import { ADMIN, alertEvent, ALERTS, AuditSink, capturedLogger, FakeRunner, OPS, statusView, VIEWER } from './fixtures.js';

// The real Bolt app in Socket Mode (SocketModeReceiver over @slack/socket-mode) against a local
// Socket Mode stand-in: apps.connections.open with the app-level token, hello, envelopes, acks.

const APP_TOKEN = 'xapp-1-A0-socket-test-token';
const BOT_TOKEN = 'xoxb-socket-test-token';

describe('Slack over Socket Mode (real Bolt SocketModeReceiver, local socket stand-in)', () => {
  const slack = new SlackStandIn();
  const socket = new SocketModeStandIn({ api: slack, appToken: APP_TOKEN, pingIntervalMs: 1000 });
  const logs = capturedLogger('debug');
  let http: HttpServer;
  let bot: SlackBot;
  let runner: FakeRunner;
  let audits: AuditSink;
  let httpBase: string;

  before(async () => {
    await slack.start();
    await socket.start();
    const config = loadConfig({
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_APP_TOKEN: APP_TOKEN,
      SLACK_API_URL: slack.apiUrl,
      SLACK_ALERT_CHANNEL: ALERTS,
      SLACK_ADMIN_USERS: ADMIN,
    });
    http = new HttpServer(logs.log);
    runner = new FakeRunner();
    audits = new AuditSink();
    bot = createSlackBot({
      config,
      log: logs.log,
      http,
      deps: { parse: parseCommand, runner, status: async () => ({ status: 'ok' as const, message: 'status', data: statusView() }), audit: audits.audit, usage: USAGE },
      outbox: { minIntervalMs: 0, backoffMs: 10 },
    });
    const addr = await http.listen(0, '127.0.0.1');
    httpBase = `http://127.0.0.1:${addr.port}`;
    await bot.start();
    await socket.waitForConnections(1, 10_000);
  });

  after(async () => {
    await bot.stop();
    await socket.stop();
    await http.close();
    await slack.stop();
  });

  beforeEach(() => {
    runner.reset();
    audits.entries.length = 0;
  });

  const responsesFor = (id: string) => slack.responses.filter((r) => r.id === id).map((r) => r.body);

  it('opens the link with the app-level token and completes the handshake', () => {
    assert.equal(bot.mode, 'socket');
    const accepted = socket.opens.filter((o) => o.ok);
    assert.ok(accepted.length >= 1);
    assert.equal(accepted[0]?.authorization, `Bearer ${APP_TOKEN}`);
    assert.equal(socket.openSockets, 1);
    assert.equal(slack.callsOf('apps.connections.open')[0]?.authorization, `Bearer ${APP_TOKEN}`);
  });

  it('does not serve /slack/events in Socket Mode: there is no public endpoint to forge', async () => {
    const res = await fetch(`${httpBase}/slack/events`, { method: 'POST', body: 'payload=%7B%7D' });
    assert.equal(res.status, 404);
  });

  it('acks a slash command over the socket at once and answers through response_url', async () => {
    const t0 = performance.now();
    const ack = await socket.slashCommand({ text: 'status', userId: VIEWER, channelId: OPS, responseUrl: slack.responseUrl('sock-status') });
    const ackMs = performance.now() - t0;
    assert.deepEqual(ack.payload, {});
    assert.equal(ack.envelope_id, socket.sent.at(-1)?.envelope_id);
    const [body] = await slack.waitFor(() => responsesFor('sock-status').length > 0 && responsesFor('sock-status'), 5000, 'the status answer');
    assert.equal(body?.response_type, 'ephemeral');
    assert.match(JSON.stringify(body?.blocks), /bluegreen status — prod-eu-1/);
    assert.ok(ackMs < 3000, `acked within Slack's 3 s (${Math.round(ackMs)} ms)`);
  });

  it('puts the usage of a malformed command in the ack payload itself', async () => {
    const ack = await socket.slashCommand({ text: 'switch purple', userId: ADMIN, channelId: OPS, responseUrl: slack.responseUrl('sock-bad') });
    assert.equal(ack.payload?.response_type, 'ephemeral');
    assert.match(String(ack.payload?.text), /expected a pool \(blue or green\), got "purple"/);
    assert.equal(runner.calls.length, 0);
    assert.equal(responsesFor('sock-bad').length, 0);
  });

  it("runs an admin's switch and refuses a viewer's, auditing both, with the bot token on Web API calls", async () => {
    await socket.slashCommand({ text: 'switch green', userId: VIEWER, channelId: OPS, responseUrl: slack.responseUrl('sock-viewer') });
    const [refusal] = await slack.waitFor(() => responsesFor('sock-viewer').length > 0 && responsesFor('sock-viewer'), 5000, 'the refusal');
    assert.match(String(refusal?.text), /only admins may change the system/);
    assert.equal(runner.active, 'blue');

    await socket.slashCommand({ text: 'switch green', userId: ADMIN, channelId: OPS, responseUrl: slack.responseUrl('sock-admin') });
    await slack.waitFor(() => responsesFor('sock-admin').some((b) => /switched to green/.test(JSON.stringify(b))), 5000, 'the switch result');
    assert.equal(runner.active, 'green');
    assert.deepEqual(
      runner.calls.map((c) => [c.cmd.name, c.actor.id]),
      [['switch', ADMIN]],
    );
    await slack.waitFor(() => audits.entries.length >= 2, 5000, 'two audit entries');
    assert.deepEqual(
      audits.entries.map((e) => [e.actor.id, e.result]),
      [
        [VIEWER, 'refused'],
        [ADMIN, 'ok'],
      ],
    );
    // Lines reach the alert channel through the Web API, with the bot token, never the app token.
    bot.notifier?.audit({ at: new Date().toISOString(), by: { kind: 'cli', id: 'root' }, op: 'switch', args: { pool: 'green', force: false }, result: 'ok', message: 'Switched', durationMs: 5, switch: { from: 'blue', to: 'green', ms: 5, release: 'g-1' } });
    await slack.waitFor(() => slack.callsOf('chat.postMessage').length >= 1, 5000, 'the switch message');
    for (const c of slack.calls.filter((c) => c.method !== 'apps.connections.open')) assert.equal(c.authorization, `Bearer ${BOT_TOKEN}`);
  });

  it('takes a button click as an interactive envelope and updates the alert in place', async () => {
    const notifier = bot.notifier;
    assert.ok(notifier);
    await notifier.notify(alertEvent({ key: 'failover:blue' }));
    const post = await slack.waitFor(() => slack.callsOf('chat.postMessage').find((c) => c.answer?.ts !== undefined && String(JSON.stringify(c.args.blocks)).includes('failover:blue')), 5000, 'the alert');
    const ts = String(post.answer?.ts);
    const ack = await socket.blockAction({
      actionId: actionIdFor('switchTo', 'green'),
      value: JSON.stringify({ k: 'failover:blue', p: 'green' }),
      userId: ADMIN,
      channelId: ALERTS,
      messageTs: ts,
      responseUrl: slack.responseUrl('sock-click'),
    });
    assert.deepEqual(ack.payload, {});
    await slack.waitFor(
      () => slack.callsOf('chat.update').find((c) => c.args.ts === ts && /<@U_ADMIN> pressed \*Switch to green\* — ok/.test(JSON.stringify(c.args.blocks))),
      5000,
      'the alert updated with who and the result',
    );
    assert.equal(runner.active, 'green');
  });

  it('reconnects when Slack asks for a refresh, and takes commands on the new link', async () => {
    const before = socket.connectionCount;
    socket.requestRefresh();
    await socket.waitForConnections(before + 1, 10_000);
    const ack = await socket.slashCommand({ text: 'status', userId: VIEWER, channelId: OPS, responseUrl: slack.responseUrl('sock-after-refresh') });
    assert.deepEqual(ack.payload, {});
    await slack.waitFor(() => responsesFor('sock-after-refresh').length > 0, 5000, 'the status answer on the new link');
    assert.equal(socket.openSockets, 1);
  });

  it('keeps both tokens out of the log', () => {
    const text = logs.lines().join('\n');
    assert.ok(text.length > 0);
    assert.doesNotMatch(text, /xapp-1-A0-socket-test-token/);
    assert.doesNotMatch(text, /xoxb-socket-test-token/);
  });
});
