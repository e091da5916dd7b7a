import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { USAGE } from '../../../src/commands/parse-command.js';
import { buildAlertMessage, buttonsFor, EMPTY_INCIDENT, offers, type AlertFacts, type IncidentView } from '../../../src/bot/blocks/alert.js';
import type { Pool } from '../../../src/pool.js';
import { buildAuditMessage } from '../../../src/bot/blocks/audit.js';
import { buildMaintenanceMessage, type MaintenanceView } from '../../../src/bot/blocks/maintenance.js';
import { SUPPRESSED_REFUSALS, type AuditEntry } from '../../../src/shared/audit-entry.js';
import { checkBlockKitLimits } from '../../../src/bot/blocks/check-limits.js';
import { buildHelpMessage, buildUsageMessage } from '../../../src/bot/blocks/help.js';
import type { Message } from '../../../src/bot/blocks/kit.js';
import { buildProgressMessage } from '../../../src/bot/blocks/progress.js';
import { buildStatusMessage } from '../../../src/bot/blocks/status.js';
import { ACTION_ID_PATTERN, RUNBOOK_ANCHORS } from '../../../src/bot/ids.js';
import { helpEntries } from '../../../src/bot/ports.js';
import type { AlertKind } from '../../../src/shared/alert.js';
import { alertEvent, statusView } from './fixtures.js';

// Golden JSON for every message kind (UPDATE_GOLDEN=1 rewrites them after a deliberate change),
// and Slack's limits checked on every builder with worst-case inputs.

function golden(name: string, message: Message): void {
  const file = new URL(`./golden/${name}.json`, import.meta.url);
  const text = `${JSON.stringify(message, null, 2)}\n`;
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) writeFileSync(file, text);
  assert.equal(text, readFileSync(file, 'utf8'), `golden ${name} differs (UPDATE_GOLDEN=1 to accept)`);
}

function assertWithinLimits(m: Message, what: string): void {
  assert.deepEqual(checkBlockKitLimits(m), [], `${what} breaks Slack limits`);
}

const KINDS = Object.keys(RUNBOOK_ANCHORS) as AlertKind[];
const acted: IncidentView = {
  repeats: 2,
  resolvedAt: undefined,
  acknowledgedBy: 'U_ONCALL',
  actions: [{ userId: 'U_ADMIN', label: 'Switch to green', state: 'ok', detail: 'switched to green', at: '2024-06-01T03:01:00.000Z' }],
};

