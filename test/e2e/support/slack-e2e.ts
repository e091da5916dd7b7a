// Helpers shared by the Slack end-to-end suites (HTTP and Socket Mode): what the Web API stand-in
// recorded, the pool nginx served, the bot's audit log.
import assert from 'node:assert/strict';
import type { Stack, StandInState } from './stack.js';

/** The alert channel the suites configure (SLACK_ALERT_CHANNEL). */
export const ALERTS = 'C_E2E_ALERTS';

export interface Button {
  type: string;
  action_id: string;
  value: string;
  text: { text: string };
}
export interface Block {
  type: string;
  elements?: Button[];
}
export type Call = StandInState['calls'][number];

export const blocksOf = (c: Call): Block[] => (Array.isArray(c.args.blocks) ? (c.args.blocks as Block[]) : []);
export const buttonsOf = (c: Call): Button[] => blocksOf(c).flatMap((b) => (b.type === 'actions' ? (b.elements ?? []) : []));

/** Pool that answered one request through nginx. */
export async function servedBy(stack: Stack): Promise<string | null> {
  const res = await fetch(stack.url('/'));
  await res.arrayBuffer();
  return res.headers.get('x-app-pool');
}

export async function servedByMany(stack: Stack, n: number): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (let i = 0; i < n; i++) out.push(await servedBy(stack));
  return out;
}

export async function auditLines(stack: Stack): Promise<Record<string, unknown>[]> {
  const r = await stack.compose('exec', '-T', 'bot', 'cat', '/var/lib/bluegreen/state/audit.jsonl');
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

export function standInOf(stack: Stack): NonNullable<Stack['standIn']> {
  assert.ok(stack.standIn, 'the stack was started with the stand-in');
  return stack.standIn;
}

/** The top-level alert of incident `key` carrying button `actionId`, as posted to the alert channel. */
export function waitForAlert(stack: Stack, key: string, actionId: string, what: string): Promise<Call> {
  return standInOf(stack).waitFor(
    what,
    (st) => st.calls.find((c) => c.method === 'chat.postMessage' && c.args.channel === ALERTS && buttonsOf(c).some((b) => b.action_id === actionId && b.value.includes(`"k":"${key}"`))),
    45_000,
  );
}

/** The ts Slack answered the alert's post with: a click carries it, as Slack's do. */
export function tsOf(alert: Call): string {
  const ts = String((alert as Call & { answer?: { ts?: string } }).answer?.ts);
  assert.match(ts, /^\d+\.\d+$/);
  return ts;
}

export function buttonOf(alert: Call, actionId: string): Button {
  const b = buttonsOf(alert).find((x) => x.action_id === actionId);
  assert.ok(b, `the alert has ${actionId}: ${buttonsOf(alert).map((x) => x.action_id).join(', ')}`);
  return b;
}

/** chat.update of message `ts` showing that `userId` pressed `label` and it went `state`. */
export function waitForUpdate(stack: Stack, ts: string, userId: string, label: string, state = 'ok'): Promise<Call> {
  const line = new RegExp(`<@${userId}> pressed \\*${label}\\* — ${state}`);
  return standInOf(stack).waitFor(
    `chat.update of ${ts}: ${userId} pressed ${label} (${state})`,
    (st) => st.calls.find((c) => c.method === 'chat.update' && c.args.ts === ts && c.args.channel === ALERTS && line.test(JSON.stringify(c.args.blocks))),
    45_000,
  );
}

/**
 * The post-switch guard's alert about `pool` posted after `since` (stand-in clock) with a "Roll back
 * to `back`" button: the guard's, not the switch's own announcement (which offers Roll back too).
 */
export function waitForGuardAlert(stack: Stack, since: number, pool: 'blue' | 'green', back: 'blue' | 'green', timeoutMs = 30_000): Promise<Call> {
  return standInOf(stack).waitFor(
    `the guard alert with Roll back to ${back}`,
    (st) =>
      st.calls.find(
        (c) =>
          c.method === 'chat.postMessage' &&
          c.at >= since &&
          c.args.channel === ALERTS &&
          String(JSON.stringify(c.args.blocks)).includes(`post_switch_guard:${pool}`) &&
          buttonsOf(c).some((b) => b.action_id === `bg_rollback.${back}`),
      ),
    timeoutMs,
  );
}
