import type { AuditEntry } from '../shared/audit-entry.js';
import type { Logger } from '../log.js';
import type { Pool } from '../pool.js';
import { incidentKeyParts, operationalAlert, type AlertEvent, type Notifier } from '../shared/alert.js';
import { actionLine, buildAlertMessage, EMPTY_INCIDENT, type AlertFacts, type IncidentAction, type IncidentView } from './blocks/alert.js';
import { actorText, buildAuditMessage } from './blocks/audit.js';
import { heldBackSummary, type MaintenanceView } from './blocks/maintenance.js';
import { escapeMrkdwn, humanDuration, type Message } from './blocks/kit.js';
import type { IncidentStore, SavedIncident } from './incident-store.js';
import type { Outbox, SendOptions } from './outbox.js';

/** Incidents saved for after a restart, newest kept. */
const MAX_SAVED = 200;

/** An incident's one Slack message and what happened to it. */
interface Incident {
  key: string;
  channel: string;
  /** Known once the first post is delivered; undefined if it could never be posted. */
  ts: string | undefined;
  alert: AlertEvent;
  view: IncidentView;
}

export interface SlackNotifierOptions {
  outbox: Outbox;
  channel: string;
  runbookUrl: string | undefined;
  log: Logger;
  /** Incidents remembered; the oldest resolved ones are forgotten first. */
  maxIncidents?: number;
  /** Keeps each incident's message (channel, ts) across restarts; none: memory only. */
  store?: IncidentStore;
  /** What the bot knows now (health, chaos, the post-switch guard), so buttons fit the facts. */
  facts?: () => NotifierFacts;
}

export interface NotifierFacts extends AlertFacts {
  /** The pool the post-switch guard watches and where a rollback goes, while it watches. */
  guard: { pool: Pool; from: Pool } | undefined;
}

/** Switches people made get a Roll back button on their message; the bot's own failovers and rollbacks do not. */
const ROLLBACK_OFFERED = new Set(['switch', 'rollback']);
/** Messages made from the audit log (a switch, a maintenance window): dropped before alerts when the outbox is full. */
const FROM_AUDIT_LOG = new Set<AlertEvent['kind']>(['switch', 'maintenance']);
/** Kinds that, raised during the guard window about the pool switched to, carry Roll back. */
const GUARDED_KINDS = new Set<AlertEvent['kind']>(['failover', 'error_rate', 'latency', 'all_down']);

/**
 * Alerts as Slack messages, one message per incident: the first firing posts, a repeat, a
 * resolution or a click updates that message in place and adds detail in its thread.
 * notify() only queues, so a slow or absent Slack never holds up the watcher.
 */
export class SlackNotifier implements Notifier {
  readonly name = 'slack';
  readonly #o: SlackNotifierOptions;
  readonly #incidents = new Map<string, Incident>();
  /** The announcement of the maintenance window now on, if any. */
  #maintenanceKey: string | undefined;
  #dirty = false;
  #saving: Promise<void> | undefined;

  constructor(opts: SlackNotifierOptions) {
    this.#o = opts;
  }

  async notify(alert: AlertEvent): Promise<void> {
    const existing = this.#incidents.get(alert.key);
    const log = this.#o.log.child({ incident: alert.key });
    // The window's announcement says it ended (updated in place from the audit log): no second message.
    if (alert.kind === 'maintenance_expired' && this.#maintenanceKey !== undefined) {
      log.debug('maintenance expiry shown on its announcement');
      return;
    }
    if (!existing || (existing.view.resolvedAt !== undefined && alert.status === 'firing')) {
      if (alert.status === 'resolved' && !existing) {
        // A resolution for an incident this process never posted (e.g. after a restart).
        this.#post({ key: alert.key, channel: this.#o.channel, ts: undefined, alert, view: { ...EMPTY_INCIDENT, resolvedAt: alert.at } }, log);
        return;
      }
      this.#post({ key: alert.key, channel: this.#o.channel, ts: undefined, alert, view: { ...EMPTY_INCIDENT, actions: [], ...this.#rollbackTo(alert) } }, log);
      return;
    }
    if (alert.status === 'resolved') {
      existing.view = { ...existing.view, resolvedAt: alert.at };
      existing.alert = { ...alert, firstAt: existing.alert.firstAt };
      this.#update(existing);
      this.#reply(existing, `:white_check_mark: Resolved after ${humanDuration(Date.parse(alert.at) - Date.parse(existing.alert.firstAt))}: ${alert.summary}`);
      return;
    }
    existing.view = { ...existing.view, repeats: existing.view.repeats + 1 };
    existing.alert = { ...alert, firstAt: existing.alert.firstAt };
    this.#update(existing);
    this.#reply(existing, `:repeat: Fired again: ${alert.summary}`);
  }

