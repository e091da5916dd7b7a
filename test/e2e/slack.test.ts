// Slack end to end with the real stack: real nginx, real pools, the real bot container with Bolt's
// HTTP receiver on its published port, and a Slack Web API stand-in running as a service inside
// the compose network (the bot calls it by name; this process reads what it recorded through a
// 127.0.0.1 port). Requests to the bot are signed as Slack signs them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { botMetricsText } from './support/bot-metrics.js';
import { dockerAvailable, run } from './support/docker.js';
import { chaos, startStack, type Stack, type StandInState } from './support/stack.js';
import { ALERTS, auditLines, buttonOf, buttonsOf, eventually, servedByMany, standInOf, tsOf, waitForAlert, waitForUpdate, type Button, type Call } from './support/slack-e2e.js';
import { blockActionBody, postSigned, slackSignature, slashCommandBody } from '../support/slack-stand-in.js';

const SECRET = 'e2e-signing-secret-6f1d0c';
const TOKEN = 'xoxb-e2e-slack-token-93ab';
const ADMIN = 'U_E2E_ADMIN';
const VIEWER = 'U_E2E_VIEWER';
const OPS = 'C_E2E_OPS';
// Fixed by standin.compose.yml: the service is `standin`, its Web API on port 4000.
const STANDIN_API_URL = 'http://standin:4000/api/';

/** Bot env shared by both stacks: Slack in HTTP mode against the stand-in, quick alerts. */
function slackEnv(extra: Record<string, string>): Record<string, string> {
  return {
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: STANDIN_API_URL,
    SLACK_ALERT_CHANNEL: ALERTS,
    SLACK_ADMIN_USERS: ADMIN,
    ENV_NAME: 'e2e-slack',
    ALERT_MIN_REQUESTS: '10',
    WINDOW_SIZE: '50',
    WINDOW_SEC: '30',
    ALERT_COOLDOWN_SEC: '1',
    // The switch's own guard stays quiet for the length of these suites.
    POST_SWITCH_GUARD_SEC: '0',
    LOG_LEVEL: 'debug',
    ...extra,
  };
}

const eventsUrl = (stack: Stack) => `http://127.0.0.1:${stack.ports.bot}/slack/events`;

/** A signed block_actions click on `button` of the alert message `ts`, by `userId`. */
function click(stack: Stack, button: Button, userId: string, ts: string, responseId: string) {
  return postSigned({
    url: eventsUrl(stack),
    secret: SECRET,
    body: blockActionBody({ actionId: button.action_id, value: button.value, userId, channelId: ALERTS, messageTs: ts, responseUrl: standInOf(stack).responseUrl(responseId) }),
  });
}

const docker = await dockerAvailable();