describe('Block Kit builders: golden JSON', () => {
  it('failover alert, firing', () => golden('alert-failover-firing', buildAlertMessage(alertEvent(), EMPTY_INCIDENT, { runbookUrl: 'https://example.com/runbook.md' })));
  it('failover alert after a click, an acknowledgement and repeats', () =>
    golden('alert-failover-acted', buildAlertMessage(alertEvent(), acted, { runbookUrl: undefined })));
  it('error-rate alert, resolved', () =>
    golden(
      'alert-error-rate-resolved',
      buildAlertMessage(
        alertEvent({ kind: 'error_rate', key: 'error_rate:blue', status: 'resolved', severity: 'warning', title: 'Error rate on blue', explainedBy: ['chaos on blue'], at: '2024-06-01T03:04:02.000Z' }),
        EMPTY_INCIDENT,
        { runbookUrl: 'https://example.com/runbook.md' },
      ),
    ));
  it('status', () => golden('status', buildStatusMessage(statusView())));
  it('status in maintenance with a held lock', () =>
    golden(
      'status-maintenance',
      buildStatusMessage(
        statusView({
          maintenance: { on: true, until: '2024-06-01T04:00:00.000Z', by: 'U_ADMIN', reason: 'db upgrade', page: true },
          lock: { holder: 'slack:U_ADMIN', operation: 'switch green', since: '2024-06-01T03:00:00.000Z' },
          lastFailover: { at: '2024-06-01T02:30:00.000Z', from: 'blue', to: 'green' },
        }),
      ),
    ));
  it('help for a viewer and for an admin', () => {
    golden('help-viewer', buildHelpMessage(helpEntries(USAGE), false));
    golden('help-admin', buildHelpMessage(helpEntries(USAGE), true));
  });
  it('usage after a bad command', () => golden('usage', buildUsageMessage('switch: expected a pool (blue or green), got "purple"', USAGE.switch)));
  it('progress, running and done', () => {
    golden('progress-running', buildProgressMessage({ command: 'switch green', userId: 'U_ADMIN', steps: ['lock taken'], state: 'running', outcome: undefined, durationMs: undefined }));
    golden('progress-ok', buildProgressMessage({ command: 'switch green', userId: 'U_ADMIN', steps: ['lock taken', 'traffic verified'], state: 'ok', outcome: 'switched to green', durationMs: 1840 }));
  });
  it('audit line', () => golden('audit', buildAuditMessage(auditEntry())));
  it('the line that counts refusals past the rate limit', () => golden('audit-refusals-suppressed', buildAuditMessage(suppressedEntry())));
  it('a maintenance announcement, on with the page, and over with what it held back', () => {
    const v: MaintenanceView = { by: '<@U_ADMIN>', reason: 'db upgrade', since: '2024-06-01T03:00:00.000Z', until: '2024-06-01T04:00:00.000Z', page: true, extendedBy: undefined, ended: undefined, heldBack: [] };
    golden('maintenance-on', buildMaintenanceMessage('maintenance:1717210800000', v, undefined));
    const held = [{ kind: 'failover', pool: 'blue' as const, count: 5, first: '2024-06-01T03:01:00.000Z', last: '2024-06-01T03:07:00.000Z' }];
    golden('maintenance-over', buildMaintenanceMessage('maintenance:1717210800000', { ...v, heldBack: held, ended: { at: '2024-06-01T03:42:00.000Z', by: '<@U_ONCALL>', expired: false } }, undefined));
    const long = 'x'.repeat(5000);
    const worst = { ...v, by: long, reason: long, extendedBy: long, heldBack: Array.from({ length: 300 }, (_, i) => ({ kind: `${long}${i}`, pool: undefined, count: i, first: v.since, last: v.since })) };
    assertWithinLimits(buildMaintenanceMessage(`maintenance:${long}`.slice(0, 200), worst, `https://example.com/${long}`), 'maintenance');
  });

  it('a switch message with Roll back, and after the click', () => {
    const sw = alertEvent({ kind: 'switch', key: 'switch:2024-06-01T03:01:00.000Z', pool: 'green', severity: 'info', title: 'Switched blue → green', summary: 'by <@U_ADMIN> · release green-v2 · 14 ms', at: '2024-06-01T03:01:00.000Z' });
    golden('switch', buildAlertMessage(sw, { ...EMPTY_INCIDENT, actions: [], rollbackTo: 'blue' }, { runbookUrl: undefined }));
    golden(
      'switch-rolled-back',
      buildAlertMessage(sw, { ...EMPTY_INCIDENT, rollbackTo: 'blue', actions: [{ userId: 'U_ONCALL', label: 'Roll back to blue', state: 'ok', detail: 'Rolled back green -> blue: nginx serves blue (12 ms)', at: '2024-06-01T03:02:00.000Z' }] }, { runbookUrl: undefined }),
    );
  });
});

