import type { Actor } from '../../shared/actor.js';
import { SUPPRESSED_REFUSALS, type AuditEntry as LoggedEntry } from '../../shared/audit-entry.js';
import { clip, escapeMrkdwn, humanDuration, md, mention, type Message } from './kit.js';

/** One change (or refused attempt) as the Slack layer reports it; refusals it decides itself go to the audit log. */
export interface AuditEntry {
  at: string;
  actor: Actor;
  /** Where it came from: the slash command or a button on an alert. */
  source: 'slash_command' | 'button';
  /** The command as a person would type it, e.g. "switch green --force". */
  command: string;
  args: Record<string, unknown>;
  result: 'ok' | 'refused' | 'failed';
  message: string;
  durationMs: number;
  channel: string | undefined;
  /** 'authorize': refused by the Slack layer before anything ran; 'run': the operation's own result. */
  stage: 'authorize' | 'run';
}

const ICON = { ok: ':white_check_mark:', refused: ':no_entry:', failed: ':x:' } as const;
const str = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');

/** An audit-log entry as the command a person would type ("switch green --force"). */
export function describeOperation(e: LoggedEntry): string {
  const a = e.args;
  switch (e.op) {
    case 'switch':
      return `switch ${str(a.pool)}${a.force === true ? ' --force' : ''}`;
    case 'rollback':
      return a.to ? `rollback (to ${str(a.to)})` : 'rollback';
    case 'failover':
      return `auto-demote to ${str(a.pool)}`;
    case 'guard_rollback':
      return 'rollback by the post-switch guard';
    case 'chaos_start':
      return `chaos start ${str(a.pool)} ${str(a.mode)}${a.force === true ? ' --force' : ''}`;
    case 'chaos_stop':
      return `chaos stop ${str(a.pool)}`;
    case 'maintenance':
      if (a.expired === true) return 'maintenance ended (expired)';
      if (typeof a.extendMs === 'number') return `maintenance extend ${Math.round(a.extendMs / 60_000)}m`;
      return a.on === true ? `maintenance on${a.page === true ? ' --page' : ''}${typeof a.reason === 'string' ? ` "${a.reason}"` : ''}` : 'maintenance off';
    case 'deploy':
      return `deploy ${str(a.pool)} ${str(a.image)}${a.releaseId ? ` ${str(a.releaseId)}` : ''}`;
    case 'scale':
      return `scale ${str(a.pool)} ${str(a.replicas)}${a.force === true ? ' --force' : ''}`;
    default:
      return e.op;
  }
}

/** Who, as the channel shows it: a Slack mention, `cli:root`, or the bot's own part. */
export function actorText(by: LoggedEntry['by']): string {
  return by.kind === 'slack' ? mention(by.id) : `${by.kind}:${escapeMrkdwn(by.name ?? by.id)}`;
}

/** The short line every action posts to SLACK_ALERT_CHANNEL, from the audit log (Slack, CLI or the bot itself). */
export function buildAuditMessage(e: LoggedEntry): Message {
  if (e.op === SUPPRESSED_REFUSALS) return suppressedRefusalsMessage(e);
  const via = typeof e.args.via === 'string' ? (e.args.via === 'button' ? ' (button)' : ' (/bluegreen)') : e.by.kind === 'cli' ? ' (CLI)' : '';
  const what = describeOperation(e);
  const line = `${ICON[e.result]} ${actorText(e.by)} ran \`${escapeMrkdwn(clip(what, 300))}\`${via} — ${e.result} in ${humanDuration(e.durationMs)}: ${escapeMrkdwn(clip(e.message, 1500))}`;
  return {
    text: clip(`audit: ${e.by.name ?? e.by.id} ${what} -> ${e.result}: ${e.message}`, 3000),
    blocks: [{ type: 'context', elements: [md(clip(line, 3000))] }],
  };
}

/** The line that stands for the refusals of one actor past the rate limit: "17 more refusals from @bob suppressed". */
function suppressedRefusalsMessage(e: LoggedEntry): Message {
  const count = str(e.args.count);
  const ops = typeof e.args.ops === 'object' && e.args.ops !== null ? Object.entries(e.args.ops as Record<string, unknown>).map(([op, n]) => `${op} ×${str(n)}`) : [];
  const line = `${ICON.refused} ${count} more refusals from ${actorText(e.by)} suppressed since ${str(e.args.since)}${ops.length > 0 ? ` (${escapeMrkdwn(clip(ops.join(', '), 500))})` : ''}: the first ${str(e.args.limit)} in each ${humanDuration(Number(e.args.windowMs))} window are posted one by one`;
  return {
    text: clip(`audit: ${e.message}`, 3000),
    blocks: [{ type: 'context', elements: [md(clip(line, 3000))] }],
  };
}
