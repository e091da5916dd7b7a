import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ACTION_IDS, actionIdFor } from '../../../src/bot/ids.js';
import type { SlackBot } from '../../../src/bot/slack-bot.js';
import { blockActionBody, postSigned, SlackStandIn, slashCommandBody } from '../../support/slack-stand-in.js';
import { ADMIN, alertEvent, ALERTS, AuditSink, capturedLogger, FakeRunner, OPS, startHttpBot, VIEWER, type HttpBotUnderTest } from './fixtures.js';

// Signed requests through the real Bolt HTTP receiver, mounted on the bot's own HTTP listener;
// Slack's Web API and response_url are the local stand-in.

const SECRET = 'test-signing-secret-0123456789';
const TOKEN = 'xoxb-test-token-abcdef';
const GROUP_ADMIN = 'U_GROUPIE';

describe('Slack over HTTP (real Bolt receiver, signed requests)', () => {
  const slack = new SlackStandIn();
  let t: HttpBotUnderTest;
  let bot: SlackBot;
  let url: string;
  let runner: FakeRunner;
  let audits: AuditSink;
  const logs = capturedLogger('debug');

  before(async () => {
    await slack.start();
    slack.groups.set('S_ADMINS', [GROUP_ADMIN]);
    t = await startHttpBot({
      log: logs.log,
      env: {
        SLACK_BOT_TOKEN: TOKEN,
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: slack.apiUrl,
        SLACK_ALERT_CHANNEL: ALERTS,
        SLACK_ADMIN_USERS: ADMIN,
        SLACK_ADMIN_GROUP: 'S_ADMINS',
        SLACK_ALLOWED_CHANNELS: OPS,
        RUNBOOK_URL: 'https://example.com/runbook.md',
      },
    });
    ({ bot, url, runner, audits } = t);
  });

  after(async () => {
    await t.stop();
    await slack.stop();
  });

  beforeEach(() => {
    runner.reset();
    audits.entries.length = 0;
  });

  const command = (text: string, userId: string, responseId: string, channelId = OPS) =>
    postSigned({ url, secret: SECRET, body: slashCommandBody({ text, userId, channelId, responseUrl: slack.responseUrl(responseId) }) });

  const responsesFor = (id: string) => slack.responses.filter((r) => r.id === id).map((r) => r.body);

  it('acks status at once and answers with Block Kit through response_url', async () => {
    const res = await command('status', VIEWER, 'status-1');
    assert.equal(res.status, 200);
    const [body] = await slack.waitFor(() => responsesFor('status-1').length > 0 && responsesFor('status-1'));
    assert.equal(body?.response_type, 'ephemeral');
    const blocks = body?.blocks as { type: string; text?: { text: string } }[];
    assert.equal(blocks[0]?.type, 'header');
    assert.match(String(blocks[0]?.text?.text), /bluegreen status — prod-eu-1/);
    assert.equal(runner.calls.length, 0);
  });

  it('answers a malformed command in the ack, naming the exact problem and the usage', async () => {
    const res = await command('switch purple', ADMIN, 'bad-1');
    assert.equal(res.status, 200);
    const body = JSON.parse(res.body) as { response_type: string; text: string };
    assert.equal(body.response_type, 'ephemeral');
    assert.match(body.text, /expected a pool \(blue or green\), got "purple"/);
    assert.match(body.text, /switch blue\|green \[--force\]/);
    assert.equal(runner.calls.length, 0);
    const unknown = JSON.parse((await command('frobnicate', ADMIN, 'bad-2')).body) as { text: string };
    assert.match(unknown.text, /unknown command "frobnicate"/);
  });

  it('help lists only what the caller may run', async () => {
    await command('help', VIEWER, 'help-viewer');
    await command('help', ADMIN, 'help-admin');
    const [viewer] = await slack.waitFor(() => responsesFor('help-viewer').length > 0 && responsesFor('help-viewer'));
    const [admin] = await slack.waitFor(() => responsesFor('help-admin').length > 0 && responsesFor('help-admin'));
    const viewerText = JSON.stringify(viewer?.blocks);
    assert.match(viewerText, /bluegreen status/);
    assert.doesNotMatch(viewerText, /bluegreen switch/);
    assert.match(JSON.stringify(admin?.blocks), /bluegreen switch blue\|green/);
  });

  it('runs an admin switch, updating one progress message in place, and audits it', async () => {
    const res = await command('switch green', ADMIN, 'switch-1');
    assert.equal(res.status, 200);
    assert.equal(res.body, '');
    const posts = await slack.waitFor(() => {
      const r = responsesFor('switch-1');
      return r.some((b) => /ok/.test(String(b.text)) && b.replace_original === true) && r;
    });
    assert.equal(runner.active, 'green');
    assert.equal(posts[0]?.response_type, 'in_channel');
    assert.ok(posts.slice(1).every((p) => p.replace_original === true), 'later posts replace the first');
    assert.ok(posts.length <= 5, 'a response_url takes at most 5 posts');
    assert.match(String(posts.at(-1)?.text), /switch green: ok .* switched to green/);
    assert.deepEqual(runner.calls[0]?.actor, { kind: 'slack', id: ADMIN, name: 'u_admin' });
    await slack.waitFor(() => audits.entries.length === 1, 2000, 'audit entry');
    assert.deepEqual(
      { result: audits.entries[0]?.result, command: audits.entries[0]?.command, source: audits.entries[0]?.source },
      { result: 'ok', command: 'switch green', source: 'slash_command' },
    );
    // The channel's line comes from the audit log the operation wrote (app.ts follows it for every
    // process), not from the Slack layer: one line per action, CLI included.
    bot.notifier?.audit({ at: new Date().toISOString(), by: { kind: 'slack', id: ADMIN, name: 'u_admin' }, op: 'chaos_stop', args: { pool: 'green' }, result: 'ok', message: 'Chaos stopped on green', durationMs: 12 });
    const line = await slack.waitFor(() => slack.callsOf('chat.postMessage').find((c) => /audit: u_admin chaos stop green -> ok/.test(String(c.args.text))));
    assert.equal(line.args.channel, ALERTS);
    assert.equal(line.authorization, `Bearer ${TOKEN}`);
    assert.equal(slack.callsOf('chat.postMessage').filter((c) => /audit: .*switch green/.test(String(c.args.text))).length, 0, 'the Slack layer posts no line of its own');
  });

  it('lets members of SLACK_ADMIN_GROUP change things', async () => {
    await command('switch green', GROUP_ADMIN, 'switch-group');
    await slack.waitFor(() => audits.entries.length === 1, 2000, 'audit entry');
    assert.equal(runner.active, 'green');
    assert.ok(slack.callsOf('usergroups.users.list').some((c) => c.args.usergroup === 'S_ADMINS'));
  });

  it('refuses a non-admin switch: ephemeral, nothing changes, audited', async () => {
    const res = await command('switch green', VIEWER, 'switch-viewer');
    assert.equal(res.status, 200);
    const [refusal] = await slack.waitFor(() => responsesFor('switch-viewer').length > 0 && responsesFor('switch-viewer'));
    assert.equal(refusal?.response_type, 'ephemeral');
    assert.match(String(refusal?.text), /only admins may change the system/);
    await slack.waitFor(() => audits.entries.length === 1);
    assert.equal(runner.calls.length, 0);
    assert.equal(runner.active, 'blue');
    assert.equal(audits.entries[0]?.result, 'refused');
    assert.equal(audits.entries[0]?.actor.id, VIEWER);
  });

  it('scale: a bad count is answered in the ack with the limit; a viewer is refused; an admin runs it, audited as typed', async () => {
    const bad = JSON.parse((await command('scale green 51', ADMIN, 'scale-bad')).body) as { text: string };
    assert.match(bad.text, /scale: at most 50 replicas per pool, got 51/);
    assert.match(bad.text, /scale blue\|green N \[--force\] \(Swarm mode only/);

    await command('scale green 3', VIEWER, 'scale-viewer');
    const [refusal] = await slack.waitFor(() => responsesFor('scale-viewer').length > 0 && responsesFor('scale-viewer'));
    assert.match(String(refusal?.text), /only admins may change the system/);
    await slack.waitFor(() => audits.entries.length === 1, 2000, 'audit entry');
    assert.deepEqual([audits.entries[0]?.command, audits.entries[0]?.result, audits.entries[0]?.stage], ['scale green 3', 'refused', 'authorize']);
    assert.equal(runner.calls.length, 0);

    audits.entries.length = 0;
    await command('scale green 3 --force', ADMIN, 'scale-admin');
    await slack.waitFor(() => audits.entries.length === 1, 2000, 'audit entry');
    assert.deepEqual(runner.calls[0]?.cmd, { name: 'scale', pool: 'green', replicas: 3, force: true });
    assert.deepEqual([audits.entries[0]?.command, audits.entries[0]?.result], ['scale green 3 --force', 'ok']);
    const posts = await slack.waitFor(() => responsesFor('scale-admin').some((b) => /scale done/.test(String(b.text))) && responsesFor('scale-admin'));
    assert.match(String(posts.at(-1)?.text), /scale green 3 --force: ok/);
  });

  it('refuses commands from channels outside SLACK_ALLOWED_CHANNELS, even read-only ones', async () => {
    await command('status', ADMIN, 'elsewhere', 'C_RANDOM');
    const [refusal] = await slack.waitFor(() => responsesFor('elsewhere').length > 0 && responsesFor('elsewhere'));
    assert.match(String(refusal?.text), /does not take commands in this channel/);
  });

  it('answers 401 to a forged signature, a stale timestamp and a replay, and acts on none', async () => {
    const body = slashCommandBody({ text: 'switch green', userId: ADMIN, channelId: OPS, responseUrl: slack.responseUrl('forged') });
    const forged = await postSigned({ url, secret: 'not-the-secret', body });
    assert.equal(forged.status, 401);
    const stale = await postSigned({ url, secret: SECRET, body, timestampSec: Math.floor(Date.now() / 1000) - 301 });
    assert.equal(stale.status, 401);
    // A replay: the very same signed request sent again within the 5-minute window.
    const ts = Math.floor(Date.now() / 1000);
    const replayBody = slashCommandBody({ text: 'switch green', userId: ADMIN, channelId: OPS, responseUrl: slack.responseUrl('replay-switch') });
    const once = await postSigned({ url, secret: SECRET, body: replayBody, timestampSec: ts });
    const twice = await postSigned({ url, secret: SECRET, body: replayBody, timestampSec: ts });
    assert.equal(once.status, 200);
    assert.equal(twice.status, 401);
    await slack.waitFor(() => audits.entries.length >= 1, 2000, 'audit entry');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(runner.calls.length, 1, 'only the first delivery ran');
    assert.equal(responsesFor('forged').length, 0);
  });

  describe('alert buttons', () => {
    async function postedAlert(key: string) {
      assert.ok(bot.notifier);
      await bot.notifier.notify(alertEvent({ key, id: `evt-${key}` }));
      return slack.waitFor(() => bot.notifier?.incident(key)?.ts);
    }
    const click = (f: { actionId: string; value: string; userId: string; messageTs: string; responseId: string; actionTs?: string }, headers?: Record<string, string>) =>
      postSigned({
        url,
        secret: SECRET,
        headers,
        body: blockActionBody({ ...f, channelId: ALERTS, responseUrl: slack.responseUrl(f.responseId) }),
      });

    it('posts a failover alert with fitting buttons and confirm dialogs', async () => {
      const ts = await postedAlert('failover:blue');
      const post = slack.callsOf('chat.postMessage').find((c) => c.args.channel === ALERTS && String(JSON.stringify(c.args.blocks)).includes('failover:blue'));
      assert.ok(post, 'alert posted');
      assert.ok(ts);
      const actions = (post.args.blocks as { type: string; elements?: { action_id: string; text: { text: string }; confirm?: unknown }[] }[]).find((b) => b.type === 'actions');
      const labels = actions?.elements?.map((e) => e.text.text);
      assert.deepEqual(labels, ['Switch to green', 'Stop chaos on blue', 'Acknowledge']);
      assert.ok(actions?.elements?.[0]?.confirm, 'switching asks for confirmation');
      assert.match(JSON.stringify(post.args.blocks), /https:\/\/example\.com\/runbook\.md#failover/);
    });

    it('a signed click on Switch moves traffic and updates the alert message with who and the result', async () => {
      const ts = await postedAlert('failover:blue:click');
      const res = await click({ actionId: actionIdFor('switchTo', 'green'), value: JSON.stringify({ k: 'failover:blue:click', p: 'green' }), userId: ADMIN, messageTs: ts, responseId: 'click-1' });
      assert.equal(res.status, 200);
      const update = await slack.waitFor(() =>
        slack.callsOf('chat.update').find((c) => c.args.ts === ts && /pressed \*Switch to green\* — ok/.test(JSON.stringify(c.args.blocks))),
      );
      assert.match(JSON.stringify(update.args.blocks), /<@U_ADMIN>/);
      assert.equal(runner.active, 'green');
      await slack.waitFor(() => audits.entries.length === 1, 2000, 'audit entry');
      const reply = await slack.waitFor(() => slack.callsOf('chat.postMessage').find((c) => c.args.thread_ts === ts && /Switch to green/.test(String(c.args.text))));
      assert.match(String(reply.args.text), /switched to green/);
      assert.equal(audits.entries.at(-1)?.source, 'button');
    });

    it('judges a click by who clicked: a non-admin is refused, nothing changes, audited', async () => {
      const ts = await postedAlert('failover:blue:viewer');
      await click({ actionId: actionIdFor('switchTo', 'green'), value: JSON.stringify({ k: 'failover:blue:viewer', p: 'green' }), userId: VIEWER, messageTs: ts, responseId: 'click-viewer' });
      const [refusal] = await slack.waitFor(() => responsesFor('click-viewer').length > 0 && responsesFor('click-viewer'));
      assert.equal(refusal?.response_type, 'ephemeral');
      assert.equal(refusal?.replace_original, false);
      assert.match(String(refusal?.text), /Switch to green refused: only admins/);
      await slack.waitFor(() => audits.entries.length === 1);
      assert.equal(runner.calls.length, 0);
      assert.equal(runner.active, 'blue');
      assert.equal(audits.entries[0]?.result, 'refused');
    });

    it('acts once on a click Slack delivers twice', async () => {
      const ts = await postedAlert('post_switch_guard:green');
      runner.previous = 'green';
      const f = { actionId: ACTION_IDS.rollback, value: JSON.stringify({ k: 'post_switch_guard:green' }), userId: ADMIN, messageTs: ts, responseId: 'dup', actionTs: '1717210000.123456' };
      assert.equal((await click(f)).status, 200);
      assert.equal((await click(f, { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' })).status, 200);
      await slack.waitFor(() => audits.entries.length === 1, 2000, 'audit entry');
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(runner.calls.length, 1);
    });

    it('"Roll back to blue" runs a rollback that must lead to blue; a value naming another pool is refused', async () => {
      const ts = await postedAlert('post_switch_guard:green:1717210000000');
      runner.previous = 'blue';
      runner.active = 'green';
      const value = (p: string) => JSON.stringify({ k: 'post_switch_guard:green:1717210000000', p });
      await click({ actionId: actionIdFor('rollback', 'blue'), value: value('green'), userId: ADMIN, messageTs: ts, responseId: 'rb-bad' });
      await slack.waitFor(() => responsesFor('rb-bad').length > 0, 2000, 'the refusal');
      assert.equal(runner.calls.length, 0, 'a value that disagrees with the action id runs nothing');
      await click({ actionId: actionIdFor('rollback', 'blue'), value: value('blue'), userId: ADMIN, messageTs: ts, responseId: 'rb-ok' });
      await slack.waitFor(() => runner.calls.length === 1, 2000, 'the rollback');
      assert.deepEqual(runner.calls[0]?.cmd, { name: 'rollback', to: 'blue' });
      await slack.waitFor(() => slack.callsOf('chat.update').find((c) => c.args.ts === ts && /pressed \*Roll back to blue\* — ok/.test(JSON.stringify(c.args.blocks))));
    });

    it('Acknowledge marks the incident without running anything', async () => {
      const ts = await postedAlert('latency:green');
      await click({ actionId: ACTION_IDS.acknowledge, value: JSON.stringify({ k: 'latency:green' }), userId: VIEWER, messageTs: ts, responseId: 'ack' });
      await slack.waitFor(() => slack.callsOf('chat.update').find((c) => c.args.ts === ts && /Acknowledged by <@U_VIEWER>/.test(JSON.stringify(c.args.blocks))));
      assert.equal(runner.calls.length, 0);
    });
  });

  it('keeps secrets out of the log', () => {
    const text = logs.lines().join('\n');
    assert.ok(text.length > 0);
    assert.ok(!text.includes(TOKEN), 'bot token leaked');
    assert.ok(!text.includes(SECRET), 'signing secret leaked');
    assert.match(text, /"component":"slack"/);
  });
});