describe('Block Kit builders: buttons', () => {
  it('offers buttons that fit each alert, destructive ones behind a confirm dialog', () => {
    const labels = (kind: AlertKind, pool: 'blue' | 'green' | undefined = 'blue') => buttonsFor(alertEvent({ kind, pool })).map((b) => b.text.text);
    assert.deepEqual(labels('failover'), ['Switch to green', 'Stop chaos on blue', 'Acknowledge']);
    assert.deepEqual(labels('error_rate'), ['Switch to green', 'Stop chaos on blue', 'Maintenance 1h', 'Acknowledge']);
    assert.deepEqual(labels('post_switch_guard', 'green'), ['Roll back to blue', 'Stop chaos on green', 'Acknowledge']);
    assert.deepEqual(labels('all_down', undefined), ['Stop chaos on blue', 'Stop chaos on green', 'Acknowledge']);
    assert.deepEqual(labels('auto_failover'), ['Switch to blue', 'Stop chaos on blue', 'Acknowledge']);
    assert.deepEqual(labels('recovery'), ['Acknowledge']);
    // Swarm mode: nothing helps a lost node or a rollback Swarm made; a short pool may be switched away from.
    assert.deepEqual(labels('node_down', undefined), ['Acknowledge']);
    assert.deepEqual(labels('pool_under_strength'), ['Switch to green', 'Acknowledge']);
    assert.deepEqual(labels('swarm_rollback'), ['Acknowledge']);
    for (const kind of KINDS) {
      for (const b of buttonsFor(alertEvent({ kind }))) {
        assert.match(b.action_id, ACTION_ID_PATTERN);
        if (/^(Switch|Roll back|Maintenance)/.test(b.text.text)) assert.ok(b.confirm, `${b.text.text} needs a confirm dialog`);
      }
    }
  });

  it('fits the facts: no Switch to an unhealthy pool (the alert says why), no Stop chaos where none runs', () => {
    const facts = (o: { chaos?: Pool[]; unhealthy?: Pool[] } = {}): AlertFacts => ({
      chaos: (p) => (o.chaos ?? []).includes(p),
      health: (p) => ((o.unhealthy ?? []).includes(p) ? { healthy: false, detail: 'HTTP 503' } : { healthy: true, detail: 'HTTP 200' }),
    });
    const failover = alertEvent({ kind: 'failover', pool: 'green' });
    assert.deepEqual(offers(failover, EMPTY_INCIDENT, facts()).buttons.map((b) => b.text.text), ['Switch to blue', 'Acknowledge'], 'no chaos runs: no Stop chaos');
    const down = offers(failover, EMPTY_INCIDENT, facts({ chaos: ['green'], unhealthy: ['blue'] }));
    assert.deepEqual(down.buttons.map((b) => b.text.text), ['Stop chaos on green', 'Acknowledge']);
    assert.deepEqual(down.notes, ['Switch to blue is not offered: blue is unhealthy (HTTP 503)']);
    const m = buildAlertMessage(failover, EMPTY_INCIDENT, { runbookUrl: undefined, facts: facts({ unhealthy: ['blue'] }) });
    assert.ok(JSON.stringify(m.blocks).includes('Switch to blue is not offered: blue is unhealthy (HTTP 503)'));
    // Auto-demote: switching back is offered once the demoted pool is healthy again, resolved or not.
    const demoted = alertEvent({ kind: 'auto_failover', pool: 'blue' });
    assert.deepEqual(offers(demoted, EMPTY_INCIDENT, facts({ unhealthy: ['blue'] })).buttons.map((b) => b.text.text), ['Acknowledge']);
    assert.deepEqual(offers({ ...demoted, status: 'resolved' }, EMPTY_INCIDENT, facts()).buttons.map((b) => b.text.text), ['Switch to blue']);
  });

  it('an alert raised during the post-switch guard window carries Roll back to the pool before the switch', () => {
    const view: IncidentView = { ...EMPTY_INCIDENT, actions: [], rollbackTo: 'blue' };
    const b = buttonsFor(alertEvent({ kind: 'failover', pool: 'green' }), view);
    assert.deepEqual(b.map((x) => x.text.text), ['Roll back to blue', 'Switch to blue', 'Stop chaos on green', 'Acknowledge']);
    assert.equal(b[0]!.action_id, 'bg_rollback.blue');
    assert.deepEqual(JSON.parse(b[0]!.value ?? ''), { k: 'failover:blue', p: 'blue' });
  });

  it('drops the buttons once the incident is resolved, and Acknowledge once acknowledged', () => {
    const resolved = buildAlertMessage(alertEvent({ status: 'resolved' }), EMPTY_INCIDENT, { runbookUrl: undefined });
    assert.equal(resolved.blocks.some((b) => b.type === 'actions'), false);
    assert.ok(!buttonsFor(alertEvent(), acted).some((b) => b.text.text === 'Acknowledge'));
  });

  it('links each alert kind to its runbook section', () => {
    for (const kind of KINDS.filter((k) => k !== 'switch')) {
      const m = buildAlertMessage(alertEvent({ kind }), EMPTY_INCIDENT, { runbookUrl: 'https://x.test/runbook.md' });
      assert.ok(JSON.stringify(m.blocks).includes(`https://x.test/runbook.md#${RUNBOOK_ANCHORS[kind]}`), kind);
    }
  });
});

