import { clip, escapeMrkdwn, humanDuration, md, mention, type Message } from './kit.js';

/** One change (or refused attempt) as it goes to the audit log and the alert channel. */
export interface AuditEntry {
  at: string;
  actor: { kind: 'slack' | 'cli' | 'auto'; id: string; name?: string };
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

/** The short audit line posted to SLACK_ALERT_CHANNEL. */
export function buildAuditMessage(e: AuditEntry): Message {
  const who = e.actor.kind === 'slack' ? mention(e.actor.id) : `${e.actor.kind}:${escapeMrkdwn(e.actor.name ?? e.actor.id)}`;
  const via = e.source === 'button' ? 'button' : '/bluegreen';
  const line = `${ICON[e.result]} ${who} ran \`${escapeMrkdwn(clip(e.command, 300))}\` (${via}) — ${e.result} in ${humanDuration(e.durationMs)}: ${escapeMrkdwn(clip(e.message, 1500))}`;
  return {
    text: clip(`audit: ${e.actor.id} ${e.command} -> ${e.result}: ${e.message}`, 3000),
    blocks: [{ type: 'context', elements: [md(clip(line, 3000))] }],
  };
}
