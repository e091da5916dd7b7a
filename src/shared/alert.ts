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
  /** Not an alert: a switch's own message in the channel (the audit log), with its Roll back button. */
  | 'switch'
  /** Not an alert: a maintenance window's announcement, with End now and Extend 30m. */
  | 'maintenance';

export type Severity = 'info' | 'warning' | 'critical';

export interface AlertEvent {
  /** Unique per event. */
  id: string;
  /**
   * Incident key, `${kind}:${pool ?? 'all'}`: a firing and its resolution share it. A failover's
   * resolution has kind 'recovery' and keeps the failover's key (`failover:blue`).
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

/** Anything that delivers alerts: the log, an incoming webhook, the Slack bot. */
export interface Notifier {
  readonly name: string;
  notify(alert: AlertEvent): Promise<void>;
}