describe("Block Kit builders: Slack's limits with worst-case inputs", () => {
  const long = (n: number) => 'x'.repeat(n);
  const huge = alertEvent({
    key: `error_rate:blue:${long(400)}`,
    title: long(1000),
    summary: `${long(5000)} <script>&`,
    env: long(3000),
    release: long(3000),
    explainedBy: Array.from({ length: 50 }, () => long(200)),
    sampleLines: Array.from({ length: 500 }, (_, i) => `${i} ${long(5000)}`),
    observed: 123456.789,
    threshold: 2,
  });
  const busy: IncidentView = {
    repeats: 999,
    resolvedAt: '2024-06-01T09:00:00.000Z',
    acknowledgedBy: 'U_X',
    actions: Array.from({ length: 40 }, (_, i) => ({ userId: `U${i}`, label: 'Switch to green', state: 'failed' as const, detail: long(5000), at: '2024-06-01T03:00:00.000Z' })),
  };

  it('every alert kind, firing and resolved, fresh and busy', () => {
    for (const kind of KINDS) {
      for (const status of ['firing', 'resolved'] as const) {
        for (const view of [EMPTY_INCIDENT, busy, { ...busy, resolvedAt: undefined }]) {
          assertWithinLimits(buildAlertMessage({ ...huge, kind, status }, view, { runbookUrl: `https://example.com/${long(500)}` }), `${kind}/${status}`);
        }
      }
    }
  });

  it('status, help, usage, progress and audit', () => {
    const pools = statusView().pools.map((p) => ({ ...p, state: long(5000), health: long(5000), release: long(5000), image: long(5000), chaos: long(5000) }));
    assertWithinLimits(
      buildStatusMessage(
        statusView({
          env: long(5000),
          pools,
          maintenance: { on: true, until: '2024-06-01T04:00:00.000Z', by: long(5000) },
          lastSwitch: { at: '2024-06-01T02:00:00.000Z', from: 'blue', to: 'green', by: long(5000) },
          lock: { holder: long(5000), operation: long(5000), since: '2024-06-01T02:00:00.000Z' },
        }),
      ),
      'status',
    );
    const manyUsage = Array.from({ length: 200 }, () => ({ usage: long(300), mutating: false }));
    assertWithinLimits(buildHelpMessage(manyUsage, true), 'help');
    assertWithinLimits(buildUsageMessage(long(10_000), Array.from({ length: 100 }, () => long(200)).join('\n')), 'usage');
    assertWithinLimits(
      buildProgressMessage({ command: long(5000), userId: 'U1', steps: Array.from({ length: 1000 }, () => long(1000)), state: 'failed', outcome: long(10_000), durationMs: 1 }),
      'progress',
    );
    assertWithinLimits(buildAuditMessage({ ...auditEntry(), op: long(5000), message: long(50_000) }), 'audit');
    const ops = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`${long(100)}${i}`, i]));
    assertWithinLimits(buildAuditMessage({ ...suppressedEntry(), args: { ...suppressedEntry().args, ops }, message: long(50_000) }), 'suppressed refusals');
  });

  it('the check itself catches broken payloads', () => {
    const problems = checkBlockKitLimits({
      text: '',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: long(151) } },
        { type: 'actions', elements: Array.from({ length: 26 }, () => ({ type: 'button' as const, action_id: 'same', text: { type: 'plain_text' as const, text: long(76) } })) },
        ...Array.from({ length: 50 }, () => ({ type: 'divider' as const })),
      ],
    });
    assert.ok(problems.some((p) => /text: empty/.test(p)));
    assert.ok(problems.some((p) => /header.*151 > 150/.test(p)));
    assert.ok(problems.some((p) => /elements: 26/.test(p)));
    assert.ok(problems.some((p) => /76 > 75/.test(p)));
    assert.ok(problems.some((p) => /repeated in one block/.test(p)));
    assert.ok(problems.some((p) => /blocks: 52 > 50/.test(p)));
  });
});

function auditEntry(): AuditEntry {
  return {
    at: '2024-06-01T03:01:00.000Z',
    by: { kind: 'cli', id: 'root', name: 'root' },
    op: 'chaos_start',
    args: { pool: 'green', mode: 'error', force: false },
    result: 'ok',
    message: 'Chaos (error) started on green',
    durationMs: 1840,
  };
}

function suppressedEntry(): AuditEntry {
  return {
    at: '2024-06-01T03:02:00.000Z',
    by: { kind: 'slack', id: 'U_MALLORY', name: 'mallory' },
    op: SUPPRESSED_REFUSALS,
    args: { count: 42, since: '2024-06-01T03:01:00.000Z', ops: { switch: 40, chaos_start: 2 }, limit: 5, windowMs: 60_000 },
    result: 'refused',
    message: '42 more refusals from mallory suppressed (the first 5 of each minute are written one by one)',
    durationMs: 60_000,
  };
}
