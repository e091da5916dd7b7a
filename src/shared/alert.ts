import { randomUUID } from 'node:crypto';
import type { Pool } from '../pool.js';

// The contract between the watcher (which raises alerts), the deploy layer (which raises
// operational alerts such as auto-demote and the post-switch guard) and the notifiers.

export type AlertKind =
  | 'failover'
  | 'recovery'
  | 'error_rate'
  | 'latency'
  | 'all_down'
  | 'post_switch_guard'
  | 'auto_failover'
  | 'maintenance_expired'
  /** Swarm mode: a node is not ready (down, unknown, disconnected). Key `node_down:all:<node id>`. */
  | 'node_down'
  /** Swarm mode: a pool serves with fewer tasks than desired, past the grace or after a node was lost. */
  | 'pool_under_strength'
  /** Swarm mode: Swarm rolled back or paused a pool's update. Key `swarm_rollback:<pool>:<update start ms>`. */
  | 'swarm_rollback'
  /** Swarm mode: all of a pool's serving tasks run on one node while another could take some. */
  | 'pool_on_one_node'
  /** Not an alert: a switch's own message in the channel (the audit log), with its Roll back button. */
  | 'switch'
  /** Not an alert: a maintenance window's announcement, with End now and Extend 30m. */
  | 'maintenance';

export type Severity = 'info' | 'warning' | 'critical';

export interface AlertEvent {
  /** Unique per event. */
  id: string;
  /**
   * Incident key, `${kind}:${pool ?? 'all'}`, with `:<epoch ms>` for alerts about something the bot
   * did (each its own incident) or `:<node id>` for one about a Swarm node: a firing and its
   * resolution share it. A failover's resolution has
   * kind 'recovery' and keeps the failover's key (`failover:blue`). incidentKeyParts() reads it.
   */
  key: string;
  kind: AlertKind;
  status: 'firing' | 'resolved';
  severity: Severity;
  pool: Pool | undefined;
  release: string | undefined;
  /** Environment / host name. */
  env: string;
  title: string;
  summary: string;
  observed: number | undefined;
  threshold: number | undefined;
  unit: '%' | 'ms' | undefined;
  windowSize: number;
  samples: number;
  /** A few raw access-log lines behind the alert. */
  sampleLines: string[];
  /** What already explains this condition (failover, chaos, maintenance), said in the alert. */
  explainedBy: string[];
  /** ISO time of this event; firstAt is when the incident started. */
  at: string;
  firstAt: string;
}

/** The kind and pool an incident key names (see AlertEvent.key). */
export function incidentKeyParts(key: string): { kind: string; pool: Pool | undefined } {
  const [kind = '', pool] = key.split(':');
  return { kind, pool: pool === 'blue' || pool === 'green' ? pool : undefined };
}

/** Anything that delivers alerts: the log, an incoming webhook, the Slack bot. */
export interface Notifier {
  readonly name: string;
  notify(alert: AlertEvent): Promise<void>;
}

/**
 * An alert raised whole, outside the watcher's detectors (auto-demote, the post-switch guard,
 * maintenance, a switch's own message), shaped like the watcher's so every notifier renders it alike.
 */
export interface OperationalAlertInput {
  kind: AlertKind;
  status: 'firing' | 'resolved';
  severity: Severity;
  pool: Pool | undefined;
  release?: string | undefined;
  env: string;
  title: string;
  summary: string;
  observed?: number | undefined;
  threshold?: number | undefined;
  unit?: '%' | 'ms' | undefined;
  explainedBy?: string[];
  at: string;
  firstAt?: string;
  /**
   * For alerts that report something the bot did (an auto-demote, a guard trip): the epoch ms it
   * happened, so each one is an incident of its own (`auto_failover:blue:1764…`), never held back
   * by the cooldown of an earlier one, and its resolution finds it.
   */
  occurrence?: number;
  /** The incident key when it is not `${kind}:${pool}` (a switch's message: `switch:<time>`). */
  key?: string;
}

export function operationalAlert(a: OperationalAlertInput): AlertEvent {
  return {
    id: randomUUID(),
    key: a.key ?? `${a.kind}:${a.pool ?? 'all'}${a.occurrence === undefined ? '' : `:${a.occurrence}`}`,
    kind: a.kind,
    status: a.status,
    severity: a.severity,
    pool: a.pool,
    release: a.release,
    env: a.env,
    title: a.title,
    summary: a.summary,
    observed: a.observed,
    threshold: a.threshold,
    unit: a.unit,
    windowSize: 0,
    samples: 0,
    sampleLines: [],
    explainedBy: a.explainedBy ?? [],
    at: a.at,
    firstAt: a.firstAt ?? a.at,
  };
}
