import { parseCommand } from '../../../src/commands/parse-command.js';

/** Arguments of every `bluegreen …` command in a document's code, placeholders filled in. */
export function bluegreenInvocations(markdown: string): string[] {
  const out: string[] = [];
  for (const m of markdown.matchAll(/(?:exec (?:-T )?bot |^|`)bluegreen ((?:[a-z<][^`#\n|]*?))\s*(?:`|#|\n|$)/gm)) {
    const args = m[1]!.trim();
    // `bluegreen <command>` and `bluegreen …` stand for the grammar itself, not a command line.
    if (!args || args === '<command>' || args.startsWith('…')) continue;
    out.push(args);
  }
  return out;
}

/** undefined when the words parse; the parser's complaint otherwise. */
export function parseInvocation(args: string): string | undefined {
  const filled = args
    .replace(/--json/g, '')
    .replace(/<[^>]*image[^>]*>/g, 'app:1.2.3')
    .replace(/<[^>]*pool[^>]*>/g, 'green')
    .replace(/<[^>]*>/g, 'r1')
    .replace(/\s+/g, ' ')
    .trim();
  const r = parseCommand(filled);
  return 'error' in r ? `${filled}: ${r.error}` : undefined;
}
