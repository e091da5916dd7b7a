import type { Command } from '../commands/command.js';
import type { Actor } from '../shared/actor.js';
import type { OpResult } from '../shared/op-result.js';
import type { Logger } from '../log.js';
import type { AuditEntry } from './blocks/audit.js';
import type { Authorizer } from './authorizer.js';
import type { Dedupe } from './dedupe.js';
import { commandArgs, formatCommand } from './format-command.js';
import type { BotDeps } from './ports.js';
import type { SlackNotifier } from './slack-notifier.js';

/** Everything the slash-command and button handlers share. */
export interface Surface {
  deps: BotDeps;
  authz: Authorizer;
  /** Undefined when no alert channel is configured. */
  notifier: SlackNotifier | undefined;
  clicks: Dedupe;
  log: Logger;
  now: () => number;
}

export function resultMessage(r: OpResult<unknown>): string {
  return r.status === 'ok' ? r.message : r.status === 'refused' ? r.reason : `${r.message}${r.cause ? ` (${r.cause})` : ''}`;
}

/**
 * Log what the Slack layer did and hand its own refusals to the audit log. The channel's audit line
 * comes from the audit log itself (app.ts follows it), so Slack, the CLI and the bot each post once.
 */
export async function audit(
  s: Surface,
  e: { actor: Actor; source: AuditEntry['source']; cmd: Command | string; result: AuditEntry['result']; message: string; startedAt: number; channel: string | undefined; stage: AuditEntry['stage'] },
): Promise<void> {
  const entry: AuditEntry = {
    at: new Date(s.now()).toISOString(),
    actor: e.actor,
    source: e.source,
    command: typeof e.cmd === 'string' ? e.cmd : formatCommand(e.cmd),
    args: typeof e.cmd === 'string' ? {} : commandArgs(e.cmd),
    result: e.result,
    message: e.message,
    durationMs: s.now() - e.startedAt,
    channel: e.channel,
    stage: e.stage,
  };
  s.log.info({ audit: entry }, 'audit');
  await s.deps.audit(entry);
}
