import type { AlertKind } from '../shared/alert.js';

// Every Block Kit action_id the bot emits or listens to. Handlers match on these and nothing else,
// so a renamed button cannot silently stop working.

export const ACTION_IDS = {
  rollback: 'bg_rollback',
  switchTo: 'bg_switch_to',
  stopChaos: 'bg_stop_chaos',
  maintenance1h: 'bg_maintenance_1h',
  maintenanceEnd: 'bg_maintenance_end',
  maintenanceExtend: 'bg_maintenance_extend',
  acknowledge: 'bg_acknowledge',
} as const;

export type ActionKey = keyof typeof ACTION_IDS;
export type ActionId = (typeof ACTION_IDS)[ActionKey];

/**
 * Slack wants action_ids unique within a block, and an all-pools-down alert has a "Stop chaos"
 * button per pool: buttons that act on a pool carry it as a suffix (`bg_stop_chaos.blue`).
 */
export function actionIdFor(key: ActionKey, pool?: 'blue' | 'green'): string {
  return pool === undefined ? ACTION_IDS[key] : `${ACTION_IDS[key]}.${pool}`;
}

/** The pattern Bolt's action listener matches: every id above (with an optional pool) and nothing else. */
export const ACTION_ID_PATTERN = /^bg_(rollback|switch_to|stop_chaos|maintenance_1h|maintenance_end|maintenance_extend|acknowledge)(\.(blue|green))?$/;

export function actionKeyOf(actionId: string): ActionKey | undefined {
  return parseActionId(actionId)?.key;
}

/** The buttons that act on one pool: their action_id carries it, and only it decides the pool. */
export const POOL_ACTIONS: ReadonlySet<ActionKey> = new Set<ActionKey>(['switchTo', 'stopChaos', 'rollback']);
/** Pool buttons an older version posted without their pool ("Roll back"), still understood. */
const POOL_OPTIONAL: ReadonlySet<ActionKey> = new Set<ActionKey>(['rollback']);

/**
 * An action_id as actionIdFor() builds it: the key and, for POOL_ACTIONS, the pool. Undefined for
 * anything else, including a pool button without its pool or a pool on a button that takes none.
 */
export function parseActionId(actionId: string): { key: ActionKey; pool: 'blue' | 'green' | undefined } | undefined {
  const m = /^(.*?)(?:\.(blue|green))?$/.exec(actionId);
  const key = (Object.keys(ACTION_IDS) as ActionKey[]).find((k) => ACTION_IDS[k] === m?.[1]);
  if (key === undefined) return undefined;
  const pool = m?.[2] as 'blue' | 'green' | undefined;
  if (POOL_ACTIONS.has(key) !== (pool !== undefined) && !(pool === undefined && POOL_OPTIONAL.has(key))) return undefined;
  return { key, pool };
}

/** The slash command, as registered in slack-manifest.yaml. */
export const SLASH_COMMAND = '/bluegreen';

/** runbook.md section anchors, one per alert kind. The runbook test checks each heading exists. */
export const RUNBOOK_ANCHORS: Readonly<Record<AlertKind, string>> = {
  failover: 'failover',
  recovery: 'recovery',
  error_rate: 'error-rate',
  latency: 'latency',
  all_down: 'all-pools-down',
  post_switch_guard: 'post-switch-guard',
  auto_failover: 'auto-failover',
  maintenance_expired: 'maintenance-expired',
  switch: 'switch-messages',
  maintenance: 'planned-maintenance',
  node_down: 'node-down',
  pool_under_strength: 'pool-under-strength',
  swarm_rollback: 'swarm-rollback',
  pool_on_one_node: 'pool-on-one-node',
};

/** `${RUNBOOK_URL}#anchor`, or just `runbook.md#anchor` when no base URL is configured. */
export function runbookLink(base: string | undefined, kind: AlertKind): string {
  const anchor = RUNBOOK_ANCHORS[kind];
  return `${(base ?? 'runbook.md').replace(/#.*$/, '')}#${anchor}`;
}
