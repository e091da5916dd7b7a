// Slack in Socket Mode end to end with the real stack: the real bot container runs Bolt's
// SocketModeReceiver, opens its link through apps.connections.open on the in-network stand-in and
// receives slash commands and clicks as envelopes over ws://standin:4002. The test drives the
// stand-in through its 127.0.0.1 control port; nothing reaches the bot over HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dockerAvailable } from './support/docker.js';
import { chaos, startStack, type Stack, type StandInState } from './support/stack.js';
import { ALERTS, auditLines, buttonOf, eventually, servedByMany, standInOf, tsOf, waitForAlert, waitForUpdate } from './support/slack-e2e.js';

const APP_TOKEN = 'xapp-1-A0E2E-socket-e2e-token';
const TOKEN = 'xoxb-e2e-socket-token-77c1';
const ADMIN = 'U_E2E_SOCKET_ADMIN';
const VIEWER = 'U_E2E_SOCKET_VIEWER';
const OPS = 'C_E2E_OPS';

const docker = await dockerAvailable();

describe('Slack end to end over Socket Mode (real stack, real SocketModeReceiver, in-network stand-in)', { skip: docker ? false : 'no Docker engine' }, () => {
  let stack: Stack;
  const figures: Record<string, number> = {};

  before(async () => {
    stack = await startStack({
      project: 'bge2e-socket',
      standIn: true,
      timeoutMs: 180_000,
      env: {
        STANDIN_APP_TOKEN: APP_TOKEN,
        SLACK_APP_TOKEN: APP_TOKEN,
        SLACK_BOT_TOKEN: TOKEN,
        SLACK_API_URL: 'http://standin:4000/api/',
        SLACK_ALERT_CHANNEL: ALERTS,
        SLACK_ADMIN_USERS: ADMIN,
        ENV_NAME: 'e2e-socket',
        ALERT_MIN_REQUESTS: '10',
        WINDOW_SIZE: '50',
        WINDOW_SEC: '30',
        ALERT_COOLDOWN_SEC: '1',
        POST_SWITCH_GUARD_SEC: '0',
        // The switch must come from the click, not from the deploy layer's own demotion.
        AUTO_FAILOVER: 'false',
      },
    });
  });

  after(async () => {
    process.stdout.write(`${JSON.stringify({ suite: 'e2e-slack-socket', figures })}\n`);
    if (!stack) return;
    if (process.env.BLUEGREEN_E2E_KEEP !== '1') await stack.down();
  });

  const standIn = () => standInOf(stack);
  const responsesFor = (s: StandInState, id: string) => s.responses.filter((r) => r.id === id).map((r) => r.body);
  const slash = (text: string, userId: string, responseId: string) =>
    standIn().socket({ op: 'socketSlash', fields: { text, userId, channelId: OPS, responseUrl: standIn().responseUrl(responseId) } });

  it('opens its link with the app-level token and completes the handshake', async () => {
    const s = await standIn().waitFor('a Socket Mode connection from the bot', (st) => (st.socket?.connections ?? 0) >= 1 && st.socket, 60_000);
    assert.equal(s.open, 1);
    assert.ok(s.opens.every((ok) => ok), `every apps.connections.open was authorized: ${s.opens.join(',')}`);
  });

  it('acks /bluegreen status on the socket and answers through response_url with the live stack', async () => {
    const started = Date.now();
    const ack = await slash('status', VIEWER, 'sock-status');
    figures.statusAckMs = ack.at - started;
    const [body] = await standIn().waitFor('the status answer', (s) => responsesFor(s, 'sock-status').length > 0 && responsesFor(s, 'sock-status'), 20_000);
    figures.statusAnswerMs = Date.now() - started;
    assert.equal(body?.response_type, 'ephemeral');
    const text = JSON.stringify(body?.blocks);
    assert.match(text, /bluegreen status — e2e-socket/);
    assert.match(text, /\*Active pool:\* `blue`/);
  });

  it('chaos on blue -> failover alert -> "Switch to green" clicked over the socket -> traffic moves, the alert is updated', async () => {
    const t0 = Date.now();
    await chaos(stack, 'blue', 'start', 'error');
    await servedByMany(stack, 20);
    const alert = await waitForAlert(stack, 'failover:blue', 'bg_switch_to.green', 'the failover alert with a "Switch to green" button');
    figures.chaosToAlertMs = Date.now() - t0;
    const button = buttonOf(alert, 'bg_switch_to.green');
    const ts = tsOf(alert);

    const clickAt = Date.now();
    const ack = await standIn().socket({
      op: 'socketClick',
      fields: { actionId: button.action_id, value: button.value, userId: ADMIN, channelId: ALERTS, messageTs: ts, responseUrl: standIn().responseUrl('sock-click') },
    });
    figures.clickAckMs = ack.at - clickAt;
    await waitForUpdate(stack, ts, ADMIN, 'Switch to green');
    figures.clickToUpdateMs = Date.now() - clickAt;

    await chaos(stack, 'blue', 'stop');
    await eventually('blue to be healthy again', async () => (await fetch(stack.poolUrl('blue', '/healthz'))).ok, 10_000);
    const served = await servedByMany(stack, 20);
    assert.deepEqual(new Set(served), new Set(['green']), served.join(','));
    await eventually('the switch by the admin in audit.jsonl', async () =>
      (await auditLines(stack)).find((e) => e.op === 'switch' && e.result === 'ok' && (e.by as { id?: string } | undefined)?.id === ADMIN),
    );
  });

  it("a viewer's switch over the socket is refused and changes nothing", async () => {
    await slash('switch blue', VIEWER, 'sock-viewer');
    const [answer] = await standIn().waitFor('the refusal', (s) => responsesFor(s, 'sock-viewer').length > 0 && responsesFor(s, 'sock-viewer'), 20_000);
    assert.match(String(answer?.text), /only admins may change the system/);
    assert.deepEqual(new Set(await servedByMany(stack, 10)), new Set(['green']));
  });

  it('reconnects when Slack asks for a refresh, and keeps answering', async () => {
    const before = (await standIn().state()).socket?.connections ?? 0;
    const asked = Date.now();
    await standIn().socket({ op: 'socketRefresh' });
    await standIn().waitFor('a new connection after the refresh', (st) => (st.socket?.connections ?? 0) > before && (st.socket?.open ?? 0) >= 1 && st.socket, 30_000);
    figures.refreshReconnectMs = Date.now() - asked;
    await slash('status', VIEWER, 'sock-after-refresh');
    const [body] = await standIn().waitFor('status after the refresh', (s) => responsesFor(s, 'sock-after-refresh').length > 0 && responsesFor(s, 'sock-after-refresh'), 20_000);
    assert.match(JSON.stringify(body?.blocks), /\*Active pool:\* `green`/);
  });
});
