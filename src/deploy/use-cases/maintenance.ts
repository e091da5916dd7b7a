import type { Actor } from '../../shared/actor.js';
import { operationalAlert } from '../../shared/alert.js';
import { BluegreenError } from '../../errors.js';
import type { MaintenanceState } from '../../shared/maintenance-state.js';
import { failed, ok, refused, type OpResult } from '../../shared/op-result.js';
import type { DeployState } from '../state/state-store.js';
import { who, type UseCaseContext } from './context.js';

// `maintenance on|off|extend|show`: quiet mode (non-critical alerts held back) for a while, and the
// maintenance page (nginx answers public requests with 503 and the page) on request. The state file
// records it; nginx's page flag is the truth about the page. A timer ends it when its time is up.

/** `maintenance` (show): the recorded state and nginx's truth about the page. */
export interface MaintenanceReport extends MaintenanceState {
  /** The maintenance-page flag file is there: nginx answers public requests with the page. */
  pageFlag: boolean;
}

export interface SetMaintenanceOptions {
  by: Actor;
  durationMs?: number | undefined;
  page?: boolean | undefined;
  reason?: string | undefined;
}

/** Longest maintenance from now, also after an extension (the grammar's limit). */
const MAX_MAINTENANCE_MS = 7 * 24 * 3_600_000;

