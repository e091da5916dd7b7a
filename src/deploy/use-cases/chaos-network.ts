import { BluegreenError } from '../../errors.js';
import type { Pool } from '../../pool.js';
import type { ChaosKind } from '../../shared/chaos-kind.js';
import type { ContainerFaults } from './context.js';

// The network faults of chaos.ts (loss, delay): a helper container (docker/chaos-net) in each
// target's network namespace holds the fault, says `applied` or `refused: <why>`, and removes it
// at SIGTERM or when its time is up, so a fault ends even without the bot.

/** How long a helper may take to say `applied` (or why not). */
const HELPER_READY_MS = 8000;

export interface NetworkFault {
  image: string;
  kind: ChaosKind;
  amount: number;
  ms: number;
  targets: readonly string[];
  pool: Pool;
  now: () => number;
}

/** SIGTERM makes a helper remove its fault; then the helper goes. One already gone is skipped. */
export async function stopHelpers(c: ContainerFaults, ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    try {
      await c.stop(id);
      await c.remove(id);
    } catch (err) {
      if (!(err instanceof BluegreenError && err.code === 'CONTAINER_NOT_FOUND')) throw err;
    }
  }
}

/**
 * Starts a helper in each target's network namespace and waits until each says `applied`: the
 * helpers, or a refusal in the helper's own words (every helper started is stopped again).
 */
export async function startNetworkFault(c: ContainerFaults, f: NetworkFault): Promise<string[] | string> {
  const helpers: string[] = [];
  const giveUp = async (why: string) => {
    await stopHelpers(c, helpers);
    return why;
  };
  for (const target of f.targets) {
    let helper: string;
    try {
      helper = await c.runHelper({
        image: f.image,
        args: [f.kind, String(f.amount), String(Math.ceil(f.ms / 1000))],
        joinNetworkOf: target,
        capAdd: ['NET_ADMIN'],
        labels: { 'com.bluegreen.chaos': f.pool },
      });
    } catch (err) {
      if (err instanceof BluegreenError && err.code === 'CHAOS_UNAVAILABLE') return giveUp(`chaos ${f.kind}: ${err.message}${err.hint ? ` (${err.hint})` : ''}`);
      await stopHelpers(c, helpers);
      throw err;
    }
    helpers.push(helper);
    const deadline = f.now() + HELPER_READY_MS;
    for (;;) {
      // Whether it had ended is asked first, its words read after: a helper that says `refused`
      // and exits between a read of its log and a look at its state is not taken as silent.
      const ended = (await c.inspect(helper)).state === 'exited' || f.now() > deadline;
      const out = await c.logs(helper);
      if (/^applied$/m.test(out)) break;
      const refusal = /^refused: (.*)$/m.exec(out)?.[1];
      if (refusal) return giveUp(`chaos ${f.kind} cannot run on ${f.pool}: ${refusal}`);
      if (ended) return giveUp(`chaos ${f.kind} on ${f.pool}: the helper did not apply it (${out.trim().slice(-300) || 'no output'})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return helpers;
}