  /**
   * Take back the incidents an earlier process posted, so a click or a resolution on them updates
   * their message in place. A click that was running when that process stopped is shown as cut off.
   */
  async restore(): Promise<number> {
    const store = this.#o.store;
    if (!store) return 0;
    let saved: SavedIncident[];
    try {
      saved = await store.load();
    } catch (err) {
      this.#o.log.warn({ err }, 'saved incidents could not be read; clicks on older alerts answer below them');
      return 0;
    }
    let restored = 0;
    for (const inc of saved) {
      if (this.#incidents.has(inc.key)) continue;
      const actions = inc.view.actions.map((a) => (a.state === 'running' ? { ...a, state: 'failed' as const, detail: `${a.detail} (cut off by a bot restart)` } : a));
      this.#incidents.set(inc.key, { ...inc, view: { ...inc.view, actions } });
      restored += 1;
    }
    // A maintenance window announced before the restart and not over yet: its message goes on.
    for (const inc of this.#incidents.values()) if (inc.alert.kind === 'maintenance' && inc.view.maintenance && !inc.view.maintenance.ended) this.#maintenanceKey = inc.key;
    this.#o.log.info({ restored }, 'incident messages restored');
    return restored;
  }

  /** Resolves when every change so far is saved. */
  async flush(): Promise<void> {
    while (this.#saving) await this.#saving;
  }

  /** The incident a button belongs to, if this process (or a saved earlier one) posted it. */
  incident(key: string): { channel: string; ts: string | undefined; alert: AlertEvent; view: IncidentView } | undefined {
    return this.#incidents.get(key);
  }

  /** Record a click's progress or outcome on the incident message, and detail in its thread. */
  recordAction(key: string, action: IncidentAction): void {
    const inc = this.#incidents.get(key);
    if (!inc) return;
    const actions = [...inc.view.actions];
    const i = actions.findIndex((a) => a.userId === action.userId && a.label === action.label && a.state === 'running');
    if (i >= 0) actions[i] = action;
    else actions.push(action);
    inc.view = { ...inc.view, actions: actions.slice(-20) };
    this.#update(inc);
    if (action.state !== 'running') this.#reply(inc, actionLine(action));
  }

  acknowledge(key: string, userId: string): boolean {
    const inc = this.#incidents.get(key);
    if (!inc || inc.view.acknowledgedBy !== undefined) return false;
    inc.view = { ...inc.view, acknowledgedBy: userId };
    this.#update(inc);
    this.#reply(inc, `:eyes: <@${userId}> acknowledged this incident`);
    return true;
  }

  /**
   * An entry of the audit log (any process: Slack, the CLI, the bot itself) as its one line in the
   * channel. A switch that moved traffic gets a message of its own that clicks update, with "Roll
   * back to <pool>" when a person made it.
   */
  audit(entry: AuditEntry): void {
    const log = this.#o.log.child({ audit: entry.op });
    if (entry.op === 'maintenance' && entry.result === 'ok' && entry.maintenance) {
      this.#announceMaintenance(entry, log);
      return;
    }
    const sw = entry.switch;
    if (!sw || entry.result !== 'ok') {
      this.postToChannel(buildAuditMessage(entry)).catch((err: unknown) => log.error({ err }, 'audit line could not be posted'));
      return;
    }
    const title =
      entry.op === 'rollback'
        ? `Rolled back ${sw.from} → ${sw.to}`
        : entry.op === 'failover'
          ? `Auto-demote moved traffic ${sw.from} → ${sw.to}`
          : entry.op === 'guard_rollback'
            ? `Post-switch guard rolled back ${sw.from} → ${sw.to}`
            : `Switched ${sw.from} → ${sw.to}`;
    const alert = operationalAlert({
      key: `switch:${entry.at}`,
      kind: 'switch',
      status: 'firing',
      severity: 'info',
      pool: sw.to,
      release: sw.release,
      env: '',
      title,
      summary: `by ${actorText(entry.by)}${sw.release ? ` · release ${escapeMrkdwn(sw.release)}` : ''} · ${sw.ms} ms`,
      at: entry.at,
    });
    const view: IncidentView = { ...EMPTY_INCIDENT, actions: [], ...(ROLLBACK_OFFERED.has(entry.op) ? { rollbackTo: sw.from } : {}) };
    this.#post({ key: alert.key, channel: this.#o.channel, ts: undefined, alert, view }, log);
  }

  /**
   * Maintenance is announced in the channel once per window: who, why, until when, what it holds
   * back; the same message is updated when the window is extended or changed and when it ends
   * (command, button or timer), with a summary of the alerts it held back.
   */
  #announceMaintenance(entry: AuditEntry, log: Logger): void {
    const m = entry.maintenance!;
    const current = this.#maintenanceKey ? this.#incidents.get(this.#maintenanceKey) : undefined;
    const view = current?.view.maintenance;
    const who = actorText(entry.by);
    if (m.on) {
      if (current && view && !view.ended) {
        const extended = typeof entry.args.extendMs === 'number';
        current.view = {
          ...current.view,
          maintenance: { ...view, until: m.until, page: m.page, reason: m.reason, ...(extended ? { extendedBy: who } : {}) },
        };
        this.#update(current);
        this.#reply(current, `:hourglass: ${extended ? 'Extended' : 'Changed'} by ${who}: now until ${m.until ?? '?'}${m.page ? ' (maintenance page up)' : ''}`);
        return;
      }
      const since = m.since ?? entry.at;
      const key = `maintenance:${Date.parse(since)}`;
      const alert = operationalAlert({ key, kind: 'maintenance', status: 'firing', severity: 'info', pool: undefined, env: '', title: 'Maintenance', summary: m.reason ?? '', at: entry.at, firstAt: since });
      const maintenance: MaintenanceView = { by: m.by ? actorText(m.by) : who, reason: m.reason, since, until: m.until, page: m.page, extendedBy: undefined, ended: undefined, heldBack: [] };
      this.#maintenanceKey = key;
      this.#post({ key, channel: this.#o.channel, ts: undefined, alert, view: { ...EMPTY_INCIDENT, actions: [], maintenance } }, log);
      return;
    }
    if (!current || !view || view.ended) {
      // Ended, but this process never announced it (e.g. a window older than the saved messages).
      this.postToChannel(buildAuditMessage(entry)).catch((err: unknown) => log.error({ err }, 'audit line could not be posted'));
      return;
    }
    const expired = entry.args.expired === true;
    current.view = { ...current.view, maintenance: { ...view, ended: { at: entry.at, by: who, expired } } };
    this.#maintenanceKey = undefined;
    this.#update(current);
    this.#reply(current, `:white_check_mark: Maintenance ${expired ? 'ended by itself' : `ended by ${who}`}. ${heldBackSummary(view.heldBack)}`);
  }

  /** An alert the alert policy held back because of maintenance: counted on the window's announcement. */
  heldBack(held: { key: string; at: string }): void {
    const inc = this.#maintenanceKey ? this.#incidents.get(this.#maintenanceKey) : undefined;
    const view = inc?.view.maintenance;
    if (!inc || !view || view.ended) return;
    const { kind, pool } = incidentKeyParts(held.key);
    const rows = [...view.heldBack];
    const i = rows.findIndex((r) => r.kind === kind && r.pool === pool);
    if (i >= 0) rows[i] = { ...rows[i]!, count: rows[i]!.count + 1, last: held.at };
    else rows.push({ kind, pool, count: 1, first: held.at, last: held.at });
    inc.view = { ...inc.view, maintenance: { ...view, heldBack: rows } };
    // Saved at once (a restart keeps the count); shown on the message when the window changes or ends.
    this.#persist();
  }

  /** An alert raised during the post-switch guard window about the pool switched to offers Roll back. */
  #rollbackTo(alert: AlertEvent): { rollbackTo?: Pool } {
    const guard = this.#o.facts?.().guard;
    if (!guard || alert.status !== 'firing' || !GUARDED_KINDS.has(alert.kind)) return {};
    return alert.pool === undefined || alert.pool === guard.pool ? { rollbackTo: guard.from } : {};
  }

  /** Post anything else (audit lines) through the same ordered channel queue; the first to go when it is full. */
  postToChannel(message: Message, channel = this.#o.channel): Promise<Record<string, unknown> | undefined> {
    return this.#o.outbox.send(channel, () => ({ method: 'chat.postMessage', args: { channel, text: message.text, blocks: message.blocks } }), { kind: 'info' });
  }

  /** An incident's post opens a group in the outbox; its updates and replies follow it (dropped with it, as they need its ts). */
  #queueing(inc: Incident, role: 'opens' | 'follows'): SendOptions {
    return { kind: FROM_AUDIT_LOG.has(inc.alert.kind) ? 'info' : 'alert', [role]: inc };
  }