describe('Slack end to end (real stack, signed requests, in-network Web API stand-in)', { skip: docker ? false : 'no Docker engine' }, () => {
  let stack: Stack;
  let events: string;
  const figures: Record<string, number> = {};

  before(async () => {
    stack = await startStack({
      project: 'bge2e-slack',
      standIn: true,
      timeoutMs: 180_000,
      // The failover alert must come from the watcher and the switch from a click: the deploy
      // layer's auto-failover would otherwise demote blue on its own (and race the click).
      env: slackEnv({ AUTO_FAILOVER: 'false' }),
    });
    events = eventsUrl(stack);
  });

  after(async () => {
    process.stdout.write(`${JSON.stringify({ suite: 'e2e-slack', figures })}\n`);
    if (!stack) return;
    if (process.env.BLUEGREEN_E2E_KEEP !== '1') await stack.down();
  });

  const standIn = () => standInOf(stack);

  const command = (text: string, userId: string, responseId: string, channelId = OPS) =>
    postSigned({ url: events, secret: SECRET, body: slashCommandBody({ text, userId, channelId, responseUrl: standIn().responseUrl(responseId) }) });

  const responsesFor = (s: StandInState, id: string) => s.responses.filter((r) => r.id === id).map((r) => r.body);

  it('refuses a forged signature and a stale timestamp with 401, and nothing is answered', async () => {
    const body = slashCommandBody({ text: 'status', userId: ADMIN, channelId: OPS, responseUrl: standIn().responseUrl('forged') });
    const forged = await postSigned({ url: events, secret: 'not-the-secret', body });
    assert.equal(forged.status, 401);
    const stale = await postSigned({ url: events, secret: SECRET, body, timestampSec: Math.floor(Date.now() / 1000) - 6 * 60 });
    assert.equal(stale.status, 401);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(responsesFor(await standIn().state(), 'forged').length, 0);
  });

  it('answers /bluegreen status through response_url with the live stack', async () => {
    const started = Date.now();
    const res = await command('status', VIEWER, 'status-1');
    figures.statusAckMs = Date.now() - started;
    assert.equal(res.status, 200);
    const [body] = await standIn().waitFor('the status answer', (s) => responsesFor(s, 'status-1').length > 0 && responsesFor(s, 'status-1'), 20_000);
    figures.statusAnswerMs = Date.now() - started;
    assert.equal(body?.response_type, 'ephemeral');
    const text = JSON.stringify(body?.blocks);
    assert.match(text, /bluegreen status — e2e-slack/);
    assert.match(text, /\*Active pool:\* `blue`/);
    // Both pools, as Docker and the probes see them.
    assert.match(text, /blue/);
    assert.match(text, /green/);
    assert.match(text, /running/);
  });

  it("refuses a non-admin's switch (ephemeral), changes nothing and audits the refusal", async () => {
    const res = await command('switch green', VIEWER, 'viewer-switch');
    assert.equal(res.status, 200);
    const [answer] = await standIn().waitFor('the refusal', (s) => responsesFor(s, 'viewer-switch').length > 0 && responsesFor(s, 'viewer-switch'), 20_000);
    assert.equal(answer?.response_type, 'ephemeral');
    assert.match(String(answer?.text), /only admins may change the system/);
    // Traffic stays on blue.
    assert.deepEqual(new Set(await servedByMany(stack, 10)), new Set(['blue']));
    const entry = await eventually('the refusal in audit.jsonl', async () =>
      (await auditLines(stack)).find((e) => (e.by as { id?: string } | undefined)?.id === VIEWER && e.result === 'refused'),
    );
    assert.equal(entry.op, 'switch');
    assert.match(String(entry.message), /refused by Slack authorization/);
    assert.equal((entry.args as { via?: string }).via, 'slash_command');
    // Nothing ran: no switch of anyone's is in the audit log.
    assert.equal((await auditLines(stack)).filter((e) => e.op === 'switch' && e.result !== 'refused').length, 0);
  });

  it("refuses an admin's switch replayed with its timestamp or signature spelled differently: traffic does not move again", async () => {
    const s = standIn();
    const body = slashCommandBody({ text: 'switch green', userId: ADMIN, channelId: OPS, responseUrl: s.responseUrl('replayed-switch') });
    const ts = Math.floor(Date.now() / 1000);
    const sig = slackSignature(SECRET, ts, body);
    assert.equal((await postSigned({ url: events, secret: SECRET, body, timestampSec: ts })).status, 200);
    await s.waitFor('the switch to green', (st) => responsesFor(st, 'replayed-switch').some((b) => /switch green: ok/.test(String(b.text))), 30_000);
    assert.deepEqual(new Set(await servedByMany(stack, 10)), new Set(['green']));
    // Back to blue, so that the captured request running again would show: traffic on green.
    await command('switch blue', ADMIN, 'replay-back');
    await s.waitFor('the switch back to blue', (st) => responsesFor(st, 'replay-back').some((b) => /switch blue: ok/.test(String(b.text))), 30_000);
    // Each of these passes Bolt's own check with the captured signature.
    const spellings = [
      { ts: `0${ts}`, sig },
      { ts: `${ts}.0`, sig },
      { ts: `+${ts}`, sig },
      { ts: `${ts}e0`, sig },
      { ts: `0x${ts.toString(16)}`, sig },
      { ts: String(ts), sig: `${sig}=x` },
      { ts: String(ts), sig },
    ];
    for (const again of spellings) {
      const res = await fetch(events, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': again.ts, 'x-slack-signature': again.sig },
        body,
      });
      assert.equal(res.status, 401, `${again.ts} ${again.sig.slice(-6)}`);
    }
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(new Set(await servedByMany(stack, 10)), new Set(['blue']), 'the replays did not switch traffic again');
    const greens = (await auditLines(stack)).filter((e) => e.op === 'switch' && e.result === 'ok' && (e.args as { pool?: string }).pool === 'green');
    assert.equal(greens.length, 1, JSON.stringify(greens));
  });

  it('answers 400 to a signed payload=null and a JSON null body, and the bot container keeps running', async () => {
    const inspect = async () => {
      const id = (await stack.compose('ps', '-q', 'bot')).stdout.trim();
      const r = await run('docker', ['inspect', '-f', '{{.State.StartedAt}} {{.RestartCount}} {{.State.Running}}', id]);
      return r.stdout.trim();
    };
    const before = await inspect();
    assert.match(before, / 0 true$/);
    assert.equal((await postSigned({ url: events, secret: SECRET, body: 'payload=null' })).status, 400);
    assert.equal((await postSigned({ url: events, secret: SECRET, body: 'null', headers: { 'content-type': 'application/json' } })).status, 400);
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(await inspect(), before, 'same start time, no restart');
    assert.equal((await fetch(`http://127.0.0.1:${stack.ports.bot}/healthz`)).status, 200);
    // The public port serves no figures: /metrics and /pool-stats are on the metrics listener,
    // 127.0.0.1 inside the container.
    assert.equal((await fetch(`http://127.0.0.1:${stack.ports.bot}/metrics`)).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${stack.ports.bot}/pool-stats`)).status, 404);
    const metrics = await botMetricsText(stack);
    assert.match(metrics, /bluegreen_http_request_errors_total\{route="\/slack\/events",reason="bad_payload"\} 2/);
  });

  it('chaos on blue -> failover alert with buttons -> admin clicks "Switch to green" -> traffic moves, the alert is updated in place', async () => {
    const s = standIn();
    const t0 = Date.now();
    await chaos(stack, 'blue', 'start', 'error');
    // Traffic through nginx: blue answers 500, nginx retries on green, the access log says so.
    const served = await servedByMany(stack, 20);
    assert.ok(served.every((p) => p === 'green'), `clients are served by the backup during chaos: ${served.join(',')}`);

    const alert = await waitForAlert(stack, 'failover:blue', 'bg_switch_to.green', 'the failover alert with a "Switch to green" button');
    figures.chaosToAlertMs = Date.now() - t0;
    assert.match(String(alert.args.text), /e2e-slack/);
    const labels = buttonsOf(alert).map((b) => b.text.text);
    assert.ok(labels.includes('Switch to green'), labels.join(', '));
    assert.ok(labels.includes('Stop chaos on blue'), labels.join(', '));
    const switchButton = buttonOf(alert, 'bg_switch_to.green');
    const ts = tsOf(alert);

    // A viewer presses the button first: judged by who clicked, so refused and nothing moves.
    const refused = await click(stack, switchButton, VIEWER, ts, 'viewer-click');
    assert.equal(refused.status, 200);
    const [refusal] = await s.waitFor('the click refusal', (st) => responsesFor(st, 'viewer-click').length > 0 && responsesFor(st, 'viewer-click'), 20_000);
    assert.equal(refusal?.response_type, 'ephemeral');
    assert.match(String(refusal?.text), /Switch to green refused: only admins/);

    const clickAt = Date.now();
    const pressed = await click(stack, switchButton, ADMIN, ts, 'admin-click');
    figures.clickAckMs = Date.now() - clickAt;
    assert.equal(pressed.status, 200);
    await waitForUpdate(stack, ts, ADMIN, 'Switch to green');
    figures.clickToUpdateMs = Date.now() - clickAt;
    // One message per incident: the click did not post a new top-level message about the alert.
    const later = await s.state();
    const topLevel = later.calls.filter((c) => c.method === 'chat.postMessage' && c.args.thread_ts === undefined && buttonsOf(c).some((b) => /"k":"failover:blue"/.test(b.value)));
    assert.equal(topLevel.length, 1);
    // Its thread carries the detail.
    await s.waitFor(
      'the thread reply about the click',
      (st) => st.calls.find((c) => c.method === 'chat.postMessage' && c.args.thread_ts === ts && new RegExp(`<@${ADMIN}> pressed`).test(String(c.args.text))),
      20_000,
    );

    // Traffic moved for good: with blue healed, nginx still sends everything to green.
    await chaos(stack, 'blue', 'stop');
    await eventually('blue to be healthy again', async () => (await fetch(stack.poolUrl('blue', '/healthz'))).ok, 10_000);
    const afterSwitch = await servedByMany(stack, 20);
    assert.deepEqual(new Set(afterSwitch), new Set(['green']), afterSwitch.join(','));

    const entry = await eventually('the switch in audit.jsonl', async () =>
      (await auditLines(stack)).find((e) => e.op === 'switch' && e.result === 'ok' && (e.by as { id?: string } | undefined)?.id === ADMIN),
    );
    assert.ok(entry);
    // Status agrees.
    await command('status', VIEWER, 'status-2');
    const [status] = await s.waitFor('the second status answer', (st) => responsesFor(st, 'status-2').length > 0 && responsesFor(st, 'status-2'), 20_000);
    assert.match(JSON.stringify(status?.blocks), /\*Active pool:\* `green`/);
  });

  it('quiet mode from Slack: the failover is held back, all pools down still pages, End now ends it and the announcement says what was held back', async () => {
    const s = standIn();
    const since = (await s.state()).now;
    const res = await command('maintenance on for 10m e2e quiet window', ADMIN, 'maint-on');
    assert.equal(res.status, 200);
    const announcement = await s.waitFor(
      'the maintenance announcement',
      (st) => st.calls.find((c) => c.method === 'chat.postMessage' && c.at >= since && c.args.channel === ALERTS && buttonsOf(c).some((b) => b.action_id === 'bg_maintenance_end')),
      20_000,
    );
    assert.match(JSON.stringify(announcement.args.blocks), /Maintenance on\* until .*started by <@U_E2E_ADMIN> — _e2e quiet window_/);

    // Chaos on the active pool (green): the backup serves, a failover that maintenance holds back.
    await chaos(stack, 'green', 'start', 'error');
    await servedByMany(stack, 40);
    await eventually('the failover held back', async () => /bluegreen_alerts_total\{kind="failover",status="suppressed"\} [1-9]/.test(await botMetricsText(stack)));
    // Both pools down is critical: it pages through maintenance.
    await chaos(stack, 'blue', 'start', 'error');
    await servedByMany(stack, 10);
    const down = await s.waitFor('the all-pools-down alert', (st) => st.calls.find((c) => c.method === 'chat.postMessage' && c.at >= since && /all_down/.test(JSON.stringify(c.args.blocks))), 30_000);
    assert.ok(down);
    const failoverPosts = (await s.state()).calls.filter((c) => c.method === 'chat.postMessage' && c.at >= since && c.args.thread_ts === undefined && /"k":"failover:green/.test(JSON.stringify(c.args.blocks)));
    assert.equal(failoverPosts.length, 0, 'the failover was held back');
    await chaos(stack, 'blue', 'stop');
    await chaos(stack, 'green', 'stop');

    const ts = tsOf(announcement);
    const ended = await click(stack, buttonOf(announcement, 'bg_maintenance_end'), ADMIN, ts, 'maint-end');
    assert.equal(ended.status, 200);
    const over = await s.waitFor(
      'the announcement updated: over, with what was held back',
      (st) => st.calls.find((c) => c.method === 'chat.update' && c.args.ts === ts && /Maintenance over/.test(JSON.stringify(c.args.blocks))),
      20_000,
    );
    const text = JSON.stringify(over.args.blocks);
    assert.match(text, /ended by <@U_E2E_ADMIN>/);
    assert.match(text, /Held back \d+ alerts?:.*failover green ×\d+/);
    assert.doesNotMatch(text, /bg_maintenance_end/);
  });
});

describe('Slack end to end: the auto-demote alert, healed and switched back by clicks', { skip: docker ? false : 'no Docker engine' }, () => {
  let stack: Stack;
  const figures: Record<string, number> = {};

  before(async () => {
    stack = await startStack({
      project: 'bge2e-slack-auto',
      standIn: true,
      timeoutMs: 180_000,
      // Here the deploy layer demotes blue by itself and says so in Slack; the people fix it.
      env: slackEnv({ AUTO_FAILOVER: 'true', AUTO_FAILOVER_AFTER: '2', HEALTH_CHECK_INTERVAL_MS: '500' }),
    });
  });

  after(async () => {
    process.stdout.write(`${JSON.stringify({ suite: 'e2e-slack-auto', figures })}\n`);
    if (!stack) return;
    if (process.env.BLUEGREEN_E2E_KEEP !== '1') await stack.down();
  });

  it('chaos on blue -> auto-demote alert -> "Stop chaos on blue", then, once blue is healthy, "Switch to blue" -> traffic back on blue, one message updated in place', async () => {
    const s = standInOf(stack);
    const t0 = Date.now();
    await chaos(stack, 'blue', 'start', 'error');
    // Each auto-demote is an incident of its own: auto_failover:blue:<when>.
    const isDemote = (c: Call) => c.args.channel === ALERTS && buttonsOf(c).some((b) => /"k":"auto_failover:blue:\d+"/.test(b.value));
    const alert = await s.waitFor('the auto-demote alert', (st) => st.calls.find((c) => c.method === 'chat.postMessage' && isDemote(c)), 45_000);
    figures.chaosToAlertMs = Date.now() - t0;
    assert.deepEqual(new Set(await servedByMany(stack, 10)), new Set(['green']));
    // Buttons fit the facts: blue is unhealthy, so no "Switch to blue" yet; the alert says why.
    assert.deepEqual(buttonsOf(alert).map((b) => b.action_id), ['bg_stop_chaos.blue', 'bg_acknowledge']);
    assert.match(JSON.stringify(alert.args.blocks), /Switch back to blue is not offered: blue is unhealthy/);
    const ts = tsOf(alert);

    const heal = await click(stack, buttonOf(alert, 'bg_stop_chaos.blue'), ADMIN, ts, 'auto-heal');
    assert.equal(heal.status, 200);
    await waitForUpdate(stack, ts, ADMIN, 'Stop chaos on blue');
    // Healed is not switched: traffic stays on green until someone says so. The incident resolves
    // when blue passes its checks again, and its message then offers "Switch to blue". (The button
    // may come a moment earlier, on the click's own update, when blue's next check passed first:
    // buttons follow the facts.)
    const resolved = await s.waitFor(
      'the auto-demote resolved, offering Switch to blue',
      (st) =>
        st.calls.find(
          (c) => c.method === 'chat.update' && c.args.ts === ts && /RESOLVED/.test(String(c.args.text)) && buttonsOf(c).some((b) => b.action_id === 'bg_switch_to.blue'),
        ),
      20_000,
    );
    assert.match(String(resolved.args.text), /RESOLVED/);
    assert.deepEqual(new Set(await servedByMany(stack, 10)), new Set(['green']));

    const clickAt = Date.now();
    const back = await click(stack, buttonOf(resolved, 'bg_switch_to.blue'), ADMIN, ts, 'auto-back');
    assert.equal(back.status, 200);
    const updated = await waitForUpdate(stack, ts, ADMIN, 'Switch to blue');
    figures.clickToUpdateMs = Date.now() - clickAt;
    // Both actions on the one message, oldest first.
    const text = JSON.stringify(updated.args.blocks);
    assert.ok(text.indexOf('Stop chaos on blue* — ok') < text.indexOf('Switch to blue* — ok'), text);
    const served = await servedByMany(stack, 20);
    assert.deepEqual(new Set(served), new Set(['blue']), served.join(','));
    const st = await s.state();
    assert.equal(st.calls.filter((c) => c.method === 'chat.postMessage' && isDemote(c)).length, 1);
  });
});
