import { clip, escapeMrkdwn, humanDuration, md, mention, type Block, type Message } from './kit.js';

/** A long operation's one message, updated in place as it goes. */
export interface ProgressView {
  /** e.g. "switch green". */
  command: string;
  userId: string;
  steps: string[];
  state: 'running' | 'ok' | 'refused' | 'failed';
  /** Final message, reason or cause. */
  outcome: string | undefined;
  durationMs: number | undefined;
}

const ICON = { running: ':hourglass_flowing_sand:', ok: ':white_check_mark:', refused: ':no_entry:', failed: ':x:' } as const;
const MAX_STEPS = 15;

export function buildProgressMessage(p: ProgressView): Message {
  const took = p.durationMs === undefined ? '' : ` in ${humanDuration(p.durationMs)}`;
  const head = `${ICON[p.state]} \`${escapeMrkdwn(clip(p.command, 200))}\` by ${mention(p.userId)} — ${p.state === 'running' ? 'running…' : p.state + took}`;
  const blocks: Block[] = [{ type: 'section', text: md(clip(head, 3000)) }];
  if (p.steps.length > 0) {
    const shown = p.steps.slice(-MAX_STEPS);
    const skipped = p.steps.length - shown.length;
    const list = shown.map((s) => `• ${escapeMrkdwn(clip(s, 300))}`).join('\n');
    blocks.push({ type: 'context', elements: [md(clip(`${skipped > 0 ? `(${skipped} earlier steps)\n` : ''}${list}`, 3000))] });
  }
  if (p.outcome !== undefined) blocks.push({ type: 'section', text: md(clip(escapeMrkdwn(p.outcome), 3000)) });
  const text = clip(`${p.command}: ${p.state}${took}${p.outcome ? ` — ${p.outcome}` : ''}`, 3000);
  return { text, blocks };
}