  #render(inc: Incident): Message {
    return buildAlertMessage(inc.alert, inc.view, { runbookUrl: this.#o.runbookUrl, facts: this.#o.facts?.() });
  }

  #post(inc: Incident, log: Logger): void {
    this.#remember(inc);
    const { channel } = inc;
    this.#o.outbox
      .send(channel, () => {
        const m = this.#render(inc);
        return { method: 'chat.postMessage', args: { channel, text: m.text, blocks: m.blocks, unfurl_links: false } };
      }, this.#queueing(inc, 'opens'))
      .then((answer) => {
        if (answer === undefined) {
          // Dropped while Slack was unreachable (the outbox logged it and tells the channel): forgotten,
          // so the next firing or resolution of this incident posts a message of its own.
          if (this.#incidents.get(inc.key) === inc) this.#incidents.delete(inc.key);
          return;
        }
        inc.ts = typeof answer?.ts === 'string' ? answer.ts : undefined;
        if (typeof answer?.channel === 'string') inc.channel = answer.channel;
        log.info({ channel, ts: inc.ts, kind: inc.alert.kind, status: inc.alert.status }, 'alert posted');
        this.#persist();
      })
      .catch((err: unknown) => log.error({ err }, 'alert could not be posted'));
  }

  #update(inc: Incident): void {
    const log = this.#o.log.child({ incident: inc.key });
    this.#persist();
    this.#o.outbox
      .send(inc.channel, () => {
        if (inc.ts === undefined) return undefined;
        const m = this.#render(inc);
        return { method: 'chat.update', args: { channel: inc.channel, ts: inc.ts, text: m.text, blocks: m.blocks } };
      }, this.#queueing(inc, 'follows'))
      .catch((err: unknown) => log.error({ err }, 'alert message could not be updated'));
  }

  #reply(inc: Incident, text: string): void {
    const log = this.#o.log.child({ incident: inc.key });
    this.#o.outbox
      .send(
        inc.channel,
        () => (inc.ts === undefined ? undefined : { method: 'chat.postMessage', args: { channel: inc.channel, thread_ts: inc.ts, text: text.slice(0, 3000) } }),
        this.#queueing(inc, 'follows'),
      )
      .catch((err: unknown) => log.error({ err }, 'thread reply could not be posted'));
  }

  #remember(inc: Incident): void {
    this.#incidents.delete(inc.key);
    this.#incidents.set(inc.key, inc);
    const max = this.#o.maxIncidents ?? 500;
    if (this.#incidents.size <= max) return;
    for (const [k, v] of this.#incidents) {
      if (this.#incidents.size <= max) break;
      if (v.view.resolvedAt !== undefined) this.#incidents.delete(k);
    }
    this.#persist();
  }

  /** Save the whole map (small: posted incidents only), one write at a time, coalescing bursts. */
  #persist(): void {
    const store = this.#o.store;
    if (!store) return;
    this.#dirty = true;
    if (this.#saving) return;
    this.#saving = (async () => {
      while (this.#dirty) {
        this.#dirty = false;
        const posted: SavedIncident[] = [];
        for (const i of this.#incidents.values()) {
          if (i.ts !== undefined) posted.push({ key: i.key, channel: i.channel, ts: i.ts, alert: i.alert, view: i.view });
        }
        try {
          await store.save(posted.slice(-MAX_SAVED));
        } catch (err) {
          this.#o.log.warn({ err }, 'incident messages could not be saved; clicks after a restart answer below the alert');
        }
      }
    })().finally(() => {
      this.#saving = undefined;
    });
  }
}
