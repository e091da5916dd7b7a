import { BluegreenError, describeError } from '../../errors.js';
import { otherPool, type Pool } from '../../pool.js';
import type { Actor } from '../../shared/actor.js';
import type { ChaosKind } from '../../shared/chaos-kind.js';
import { ok, refused, type OpResult } from '../../shared/op-result.js';
import type { ChaosRecord } from '../state/state-store.js';
import { startNetworkFault, stopHelpers } from './chaos-network.js';
import type { ContainerFaults, UseCaseContext } from './context.js';

// `chaos start|stop <pool>`: a fault on a pool, time-boxed. Refused on the active pool while its
// backup is unhealthy: that would be an outage, not a drill.
//   kill, stop, pause  through the Docker API on the pool's containers (Pumba's way): any app, no
//                      endpoint in it. kill is a crash (SIGKILL; Compose's restart policy may
//                      bring it back), stop a clean exit, pause freezes it (connections hang).
//   error, timeout     the demo app's own HTTP chaos (its admin listener), for apps that serve it.
//   loss, delay        network faults from a short-lived helper container (CHAOS_NET_IMAGE,
//                      docker/chaos-net) that joins each container's network namespace with only
//                      NET_ADMIN: iptables' statistic match drops a share of incoming packets;
//                      tc netem holds outgoing ones. The helper removes its fault when its time
//                      is up or at SIGTERM; where the kernel cannot (no netem), it says so and the
//                      start is refused with its words.
// Every fault is recorded in the state file with its end; the bot undoes it when its time is up
// (expireChaos, every second, also after a bot restart) or at `chaos stop`.

export type { ChaosKind };
const CONTAINER_KINDS = new Set<ChaosKind>(['kill', 'stop', 'pause']);
const NETWORK_KINDS = new Set<ChaosKind>(['loss', 'delay']);

export interface StartChaosOptions {
  force: boolean;
  by: Actor;
  /** How long the fault lasts [settings.chaosDefaultMs]; more than settings.chaosMaxMs is refused. */
  durationMs?: number | undefined;
  /** delay: milliseconds; loss: percent. */
  amount?: number | undefined;
}

const TIMER: Actor = { kind: 'auto', id: 'chaos-timer', name: 'chaos timer' };
const span = (ms: number) => (ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);
const short = (id: string) => id.slice(0, 12);

