import { randomUUID } from 'node:crypto';
import type { Pool } from '../pool.js';
import { incidentKeyParts, type AlertEvent } from '../shared/alert.js';
import type { Signal } from './detectors.js';

export interface PolicyOptions {
  env: string;
  cooldownMs: number;
  windowSize: number;
  now?: () => number;
}

/** What the watcher knows at the moment a signal is raised. */
export interface SignalContext {
  maintenance: boolean;
  samples: number;
  sampleLines: string[];
  release(pool: Pool | undefined): string | undefined;
}

export interface Suppressed {
  key: string;
  title: string;
  reason: 'maintenance' | 'cooldown';
  at: string;
}

interface Incident {
  signal: Signal;
  firstAt: number;
  announced: boolean;
  samples: number;
  sampleLines: string[];
  release: string | undefined;
  /** An alert raised whole (deploy control): sent as it is, not rebuilt from the signal. */
  alert?: AlertEvent;
}

/** Incidents and cooldowns that must outlive a restart so no alert is repeated. */
export interface PolicyState {
  open: { key: string; firstAt: number; announced: boolean }[];
  lastFiring: Record<string, number>;
}

const MAX_SUPPRESSED = 100;

/**
 * Decides which signals become alerts: one incident per key, at most one firing alert per key per
 * cooldown, a resolved alert only for an incident people were told about, and maintenance holding
 * back everything but critical alerts (kept in `suppressed`). An incident held back by cooldown or
 * maintenance is announced later if it is still open when they end (tick()).
 */
export class AlertPolicy {
  readonly #o: PolicyOptions;
  readonly #now: () => number;
  readonly #send: (a: AlertEvent) => void;
  #incidents = new Map<string, Incident>();
  #lastFiring = new Map<string, number>();
  readonly suppressed: Suppressed[] = [];
  onSuppressed: ((s: Suppressed) => void) | undefined;

  constructor(options: PolicyOptions, send: (a: AlertEvent) => void) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#send = send;
  }

  handle(signal: Signal, ctx: SignalContext): void {
    const now = this.#now();
    const existing = this.#incidents.get(signal.key);
    if (signal.status === 'firing') {
      if (existing) return; // one incident per key
      const inc: Incident = {
        signal,
        firstAt: now,
        announced: false,
        samples: ctx.samples,
        sampleLines: ctx.sampleLines,
        release: ctx.release(signal.pool),
      };
      this.#incidents.set(signal.key, inc);
      this.#announce(inc, ctx.maintenance, now);
      return;
    }
    if (!existing) return;
    this.#incidents.delete(signal.key);
    if (!existing.announced) return;
    this.#send(this.#event(signal, existing.firstAt, now, ctx.samples, ctx.sampleLines, ctx.release(signal.pool)));
  }

  /**
   * An alert raised whole by deploy control (auto-demote, post-switch guard, notices), through the
   * same incidents, cooldown and maintenance as the watcher's signals. A firing for an open incident
   * is an update (sent when the incident was announced); a resolution closes it; a resolution with no
   * open incident is a notice, sent as it is.
   */
  raise(alert: AlertEvent, maintenance: boolean): void {
    const now = this.#now();
    const existing = this.#incidents.get(alert.key);
    if (alert.status === 'firing') {
      if (existing) {
        existing.alert = alert;
        existing.signal = signalOf(alert);
        if (existing.announced) this.#send({ ...alert, firstAt: new Date(existing.firstAt).toISOString() });
        return;
      }
      const firstAt = Date.parse(alert.firstAt);
      const inc: Incident = { signal: signalOf(alert), firstAt: Number.isFinite(firstAt) ? firstAt : now, announced: false, samples: 0, sampleLines: [], release: alert.release, alert };
      this.#incidents.set(alert.key, inc);
      this.#announce(inc, maintenance, now);
      return;
    }
    if (!existing) {
      this.#send(alert);
      return;
    }
    this.#incidents.delete(alert.key);
    if (existing.announced) this.#send({ ...alert, firstAt: new Date(existing.firstAt).toISOString() });
  }

  /** Announce incidents held back by a cooldown or maintenance that has since ended. */
  tick(maintenance: boolean): void {
    const now = this.#now();
    for (const inc of this.#incidents.values()) if (!inc.announced) this.#announce(inc, maintenance, now, true);
  }

  #announce(inc: Incident, maintenance: boolean, now: number, quiet = false): void {
    const s = inc.signal;
    let reason: Suppressed['reason'] | undefined;
    if (maintenance && s.severity !== 'critical') reason = 'maintenance';
    else {
      const last = this.#lastFiring.get(s.key);
      if (last !== undefined && now - last < this.#o.cooldownMs) reason = 'cooldown';
    }
    if (reason) {
      if (quiet) return;
      const rec: Suppressed = { key: s.key, title: s.title, reason, at: new Date(now).toISOString() };
      this.suppressed.push(rec);
      if (this.suppressed.length > MAX_SUPPRESSED) this.suppressed.shift();
      this.onSuppressed?.(rec);
      return;
    }
    inc.announced = true;
    this.#lastFiring.set(s.key, now);
    const ev = inc.alert ? { ...inc.alert, at: new Date(now).toISOString() } : this.#event(s, inc.firstAt, now, inc.samples, inc.sampleLines, inc.release);
    if (maintenance) ev.explainedBy = [...ev.explainedBy, 'maintenance (critical alerts still sent)'];
    this.#send(ev);
  }

  #event(
    s: Signal,
    firstAt: number,
    now: number,
    samples: number,
    sampleLines: string[],
    release: string | undefined,
  ): AlertEvent {
    return {
      id: randomUUID(),
      key: s.key,
      kind: s.kind,
      status: s.status,
      severity: s.severity,
      pool: s.pool,
      release,
      env: this.#o.env,
      title: s.title,
      summary: s.summary,
      observed: s.observed,
      threshold: s.threshold,
      unit: s.unit,
      windowSize: this.#o.windowSize,
      samples,
      sampleLines,
      explainedBy: s.explainedBy,
      at: new Date(now).toISOString(),
      firstAt: new Date(firstAt).toISOString(),
    };
  }

  openKeys(): string[] {
    return [...this.#incidents.keys()];
  }

  state(): PolicyState {
    return {
      open: [...this.#incidents.values()].map((i) => ({ key: i.signal.key, firstAt: i.firstAt, announced: i.announced })),
      lastFiring: Object.fromEntries(this.#lastFiring),
    };
  }

  /** Restore after a restart. The detectors get the same keys (Detectors.restore) so they resolve them. */
  restore(state: PolicyState): void {
    for (const [k, v] of Object.entries(state.lastFiring)) this.#lastFiring.set(k, v);
    for (const o of state.open) {
      const { kind, pool } = incidentKeyParts(o.key);
      const signal: Signal = {
        key: o.key,
        kind: kind as Signal['kind'],
        status: 'firing',
        severity: kind === 'all_down' ? 'critical' : 'warning',
        pool,
        title: o.key,
        summary: 'open before the watcher restarted',
        observed: undefined,
        threshold: undefined,
        unit: undefined,
        explainedBy: [],
      };
      this.#incidents.set(o.key, { signal, firstAt: o.firstAt, announced: o.announced, samples: 0, sampleLines: [], release: undefined });
    }
  }
}

function signalOf(a: AlertEvent): Signal {
  return {
    key: a.key,
    kind: a.kind,
    status: a.status,
    severity: a.severity,
    pool: a.pool,
    title: a.title,
    summary: a.summary,
    observed: a.observed,
    threshold: a.threshold,
    unit: a.unit,
    explainedBy: a.explainedBy,
  };
}
