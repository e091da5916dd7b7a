import { clip, md, type Block, type Message } from './kit.js';

export interface HelpEntry {
  usage: string;
  mutating: boolean;
}

/** `/bluegreen help`: only what the caller may run, and a line saying what they may not. */
export function buildHelpMessage(entries: HelpEntry[], isAdmin: boolean): Message {
  const allowed = entries.filter((e) => isAdmin || !e.mutating);
  const lines = allowed.map((e) => `• \`/bluegreen ${e.usage}\``).join('\n');
  const blocks: Block[] = [{ type: 'section', text: md(clip(`*What you can run*\n${lines}`, 3000)) }];
  if (!isAdmin) {
    blocks.push({ type: 'context', elements: [md('Commands that change the system are for admins (SLACK_ADMIN_USERS / SLACK_ADMIN_GROUP).')] });
  }
  return { text: clip(`bluegreen: ${allowed.map((e) => e.usage.split(' ')[0]).join(', ')}`, 3000), blocks };
}

/** The ephemeral answer to a command that did not parse: the exact problem, then the usage. */
export function buildUsageMessage(problem: string, usage: string): Message {
  const usageLines = usage
    .split('\n')
    .map((u) => `/bluegreen ${u}`)
    .join('\n');
  return {
    text: clip(`${problem}. Usage: ${usage.replace(/\n/g, '; ')}`, 3000),
    blocks: [
      { type: 'section', text: md(clip(`:warning: ${problem}`, 3000)) },
      { type: 'section', text: md(clip(`*Usage*\n\`\`\`${usageLines}\`\`\``, 3000)) },
    ],
  };
}
