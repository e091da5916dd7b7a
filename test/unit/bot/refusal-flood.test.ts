import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { App } from '../../../src/app.js';
import { auditFileOf } from '../../../src/deploy/state/state-store.js';
import { SUPPRESSED_REFUSALS, type AuditEntry } from '../../../src/shared/audit-entry.js';
import { postSigned, SlackStandIn, slashCommandBody } from '../../support/slack-stand-in.js';
import { startSlackHttpApp } from './fixtures.js';

// Anyone in the workspace can type /bluegreen: a user who is not an admin asking again and again
// must not grow the audit log and the channel by a line per try.

describe('a flood of refused commands through Slack', () => {
  const slack = new SlackStandIn();
  let app: App;
  let base: string;
  let stateDir: string;

  before(async () => {
    await slack.start();
    const started = await startSlackHttpApp(slack.apiUrl, { SLACK_ADMIN_USERS: 'U_ADMIN', AUDIT_REFUSALS_PER_MIN: '3' });
    ({ app, stateDir } = started);
    base = `http://127.0.0.1:${started.bot.port}`;
  });

  after(async () => {
    await app.stop().catch(() => undefined);
    await slack.stop();
  });

  const auditLines = async () =>
    (await readFile(auditFileOf(stateDir), 'utf8').catch(() => ''))
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as AuditEntry);

  it('writes and posts the first few refusals of a user, then one line that counts the rest', async () => {
    const tries = 25;
    for (let i = 0; i < tries; i += 1) {
      const res = await postSigned({
        url: `${base}/slack/events`,
        secret: 'wiring-secret',
        body: slashCommandBody({ text: 'switch green', userId: 'U_MALLORY', userName: 'mallory', channelId: 'C1', responseUrl: slack.responseUrl(`try-${i}`) }),
      });
      assert.equal(res.status, 200);
    }
    // Each try is still answered to the person who asked.
    await slack.waitFor(() => slack.responses.filter((r) => r.id.startsWith('try-')).length === tries, 10_000, 'every try answered');
    await slack.waitFor(async () => (await auditLines()).length >= 3, 5000);
    const auditPosts = () => slack.callsOf('chat.postMessage').filter((c) => c.args.channel === 'C_ALERTS' && /^audit:/.test(String(c.args.text)));
    await slack.waitFor(() => auditPosts().length >= 3, 5000, 'three audit lines posted');
    await new Promise((r) => setTimeout(r, 1200)); // two more reads of the audit feed: nothing else comes
    const written = await auditLines();
    assert.equal(written.length, 3, `three refusals written one by one, not ${written.length}`);
    assert.ok(written.every((l) => l.result === 'refused' && l.by.id === 'U_MALLORY'));
    assert.equal(auditPosts().length, 3);

    // Shutdown does not lose the count: it is written before the audit feed's last read.
    await app.stop();
    const summary = (await auditLines()).filter((l) => l.op === SUPPRESSED_REFUSALS);
    assert.equal(summary.length, 1);
    assert.equal(summary[0]?.args.count, tries - 3);
    assert.match(summary[0]?.message ?? '', /22 more refusals from mallory suppressed/);
  });
});