export function createChaosUseCases(ctx: UseCaseContext) {
  const { nginx, pools, store, settings } = ctx;

  /** The containers a Docker-level fault acts on, or a refusal naming why there are none. */
  async function containersOf(pool: Pool): Promise<{ ids: string[]; elsewhere: number } | string> {
    const t = await (await ctx.engine()).faultTargets(pool);
    if (t.ids.length > 0) return t;
    return t.elsewhere > 0
      ? `${pool}'s ${t.elsewhere} running task(s) are all on other nodes: Docker faults reach only the containers on the bot's node`
      : `${pool} has no running container to act on`;
  }

  async function applyFault(kind: ChaosKind, ids: readonly string[]): Promise<void> {
    const c = docker();
    for (const id of ids) {
      if (kind === 'kill') await c.kill(id);
      else if (kind === 'stop') await c.stop(id);
      else if (kind === 'pause') await c.pause(id);
    }
  }

  /**
   * Undoes a recorded fault: unpause, or start again what kill/stop left exited (not a Swarm task:
   * Swarm replaces those itself). A container that is gone (replaced by a deploy) is skipped.
   * Returns what it did, in words.
   */
  async function undo(rec: ChaosRecord, pool: Pool): Promise<string> {
    if (NETWORK_KINDS.has(rec.kind)) {
      await stopHelpers(docker(), rec.helpers ?? []);
      return rec.helpers?.length ? ` (${rec.helpers.length} helper(s) removed their ${rec.kind})` : '';
    }
    if (!CONTAINER_KINDS.has(rec.kind)) {
      await pools.stopChaos(pool);
      return '';
    }
    const c = docker();
    const done: string[] = [];
    for (const id of rec.containers) {
      let info;
      try {
        info = await c.inspect(id);
      } catch (err) {
        if (err instanceof BluegreenError && err.code === 'CONTAINER_NOT_FOUND') continue;
        throw err;
      }
      if (rec.kind === 'pause') {
        if (info.state === 'paused') {
          await c.unpause(id);
          done.push(`${info.name} unpaused`);
        }
      } else if (info.state !== 'running' && info.labels['com.docker.swarm.task.id'] === undefined) {
        await c.start(id);
        done.push(`${info.name} started`);
      }
    }
    return done.length ? ` (${done.join(', ')})` : '';
  }

  function docker(): ContainerFaults {
    if (!ctx.containers) throw new BluegreenError('DOCKER_UNAVAILABLE', 'this process has no Docker API to act on containers');
    return ctx.containers;
  }

  return {
    startChaos(pool: Pool, kind: ChaosKind, { force, by, durationMs, amount }: StartChaosOptions): Promise<OpResult> {
      return ctx.audited('chaos_start', { pool, mode: kind, force, ...(durationMs ? { durationMs } : {}), ...(amount ? { amount } : {}) }, by, async () => {
        if (NETWORK_KINDS.has(kind) && amount === undefined) return refused(`chaos ${kind} needs an amount (${kind === 'delay' ? 'ms' : 'percent'})`);
        const ms = durationMs ?? settings.chaosDefaultMs;
        if (ms > settings.chaosMaxMs) return refused(`chaos lasts at most ${span(settings.chaosMaxMs)} (CHAOS_MAX_DURATION); asked for ${span(ms)}`);
        const recorded = (await store.read()).chaos[pool];
        if (recorded) return refused(`chaos ${recorded.kind} already runs on ${pool} until ${recorded.until}: chaos stop ${pool} first`);
        const active = await nginx.activePool();
        if (pool === active && !force) {
          const backup = await ctx.gateProbe(otherPool(pool));
          if (!backup.healthy) {
            return refused(`${pool} is active and the backup ${otherPool(pool)} is unhealthy (${backup.detail}): chaos would be an outage. Add --force to start it anyway`);
          }
        }
        let ids: string[] = [];
        let note = '';
        if (CONTAINER_KINDS.has(kind) || NETWORK_KINDS.has(kind)) {
          const t = await containersOf(pool);
          if (typeof t === 'string') return refused(t);
          ids = t.ids;
          if (t.elsewhere > 0) note = `; ${t.elsewhere} task(s) on other nodes are not touched (Docker faults reach this node only)`;
          const until = new Date(ctx.now() + ms).toISOString();
          if (NETWORK_KINDS.has(kind)) {
            if (!settings.chaosNetImage) return refused(`chaos ${kind} needs the network helper image (CHAOS_NET_IMAGE), which this bot has not been given`);
            const helpers = await startNetworkFault(docker(), { image: settings.chaosNetImage, kind, amount: amount!, ms, targets: ids, pool, now: ctx.now });
            if (typeof helpers === 'string') return refused(helpers);
            await record(pool, { kind, since: ctx.iso(), until, by, containers: ids, helpers, amount });
          } else {
            // Recorded first: a bot that dies half-way still knows what to undo.
            await record(pool, { kind, since: ctx.iso(), until, by, containers: ids });
            await applyFault(kind, ids);
          }
        } else {
          await record(pool, { kind, since: ctx.iso(), until: new Date(ctx.now() + ms).toISOString(), by, containers: [] });
          try {
            await pools.startChaos(pool, kind === 'timeout' ? 'timeout' : 'error');
          } catch (err) {
            await record(pool, undefined);
            throw err;
          }
        }
        const what = ids.length ? ` on ${ids.length} container(s): ${ids.map(short).join(', ')}` : '';
        const label = amount === undefined ? kind : `${kind} ${amount}${kind === 'delay' ? ' ms' : '%'}`;
        return ok(`Chaos (${label}) started on ${pool}${pool === active ? ' (the active pool)' : ''}${what} for ${span(ms)}; it ends by itself, or with: chaos stop ${pool}${note}`);
      });
    },

    stopChaos(pool: Pool, by: Actor): Promise<OpResult> {
      return ctx.audited('chaos_stop', { pool }, by, async () => {
        const rec = (await store.read()).chaos[pool];
        if (!rec) {
          // Nothing recorded (chaos started before records, or by hand): the demo app's own chaos.
          await pools.stopChaos(pool);
          return ok(`Chaos stopped on ${pool}`);
        }
        const did = await undo(rec, pool);
        await record(pool, undefined);
        return ok(`Chaos (${rec.kind}) stopped on ${pool}${did}`);
      });
    },

    /** Ends recorded faults whose time is up; called every second by the bot (and at its start). */
    async expireChaos(): Promise<Pool[]> {
      const state = await store.read();
      const due = (['blue', 'green'] as const).filter((p) => {
        const rec = state.chaos[p];
        return rec !== undefined && Date.parse(rec.until) <= ctx.now();
      });
      const ended: Pool[] = [];
      for (const pool of due) {
        const r = await ctx.audited('chaos_stop', { pool, expired: true }, TIMER, async () => {
          // Read again under the lock: a chaos stop may have come first.
          const rec = (await store.read()).chaos[pool];
          if (!rec || Date.parse(rec.until) > ctx.now()) return refused(`chaos on ${pool} was stopped meanwhile`);
          let did: string;
          try {
            did = await undo(rec, pool);
          } catch (err) {
            // Left recorded: the next round tries again.
            return refused(`chaos (${rec.kind}) on ${pool} is due to end, but undoing it failed: ${describeError(err)}; trying again`);
          }
          await record(pool, undefined);
          return ok(`Chaos (${rec.kind}) on ${pool} ended: its time was up${did}`);
        });
        if (r.status === 'ok') ended.push(pool);
      }
      return ended;
    },
  };

  async function record(pool: Pool, rec: ChaosRecord | undefined): Promise<void> {
    await store.update((s) => {
      if (rec) s.chaos[pool] = rec;
      else delete s.chaos[pool];
    });
  }
}
