import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createApp, type App } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { postSigned, SlackStandIn, slashCommandBody } from '../../support/slack-stand-in.js';
import { capturedLogger } from './fixtures.js';

// The whole app in Slack HTTP mode: Slack's requests arrive on the bot's one listener (BOT_PORT)
// next to /healthz, with no second port.

describe('app wiring: Slack HTTP mode on the bot listener', () => {
  const slack = new SlackStandIn();
  let app: App;
  let base: string;

  before(async () => {
    await slack.start();
    const dir = mkdtempSync(join(tmpdir(), 'bg-slack-app-'));
    const config = loadConfig({
      SLACK_BOT_TOKEN: 'xoxb-wiring',
      SLACK_SIGNING_SECRET: 'wiring-secret',
      SLACK_API_URL: slack.apiUrl,
      SLACK_ALERT_CHANNEL: 'C_ALERTS',
      BOT_PORT: '0',
      BOT_HOST: '127.0.0.1',
      STATE_DIR: join(dir, 'state'),
      NGINX_STATE_DIR: join(dir, 'nginx'),
      AUTO_FAILOVER: 'false',
      DOCKER_SOCKET: join(dir, 'no-docker.sock'),
      LOG_LEVEL: 'warn',
    });
    app = createApp({ config, log: capturedLogger('warn').log });
    const addr = await app.start();
    base = `http://127.0.0.1:${addr.port}`;
  });

  after(async () => {
    await app.stop();
    await slack.stop();
  });

  it('answers a signed /bluegreen help on POST /slack/events and still serves /healthz', async () => {
    const res = await postSigned({
      url: `${base}/slack/events`,
      secret: 'wiring-secret',
      body: slashCommandBody({ text: 'help', userId: 'U1', channelId: 'C1', responseUrl: slack.responseUrl('help') }),
    });
    assert.equal(res.status, 200);
    const [help] = await slack.waitFor(() => slack.responses.filter((r) => r.id === 'help').length > 0 && slack.responses.filter((r) => r.id === 'help'));
    assert.match(JSON.stringify(help?.body.blocks), /bluegreen status/);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const unsigned = await fetch(`${base}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'command=%2Fbluegreen&text=switch+green' });
    assert.equal(unsigned.status, 401);
  });
});
