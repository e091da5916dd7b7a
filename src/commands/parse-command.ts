import { z } from 'zod';
import { parseDuration } from '../config.js';
import { CHAOS_AMOUNT, CHAOS_KINDS } from '../shared/chaos-kind.js';
import type { Command, CommandName } from './command.js';

// The one grammar of shared/SPEC.md, shared by `/bluegreen …` in Slack and `bluegreen …` on the
// command line. Pure: text in, a typed command or a precise complaint out.

export type ParseResult = { ok: Command } | { error: string; usage: string };

/** Most replicas `scale` sets for one pool: a typo (300 for 3) should not fill the swarm. */
export const MAX_REPLICAS = 50;

/** One line of usage per subcommand, in the order `help` lists them. */
export const USAGE: Readonly<Record<CommandName, string>> = {
  help: 'help',
  status: 'status',
  switch: 'switch blue|green [--force]',
  rollback: 'rollback',
  maintenance: 'maintenance on [for 30m] [--page] [reason…] | maintenance extend 30m | maintenance off | maintenance',
  chaos: 'chaos start blue|green [kill|stop|pause|error|timeout|delay <ms>|loss <pct>] [for 5m] [--force] | chaos stop blue|green',
  deploy: 'deploy blue|green <image> [release-id]',
  scale: `scale blue|green N [--force] (Swarm mode only; N from 0 to ${MAX_REPLICAS}; --force lets the active pool go to 0)`,
  drill: 'drill',
};

export const COMMAND_NAMES = Object.keys(USAGE) as CommandName[];

export function usageOf(name?: CommandName): string {
  return name ? USAGE[name] : COMMAND_NAMES.map((n) => USAGE[n]).join('\n');
}

const pool = z.enum(['blue', 'green'], {
  error: (issue) => `expected a pool (blue or green), got ${quote(issue.input)}`,
});
const mode = z.enum(CHAOS_KINDS, {
  error: (issue) => `expected a chaos mode (${CHAOS_KINDS.join(', ')}), got ${quote(issue.input)}`,
});
// Image references: [registry[:port]/]name[:tag][@digest]. Anything with spaces or shell
// metacharacters is refused here so it never reaches the Docker API.
const image = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._\-/:@]*$/i, { error: (issue) => `expected an image such as app:1.2.3, got ${quote(issue.input)}` })
  .max(255);
const replicas = z
  .string()
  .regex(/^\d+$/, { error: (issue) => `expected a whole number of replicas from 0 to ${MAX_REPLICAS}, got ${quote(issue.input)}` })
  .transform(Number)
  .refine((n) => n <= MAX_REPLICAS, { error: (issue) => `at most ${MAX_REPLICAS} replicas per pool, got ${quote(issue.input)}` });
const releaseId = z
  .string()
  .regex(/^[\w.\-+:]+$/, { error: (issue) => `expected a release id of letters, digits and . _ - + :, got ${quote(issue.input)}` })
  .max(128);

function quote(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v);
}

class Problem extends Error {}

function take<T>(schema: z.ZodType<T>, value: string | undefined, what: string): T {
  if (value === undefined) throw new Problem(`missing ${what}`);
  const r = schema.safeParse(value);
  if (!r.success) throw new Problem(r.error.issues[0]?.message ?? `bad ${what}`);
  return r.data;
}

function noMore(rest: string[]): void {
  if (rest.length > 0) throw new Problem(`unexpected ${quote(rest.join(' '))}`);
}

/** Slack may send smart quotes and non-breaking spaces; people type `--force` as `—force`. */
function tokenize(text: string): string[] {
  return text
    .replace(/[\u00a0\u2000-\u200b]/g, ' ')
    .replace(/[\u2012-\u2015]/g, '--')
    .trim()
    .split(/\s+/)
    .filter((t) => t.length > 0);
}