const offState = (by: Actor): MaintenanceState => ({ on: false, since: undefined, until: undefined, by, reason: undefined, page: false });
const span = (ms: number) => (ms < 60_000 ? `${Math.round(ms / 1000)} s` : ms < 7_200_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 360_000) / 10} h`);

export function createMaintenanceUseCases(ctx: UseCaseContext) {
  const { nginx, store, settings, now } = ctx;

  /** After the page flag changed: nginx confirms it, or the result says it did not. */
  async function pageChange(on: boolean): Promise<string> {
    const ms = await nginx.verifyPage(on, settings.verifyTimeoutMs);
    if (ms === undefined) {
      return `; the maintenance-page flag is ${on ? 'set' : 'removed'}, but nginx did not confirm it within ${settings.verifyTimeoutMs} ms (is nginx up, and does it share NGINX_STATE_DIR with the bot?)`;
    }
    return on ? `; nginx serves the maintenance page (${Math.round(ms)} ms)` : `; the maintenance page is down, the pools serve again (${Math.round(ms)} ms)`;
  }

  /**
   * On: quiet mode until now + durationMs [the default length]. `page` true puts the maintenance
   * page up, false takes it down, undefined keeps it as it is: an `on` typed (or a button pressed)
   * to lengthen quiet mode never lets users into a site that is half-way through its maintenance.
   * Off: ends both.
   */
  function setMaintenance(on: boolean, { by, durationMs, page, reason }: SetMaintenanceOptions): Promise<OpResult<MaintenanceState>> {
    const args = on ? { on, durationMs, ...(page === undefined ? {} : { page }), ...(reason ? { reason } : {}) } : { on };
    return ctx.audited('maintenance', args, by, async () => {
      const before = (await store.read()).maintenance;
      const flagBefore = await nginx.maintenancePage();
      const wantPage = on && (page ?? (before.on && before.page));
      // The flag first: if it cannot be written, nothing is recorded. If the record then fails,
      // the flag goes back, so nginx never shows a page the bot does not know about (no expiry).
      if (wantPage !== flagBefore) await nginx.setMaintenancePage(wantPage);
      let state: DeployState;
      try {
        state = await store.update((s) => {
          const cur = s.maintenance;
          s.maintenance = on
            ? {
                on: true,
                since: cur.on ? cur.since : ctx.iso(),
                until: new Date(now() + (durationMs ?? settings.maintenanceDefaultMs)).toISOString(),
                by,
                reason: reason ?? (cur.on ? cur.reason : undefined),
                page: wantPage,
              }
            : offState(by);
        });
      } catch (err) {
        if (wantPage !== flagBefore) await nginx.setMaintenancePage(flagBefore).catch(() => undefined);
        throw err;
      }
      const m = state.maintenance;
      const pageNote = wantPage !== flagBefore ? await pageChange(wantPage) : wantPage ? '; the maintenance page stays up' : '';
      if (!on) {
        return ok(before.on || flagBefore ? `Maintenance off: alerts are live again${pageNote}` : `Maintenance was already off; nothing changed${pageNote}`, m);
      }
      return ok(`Maintenance on until ${m.until}${m.reason ? ` (${m.reason})` : ''}: non-critical alerts are held back${pageNote}`, m);
    });
  }

  /** Moves the end of the maintenance under way; refused when maintenance is off. */
  function extendMaintenance(ms: number, { by }: { by: Actor }): Promise<OpResult<MaintenanceState>> {
    return ctx.audited('maintenance', { extendMs: ms }, by, async () => {
      const cur = (await store.read()).maintenance;
      if (!cur.on || cur.until === undefined) return refused('maintenance is off: there is nothing to extend. Start it with: maintenance on for 30m');
      const until = Math.max(Date.parse(cur.until), now()) + ms;
      if (until - now() > MAX_MAINTENANCE_MS) {
        return refused(`maintenance can last at most 7 days from now; extending by ${span(ms)} would end it at ${new Date(until).toISOString()}`);
      }
      const state = await store.update((s) => {
        s.maintenance.until = new Date(until).toISOString();
      });
      const m = state.maintenance;
      return ok(`Maintenance extended by ${span(ms)}: now until ${m.until}${m.page ? '; the maintenance page stays up' : ''}`, m);
    });
  }

  /** Maintenance as recorded, and whether nginx's page flag is there. */
  async function showMaintenance(): Promise<OpResult<MaintenanceReport>> {
    try {
      const [state, pageFlag] = await Promise.all([store.read(), nginx.maintenancePage()]);
      const m = state.maintenance;
      const by = m.by ? who(m.by) : 'someone';
      const text = m.on ? `Maintenance on since ${m.since} until ${m.until}, by ${by}${m.reason ? ` (${m.reason})` : ''}; maintenance page ${m.page ? 'up' : 'down'}` : 'Maintenance is off';
      // The flag is nginx's truth; say so when it and the record disagree (a hand-made flag).
      const mismatch = pageFlag !== m.page ? `; nginx's maintenance-page flag is ${pageFlag ? 'there' : 'missing'} although the record says the page is ${m.page ? 'up' : 'down'}` : '';
      return ok(`${text}${mismatch}`, { ...m, pageFlag });
    } catch (err) {
      if (err instanceof BluegreenError) return failed(`maintenance failed: ${err.message}`, err.hint);
      throw err;
    }
  }

  /**
   * MAINTENANCE_MODE=true at the first start: maintenance on for the default length, unless anyone
   * has ever turned maintenance on or off (then commands own it). True when it turned it on.
   */
  async function seedMaintenance(): Promise<boolean> {
    if ((await store.read()).maintenance.by !== undefined) return false;
    const seed: Actor = { kind: 'auto', id: 'MAINTENANCE_MODE', name: 'MAINTENANCE_MODE at first start' };
    const r = await setMaintenance(true, { by: seed });
    return r.status === 'ok';
  }

  /** Ends maintenance whose time is up, page included; called by a timer. */
  async function expireMaintenance(): Promise<boolean> {
    const due = (m: MaintenanceState) => m.on && m.until !== undefined && Date.parse(m.until) <= now();
    if (!due((await store.read()).maintenance)) return false;
    const auto: Actor = { kind: 'auto', id: 'maintenance-timer', name: 'maintenance timer' };
    let ended: MaintenanceState | undefined;
    const r = await ctx.audited('maintenance', { on: false, expired: true }, auto, async () => {
      // Read again under the lock: an extend or an off may have come first.
      const cur = (await store.read()).maintenance;
      if (!due(cur)) return refused('maintenance was extended or ended meanwhile; nothing expired');
      if (cur.page || (await nginx.maintenancePage())) await nginx.setMaintenancePage(false);
      await store.update((s) => {
        s.maintenance = offState(auto);
      });
      ended = cur;
      return ok(`Maintenance ended: it expired at ${cur.until}${cur.page ? '; the maintenance page is down' : ''}`, offState(auto));
    });
    if (r.status === 'ok' && ended) {
      const m: MaintenanceState = ended;
      await ctx.raise(
        operationalAlert({
          kind: 'maintenance_expired',
          status: 'resolved',
          severity: 'info',
          pool: undefined,
          env: settings.envName,
          title: 'Maintenance ended',
          summary: `Maintenance started by ${m.by ? who(m.by) : 'someone'}${m.reason ? ` (${m.reason})` : ''} expired at ${m.until}; alerts are live again${m.page ? ' and the maintenance page is down' : ''}.`,
          at: ctx.iso(),
          firstAt: m.since ?? ctx.iso(),
        }),
      );
    }
    return r.status === 'ok';
  }

  return { setMaintenance, extendMaintenance, showMaintenance, seedMaintenance, expireMaintenance };
}
