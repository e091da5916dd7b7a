import { randomUUID } from 'node:crypto';
import type { Pool } from '../pool.js';
import type { AlertEvent, AlertKind, Severity } from '../shared/alert.js';

// Alerts this layer raises itself (auto-demote, post-switch guard, maintenance expiry), shaped as the
// watcher's AlertEvent so every notifier renders them the same way.

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
}

export function operationalAlert(a: OperationalAlertInput): AlertEvent {
  return {
    id: randomUUID(),
    key: `${a.kind}:${a.pool ?? 'all'}${a.occurrence === undefined ? '' : `:${a.occurrence}`}`,
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
