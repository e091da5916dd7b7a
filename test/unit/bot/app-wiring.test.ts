import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { App } from '../../../src/app.js';
import { createStateStore } from '../../../src/deploy/state/state-store.js';
import { postSigned, SlackStandIn, slashCommandBody } from '../../support/slack-stand-in.js';
import { startSlackHttpApp } from './fixtures.js';

// The whole app in Slack HTTP mode: Slack's requests arrive on the bot's public listener (BOT_PORT)
// next to /healthz; /metrics and /pool-stats are on the metrics listener (METRICS_PORT, 127.0.0.1)
// only.

describe('app wiring: Slack HTTP mode on the bot listener', () => {
  const slack = new SlackStandIn();
  let app: App;
  let base: string;
  let metricsBase: string;
  let metricsHost: string;
  let stateDir: string;

  before(async () => {
    await slack.start();
    const started = await startSlackHttpApp(slack.apiUrl);
    ({ app, stateDir } = started);
    base = `http://127.0.0.1:${started.bot.port}`;
    metricsBase = `http://127.0.0.1:${started.metrics.port}`;
    metricsHost = started.metrics.address;
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

  it('serves /metrics and /pool-stats on the metrics listener, bound to 127.0.0.1 by default; the public listener answers 404 to both', async () => {
    assert.equal(metricsHost, '127.0.0.1');
    const metrics = await fetch(`${metricsBase}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /^# HELP bluegreen_/m);
    // The watcher's figures for the CLI's status (a process of its own).
    const stats = (await (await fetch(`${metricsBase}/pool-stats`)).json()) as Record<string, { retried5m: number; samples: number }>;
    assert.deepEqual(Object.keys(stats).sort(), ['blue', 'green']);
    assert.equal(stats.blue?.retried5m, 0);
    for (const path of ['/metrics', '/pool-stats', '/metrics?format=text', '/pool-stats?x=1']) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 404, `public ${path}`);
      assert.doesNotMatch(await res.text(), /bluegreen_|retried5m/);
    }
    // And the metrics listener is not a second door for Slack or the health check.
    assert.equal((await fetch(`${metricsBase}/healthz`)).status, 404);
    assert.equal((await fetch(`${metricsBase}/slack/events`, { method: 'POST', body: 'x' })).status, 404);
  });

  it('posts every action of the audit log to the channel, the CLI\'s too: a switch message with Roll back to blue', async () => {
    // What `docker compose exec bot bluegreen switch green` leaves behind: one line in the audit log.
    const cli = createStateStore(stateDir);
    await cli.audit({
      at: new Date().toISOString(),
      by: { kind: 'cli', id: 'root', name: 'root' },
      op: 'switch',
      args: { pool: 'green', force: false },
      result: 'ok',
      message: 'Switched blue -> green: nginx serves green (14 ms)',
      durationMs: 20,
      switch: { from: 'blue', to: 'green', ms: 14, release: 'green-v2' },
    });
    await cli.audit({ at: new Date().toISOString(), by: { kind: 'cli', id: 'root', name: 'root' }, op: 'chaos_stop', args: { pool: 'blue' }, result: 'ok', message: 'Chaos stopped on blue', durationMs: 3 });
    const posts = await slack.waitFor(() => {
      const p = slack.callsOf('chat.postMessage').filter((c) => c.args.channel === 'C_ALERTS');
      return p.length >= 2 && p;
    }, 5000);
    const sw = JSON.stringify(posts[0]?.args.blocks);
    assert.match(String(posts[0]?.args.text), /Switched blue → green by cli:root · release green-v2 · 14 ms/);
    assert.match(sw, /"action_id":"bg_rollback\.blue"/);
    assert.match(sw, /Roll back to blue/);
    assert.match(String(posts[1]?.args.text), /audit: root chaos stop blue -> ok/);
  });
});
