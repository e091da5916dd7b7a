import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { z } from 'zod';
import type { Command } from '../commands/command.js';
import type { Actor } from '../shared/actor.js';
import { ACTION_ID_PATTERN, parseActionId, type ActionKey } from './ids.js';
import { actionLine, type IncidentAction } from './blocks/alert.js';
import type { RespondFn } from './respond-progress.js';
import { formatCommand } from './format-command.js';
import { audit, resultMessage, type Surface } from './surface.js';

const buttonValue = z.object({ k: z.string().min(1).max(300), p: z.enum(['blue', 'green']).optional() });

const LABELS: Record<ActionKey, (pool: string | undefined) => string> = {
  rollback: (p) => (p ? `Roll back to ${p}` : 'Roll back'),
  switchTo: (p) => `Switch to ${p}`,
  stopChaos: (p) => `Stop chaos on ${p}`,
  maintenance1h: () => 'Maintenance 1h',
  maintenanceEnd: () => 'End now',
  maintenanceExtend: () => 'Extend 30m',
  acknowledge: () => 'Acknowledge',
};

function commandFor(key: Exclude<ActionKey, 'acknowledge'>, pool: 'blue' | 'green' | undefined): Command | undefined {
  switch (key) {
    case 'rollback':
      // "Roll back to blue": refused if the last switch no longer leads to blue (stale button).
      return pool ? { name: 'rollback', to: pool } : { name: 'rollback' };
    case 'switchTo':
      return pool ? { name: 'switch', pool, force: false } : undefined;
    case 'stopChaos':
      return pool ? { name: 'chaos', action: 'stop', pool } : undefined;
    case 'maintenance1h':
      return { name: 'maintenance', on: true, durationMs: 3_600_000 };
    case 'maintenanceEnd':
      return { name: 'maintenance', on: false };
    case 'maintenanceExtend':
      return { name: 'maintenance', extendMs: 30 * 60_000 };
  }
}

/**
 * Alert buttons. Judged by who clicked (anyone who can see a button can press it), acted on once
 * per click even when Slack delivers it twice, and reported on the incident's own message.
 */
export function registerBlockActions(app: App, s: Surface): void {
  app.action<BlockAction<ButtonAction>>({ type: 'block_actions', action_id: ACTION_ID_PATTERN }, async ({ ack, body, action, respond }) => {
    await ack();
    const startedAt = s.now();
    const userId = body.user.id;
    const channel = body.channel?.id;
    const log = s.log.child({ action: action.action_id, user: userId, channel });
    if (!s.clicks.first(`${action.action_ts}:${userId}:${action.action_id}:${body.message?.ts ?? ''}`)) {
      log.info({ actionTs: action.action_ts }, 'duplicate click ignored');
      return;
    }
    const reply = respond as unknown as RespondFn;
    const actor: Actor = { kind: 'slack', id: userId, name: body.user.name ?? body.user.username };
    const button = readButton(action.action_id, action.value);
    if ('problem' in button) {
      log.warn({ value: action.value, problem: button.problem }, 'button refused');
      await reply({ response_type: 'ephemeral', replace_original: false, text: `:no_entry: This button is not one bluegreen made (${button.problem}): nothing was run.` });
      await audit(s, { actor, source: 'button', cmd: action.action_id, result: 'refused', message: `button refused: ${button.problem}`, startedAt, channel, stage: 'authorize' });
      return;
    }
    const { key, incidentKey, pool } = button;
    const label = LABELS[key](pool);

    if (key === 'acknowledge') {
      const decision = await s.authz.check(userId, channel, false);
      if (!decision.allowed) {
        await reply({ response_type: 'ephemeral', replace_original: false, text: `:no_entry: ${decision.reason}` });
        return;
      }
      const known = s.notifier?.acknowledge(incidentKey, userId) ?? false;
      if (!known) await reply({ response_type: 'in_channel', replace_original: false, text: `:eyes: <@${userId}> acknowledged this incident` });
      return;
    }

    const cmd = commandFor(key, pool);
    if (cmd === undefined) {
      await reply({ response_type: 'ephemeral', replace_original: false, text: `${label}: the button carries no pool` });
      return;
    }
    const decision = await s.authz.check(userId, channel, true);
    if (!decision.allowed) {
      log.warn({ reason: decision.reason }, 'click refused');
      await reply({ response_type: 'ephemeral', replace_original: false, text: `:no_entry: ${label} refused: ${decision.reason}` });
      await audit(s, { actor, source: 'button', cmd, result: 'refused', message: decision.reason, startedAt, channel, stage: 'authorize' });
      return;
    }
    const known = s.notifier?.incident(incidentKey) !== undefined;
    const record = (a: Omit<IncidentAction, 'userId' | 'label' | 'at'>) => {
      const full: IncidentAction = { ...a, userId, label, at: new Date(s.now()).toISOString() };
      if (known) s.notifier?.recordAction(incidentKey, full);
      return full;
    };
    record({ state: 'running', detail: `${formatCommand(cmd)}…` });
    log.info({ incident: incidentKey }, 'button action started');
    const result = await s.deps.runner.run(cmd, actor, (step) => log.debug({ step }, 'progress'));
    const done = record({ state: result.status, detail: resultMessage(result) });
    log.info({ incident: incidentKey, result: result.status }, 'button action finished');
    if (!known) {
      // An alert this process does not know (posted before a restart and not saved): its message
      // cannot be rebuilt, so answer below it.
      await reply({ response_type: 'in_channel', replace_original: false, text: actionLine(done) });
    }
    await audit(s, { actor, source: 'button', cmd, result: result.status, message: resultMessage(result), startedAt, channel, stage: 'run' });
  });
}

/**
 * The action and pool a click asks for. The action_id decides both; the value carries the incident
 * key and must name the same pool, so a value edited (or built) apart from its action_id is refused.
 */
function readButton(actionId: string, value: string | undefined): { key: ActionKey; incidentKey: string; pool: 'blue' | 'green' | undefined } | { problem: string } {
  const id = parseActionId(actionId);
  if (id === undefined) return { problem: `unknown action ${actionId}` };
  const parsed = buttonValue.safeParse(safeJson(value));
  if (!parsed.success) return { problem: 'its value is not {"k": incident, "p"?: pool}' };
  if (parsed.data.p !== id.pool) return { problem: `its value names pool ${parsed.data.p ?? 'none'}, its action ${id.pool ?? 'none'}` };
  return { key: id.key, incidentKey: parsed.data.k, pool: id.pool };
}

function safeJson(text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? '');
  } catch {
    return undefined;
  }
}
