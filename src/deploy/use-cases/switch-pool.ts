import type { Pool } from '../../pool.js';
import type { Actor } from '../../shared/actor.js';
import { failed, ok, refused, type OpResult } from '../../shared/op-result.js';
import type { Progress } from '../../shared/progress.js';
import { describeVerification } from '../nginx/nginx-control.js';
import type { SwitchRecord } from '../state/state-store.js';
import { quiet, who, type UseCaseContext } from './context.js';

// `switch <pool>` and `rollback` (and the auto-demote and post-switch guard, which switch through
// them): check the target's health, tell nginx, and verify through nginx that it serves the target;
// when it does not, put nginx back as it was. Engine-independent: the pools are nginx's upstreams.

export interface SwitchData {
  from: Pool;
  to: Pool;
  /** Command to nginx serving the target, verified through nginx. */
  ms: number;
  changed: boolean;
  /** The release now serving, when known. */
  release?: string | undefined;
}

export type SwitchKind = SwitchRecord['kind'];

export interface SwitchOptions {
  force: boolean;
  by: Actor;
  kind?: SwitchKind;
  reason?: string;
  progress?: Progress;
}

export interface RollbackOptions {
  kind?: SwitchKind;
  reason?: string;
  progress?: Progress;
  /** The pool a button promised ("Roll back to blue"): refused when the last switch no longer leads back there. */
  expect?: Pool;
}

export function createSwitchUseCases(ctx: UseCaseContext) {
  const { nginx, settings, store } = ctx;

  async function doSwitch(target: Pool, force: boolean, by: Actor, kind: SwitchKind, reason: string | undefined, say: Progress): Promise<OpResult<SwitchData>> {
    const from = await nginx.activePool();
    if (from === target) return ok(`${target} is already active; nothing changed`, { from, to: target, ms: 0, changed: false });

    say(`health check of ${target}`);
    const probe = await ctx.gateProbe(target);
    say(`${target} is ${probe.healthy ? 'healthy' : `unhealthy (${probe.detail})`}`);
    if (!probe.healthy && !force) {
      return refused(`${target} is unhealthy (${probe.detail}); switching would send traffic to a failing pool. Add --force to switch anyway`);
    }
    const started = performance.now();
    await nginx.setActive(target);
    say(`nginx told to send traffic to ${target}; waiting until it does`);
    const verified = await nginx.verifyServing(target, settings.verifyTimeoutMs);
    if (verified.ms === undefined && probe.healthy) {
      // nginx does not route to the target although it answers: put the flags back as they were,
      // and say what nginx saw (a release that passes its health check and fails real requests, a
      // pool nginx benched, a flag folder nginx does not share).
      const why = describeVerification(verified, target);
      say(`nginx did not serve ${target} within ${settings.verifyTimeoutMs} ms (${why}): restoring ${from}`);
      await nginx.setActive(from);
      ctx.metrics?.switches.inc({ kind, result: 'failed' });
      const sawTarget = verified.answered > 0 || verified.benched > 0 || Object.keys(verified.failedOver).length > 0;
      return failed(
        `nginx did not serve ${target} steadily while being checked: ${why}; traffic stays on ${from}, nothing changed`,
        sawTarget ? `look at ${target}'s logs: it passes /healthz but fails requests` : 'is nginx up, and does it share the flag-file folder (NGINX_STATE_DIR) with the bot?',
      );
    }
    const ms = Math.round(verified.ms ?? performance.now() - started);
    const record: SwitchRecord = { kind, from, to: target, at: ctx.iso(), by, ...(reason ? { reason } : {}) };
    await store.update((s) => {
      s.previousPool = from;
      s.lastSwitch = record;
      if (kind === 'failover') s.lastFailover = record;
    });
    ctx.metrics?.switches.inc({ kind, result: 'ok' });
    ctx.onSwitched?.(record);
    const release = await ctx.releaseOf(target);
    const verb = kind === 'rollback' || kind === 'guard_rollback' ? 'Rolled back' : kind === 'failover' ? 'Failed over' : 'Switched';
    const misses = verified.checks - verified.answered;
    const shaky = misses > 0 && verified.ms !== undefined ? `; ${describeVerification(verified, target)} while being checked: the post-switch guard is watching` : '';
    const tail = probe.healthy ? `nginx serves ${target} (${ms} ms)${shaky}` : `forced while ${target} is unhealthy (${probe.detail}); nginx serves its backup ${from} until ${target} recovers`;
    return ok(`${verb} ${from} -> ${target}: ${tail}`, { from, to: target, ms, changed: true, release });
  }

  return {
    switchPool(target: Pool, { force, by, kind = 'switch', reason, progress = quiet }: SwitchOptions): Promise<OpResult<SwitchData>> {
      return ctx.audited(kind, { pool: target, force }, by, () => doSwitch(target, force, by, kind, reason, progress));
    },

    /** Back to the pool that was active before the last switch. */
    rollback(by: Actor, opts: RollbackOptions = {}): Promise<OpResult<SwitchData>> {
      const kind = opts.kind ?? 'rollback';
      return ctx.audited(kind, opts.expect ? { to: opts.expect } : {}, by, async () => {
        const state = await store.read();
        const target = state.previousPool;
        if (!target) return refused('nothing to roll back to: no switch has been recorded yet');
        if (opts.expect && opts.expect !== target) {
          const last = state.lastSwitch;
          const since = last ? `: the last switch was ${last.from} -> ${last.to} by ${who(last.by)} at ${last.at}` : '';
          return refused(`rolling back now would go to ${target}, not ${opts.expect}${since}. Use switch ${opts.expect} if that is what you want`);
        }
        // An operator rolling back in an incident is not made to wait on the health gate; nginx's
        // backup still covers a target that is down.
        return doSwitch(target, true, by, kind, opts.reason, opts.progress ?? quiet);
      });
    },
  };
}
