import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseCommand, USAGE } from '../../../src/commands/parse-command.js';
import { loadConfig } from '../../../src/config.js';
import type { AuditEntry } from '../../../src/shared/audit-entry.js';
import { HttpServer } from '../../../src/http-server.js';
import { createSlackBot, type SlackBot } from '../../../src/bot/slack-bot.js';
import { SlackStandIn } from '../../support/slack-stand-in.js';
import { alertEvent, AuditSink, capturedLogger, FakeRunner, statusView } from './fixtures.js';

// The maintenance announcement: one message per window, from the audit log (Slack, CLI or timer),
// updated in place when extended and when it ends, with what it held back.

const ana = { kind: 'slack' as const, id: 'U_ANA', name: 'ana' };
const entry = (args: Record<string, unknown>, maintenance: AuditEntry['maintenance'], by: AuditEntry['by'] = ana): AuditEntry => ({
  at: new Date().toISOString(),
  by,
  op: 'maintenance',
  args,
  result: 'ok',
  message: 'm',
  durationMs: 3,
  ...(maintenance ? { maintenance } : {}),
});

describe('maintenance announcement', () => {
  const slack = new SlackStandIn();
  let bot: SlackBot;

  before(async () => {
    await slack.start();
    bot = createSlackBot({
      config: loadConfig({ SLACK_BOT_TOKEN: 'xoxb-m', SLACK_SIGNING_SECRET: 's', SLACK_API_URL: slack.apiUrl, SLACK_ALERT_CHANNEL: 'C_ALERTS' }),
      log: capturedLogger('warn').log,
      http: new HttpServer(capturedLogger('warn').log),
      deps: { parse: parseCommand, runner: new FakeRunner(), status: async () => ({ status: 'ok' as const, message: 'status', data: statusView() }), audit: new AuditSink().audit, usage: USAGE },
      outbox: { minIntervalMs: 0, backoffMs: 20, maxBackoffMs: 100 },
    });
  });

  after(async () => {
    await bot.stop();
    await slack.stop();
  });

  it('announces who, why, until when and the page; counts what it holds back; updates in place on extend and end', async () => {
    const n = bot.notifier!;
    const since = '2026-11-30T12:00:00.000Z';
    n.audit(entry({ on: true, durationMs: 1_800_000, page: true, reason: 'db upgrade' }, { on: true, since, until: '2026-11-30T12:30:00.000Z', by: ana, reason: 'db upgrade', page: true }));
    await bot.outbox.drain();
    const post = slack.callsOf('chat.postMessage').find((c) => c.args.channel === 'C_ALERTS');
    assert.ok(post);
    const blocks = JSON.stringify(post.args.blocks);
    assert.match(blocks, /Maintenance on\* until .*started by <@U_ANA> — _db upgrade_/);
    assert.match(blocks, /critical ones \(all pools down\) still page/);
    assert.match(blocks, /Maintenance page is up/);
    assert.match(blocks, /"action_id":"bg_maintenance_end".*"action_id":"bg_maintenance_extend"/);
    assert.match(blocks, /The maintenance page comes down/, 'End now asks first while the page is up');
    assert.match(blocks, /runbook\.md#planned-maintenance/);
    const ts = await slack.waitFor(() => n.incident(`maintenance:${Date.parse(since)}`)?.ts);

    n.heldBack({ key: 'failover:blue', at: '2026-11-30T12:01:00.000Z' });
    n.heldBack({ key: 'failover:blue', at: '2026-11-30T12:07:00.000Z' });
    n.heldBack({ key: 'error_rate:all', at: '2026-11-30T12:02:00.000Z' });

    n.audit(entry({ extendMs: 1_800_000 }, { on: true, since, until: '2026-11-30T13:00:00.000Z', by: ana, reason: 'db upgrade', page: true }, { kind: 'cli', id: 'root', name: 'root' }));
    await bot.outbox.drain();
    const extended = slack.callsOf('chat.update').find((c) => c.args.ts === ts && /Extended by cli:root/.test(JSON.stringify(c.args.blocks)));
    assert.ok(extended, 'updated in place when extended');
    assert.match(JSON.stringify(extended.args.blocks), /Held back 3 alerts/);

    // The expiry notice the timer raises is shown on the announcement, not as a message of its own.
    await n.notify(alertEvent({ kind: 'maintenance_expired', key: 'maintenance_expired:all', status: 'resolved' }));
    n.audit(entry({ on: false, expired: true }, { on: false, since: undefined, until: undefined, by: { kind: 'auto', id: 'maintenance-timer' }, reason: undefined, page: false }, { kind: 'auto', id: 'maintenance-timer', name: 'maintenance timer' }));
    await bot.outbox.drain();
    const ended = slack.callsOf('chat.update').filter((c) => c.args.ts === ts).at(-1);
    const text = JSON.stringify(ended?.args.blocks);
    assert.match(text, /Maintenance over/);
    assert.match(text, /ended by itself/);
    assert.match(text, /failover blue ×2/);
    assert.match(text, /error rate ×1/);
    assert.doesNotMatch(text, /bg_maintenance_end/, 'no buttons once over');
    assert.equal(slack.callsOf('chat.postMessage').filter((c) => c.args.channel === 'C_ALERTS' && c.args.thread_ts === undefined).length, 1, 'one message for the whole window');
    // A new window is a new message.
    n.audit(entry({ on: true }, { on: true, since: '2026-11-30T15:00:00.000Z', until: '2026-11-30T16:00:00.000Z', by: ana, reason: undefined, page: false }));
    await bot.outbox.drain();
    assert.equal(slack.callsOf('chat.postMessage').filter((c) => c.args.channel === 'C_ALERTS' && c.args.thread_ts === undefined).length, 2);
  });
});