/** Longest maintenance, and longest reason kept with it. */
const MAX_MAINTENANCE_MS = 7 * 24 * 3_600_000;
const MAX_REASON = 300;

function maintenanceDuration(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) throw new Problem(`expected a duration such as 30m or 2h, got ${quote(text)}`);
  if (ms > MAX_MAINTENANCE_MS) throw new Problem(`maintenance can last at most 7d, got ${quote(text)}`);
  return ms;
}

function chaosDuration(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms < 1000) throw new Problem(`expected a duration such as 30s or 5m, got ${quote(text)}`);
  return ms;
}

/** A duration as the grammar reads it back: the largest unit that divides it (3600000 -> 1h, 90 min -> 90m). */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** The words after the duration, without the quotes people put around them ("db upgrade"). */
function reasonOf(words: string[]): string | undefined {
  const text = words
    .join(' ')
    .replace(/^(["'\u201c\u2018])(.*)(["'\u201d\u2019])$/s, (all, open: string, body: string, close: string) =>
      (open === close || (open === '\u201c' && close === '\u201d') || (open === '\u2018' && close === '\u2019')) ? body : all,
    )
    .trim();
  if (text === '') return undefined;
  if (text.length > MAX_REASON) throw new Problem(`the reason can be at most ${MAX_REASON} characters, got ${text.length}`);
  return text;
}

function parseMaintenance(args: string[], page: boolean): Command {
  const name = 'maintenance';
  const what = args[0]?.toLowerCase();
  const noPage = (sub: string) => {
    if (page) throw new Problem(`--page applies to "maintenance on", not to "${sub}"`);
  };
  if (what === undefined) {
    noPage('maintenance');
    return { name, show: true };
  }
  if (what === 'off') {
    noPage('maintenance off');
    noMore(args.slice(1));
    return { name, on: false };
  }
  if (what === 'extend') {
    noPage('maintenance extend');
    // "extend 30m", "extend by 30m" and "extend for 30m" all read naturally.
    const rest = ['by', 'for'].includes(args[1]?.toLowerCase() ?? '') ? args.slice(2) : args.slice(1);
    if (rest[0] === undefined) throw new Problem('extend needs a duration (e.g. maintenance extend 30m)');
    noMore(rest.slice(1));
    return { name, extendMs: maintenanceDuration(rest[0]) };
  }
  if (what !== 'on') throw new Problem(`expected on, off or extend, got ${quote(args[0])}`);
  // "on for 30m" and the shorter "on 30m" both read naturally; the words after it are the reason.
  let rest = args.slice(1);
  let durationMs: number | undefined;
  if (rest[0]?.toLowerCase() === 'for') {
    if (rest[1] === undefined) throw new Problem('missing duration after "for" (e.g. 30m, 2h)');
    durationMs = maintenanceDuration(rest[1]);
    rest = rest.slice(2);
  } else if (rest[0] !== undefined && /^\d/.test(rest[0])) {
    durationMs = maintenanceDuration(rest[0]);
    rest = rest.slice(1);
  }
  const reason = reasonOf(rest);
  return { name, on: true, durationMs, ...(page ? { page: true } : {}), ...(reason === undefined ? {} : { reason }) };
}

function parseWords(name: CommandName, args: string[], force: boolean, page: boolean): Command {
  const lower = (s: string | undefined) => s?.toLowerCase();
  const forbidForce = () => {
    if (force) throw new Problem(`--force does not apply to ${name}`);
  };
  if (page && name !== 'maintenance') throw new Problem(`--page applies to "maintenance on", not to ${name}`);
  switch (name) {
    case 'help':
    case 'status':
    case 'rollback':
    case 'drill':
      forbidForce();
      noMore(args);
      return { name };
    case 'switch': {
      const p = take(pool, lower(args[0]), 'pool (blue or green)');
      noMore(args.slice(1));
      return { name, pool: p, force };
    }
    case 'maintenance':
      forbidForce();
      return parseMaintenance(args, page);
    case 'chaos': {
      const action = lower(args[0]);
      if (action !== 'start' && action !== 'stop') throw new Problem(`expected start or stop, got ${quote(args[0])}`);
      const p = take(pool, lower(args[1]), 'pool (blue or green)');
      if (action === 'stop') {
        forbidForce();
        noMore(args.slice(2));
        return { name, action, pool: p };
      }
      // The mode may be left out ("chaos start blue for 30s"): the demo app's error.
      let rest = args.slice(2);
      const m = rest[0] === undefined || lower(rest[0]) === 'for' ? 'error' : take(mode, lower(rest[0]), 'chaos mode');
      if (rest[0] !== undefined && lower(rest[0]) !== 'for') rest = rest.slice(1);
      let amount: number | undefined;
      if (m === 'delay' || m === 'loss') {
        const a = CHAOS_AMOUNT[m];
        const text = rest[0]?.replace(/(ms|%)$/i, '');
        if (text === undefined || !/^\d+$/.test(text) || Number(text) < a.min || Number(text) > a.max) {
          throw new Problem(`chaos ${m} needs an amount from ${a.min} to ${a.max} ${a.unit} (e.g. chaos start blue ${m} ${m === 'delay' ? '300' : '30'}), got ${quote(rest[0])}`);
        }
        amount = Number(text);
        rest = rest.slice(1);
      }
      let durationMs: number | undefined;
      if (rest[0] !== undefined && lower(rest[0]) === 'for') {
        if (rest[1] === undefined) throw new Problem('missing duration after "for" (e.g. 30s, 5m)');
        durationMs = chaosDuration(rest[1]);
        rest = rest.slice(2);
      }
      noMore(rest);
      return { name, action, pool: p, mode: m, ...(amount === undefined ? {} : { amount }), ...(durationMs === undefined ? {} : { durationMs }), force };
    }
    case 'deploy': {
      forbidForce();
      const p = take(pool, lower(args[0]), 'pool (blue or green)');
      const img = take(image, args[1], 'image (e.g. app:1.2.3)');
      const rel = args[2] === undefined ? undefined : take(releaseId, args[2], 'release id');
      noMore(args.slice(3));
      return { name, pool: p, image: img, releaseId: rel };
    }
    case 'scale': {
      const p = take(pool, lower(args[0]), 'pool (blue or green)');
      const n = take(replicas, args[1], `number of replicas (0 to ${MAX_REPLICAS})`);
      noMore(args.slice(2));
      return { name, pool: p, replicas: n, force };
    }
  }
}

/**
 * Parse the text after `/bluegreen` (or the CLI's joined argv). Empty text is `help`. A flag may
 * appear anywhere (`switch --force green`); `--force` and `--page` are known.
 */
export function parseCommand(text: string): ParseResult {
  const tokens = tokenize(text);
  let force = false;
  let page = false;
  const words: string[] = [];
  for (const t of tokens) {
    if (t.toLowerCase() === '--force' || t === '-f') force = true;
    else if (t.toLowerCase() === '--page') page = true;
    // A negative number is a wrong value, not an option: "scale blue -1" says what a count may be.
    else if (t.startsWith('-') && t.length > 1 && !/^-\d/.test(t)) {
      const name = words[0]?.toLowerCase();
      const known = COMMAND_NAMES.find((n) => n === name);
      return { error: `unknown option ${quote(t)}`, usage: usageOf(known) };
    } else words.push(t);
  }
  const head = words[0]?.toLowerCase() ?? 'help';
  const name = COMMAND_NAMES.find((n) => n === head);
  if (!name) return { error: `unknown command ${quote(words[0])}`, usage: usageOf() };
  try {
    return { ok: parseWords(name, words.slice(1), force, page) };
  } catch (err) {
    if (err instanceof Problem) return { error: `${name}: ${err.message}`, usage: usageOf(name) };
    throw err;
  }
}
