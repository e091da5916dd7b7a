import { otherPool, type Pool } from '../../pool.js';
import type { AlertEvent, AlertKind, Severity } from '../../shared/alert.js';
import { ACTION_IDS, actionIdFor, runbookLink } from '../ids.js';
import { buildMaintenanceMessage, type MaintenanceView } from './maintenance.js';
import {
  clip,
  escapeMrkdwn,
  humanDuration,
  md,
  mention,
  plain,
  slackDate,
  type Block,
  type Button,
  type ConfirmDialog,
  type Message,
} from './kit.js';

/** What happened to an incident since it was posted: shown on its one message. */
export interface IncidentView {
  /** Times the same incident fired again after the first post. */
  repeats: number;
  /**
   * Where a "Roll back to <pool>" button on this message returns: set when the alert was raised
   * during the post-switch guard window about the pool just switched to.
   */
  rollbackTo?: Pool;
  /** A maintenance announcement's window (alert kind `maintenance`). */
  maintenance?: MaintenanceView;
  resolvedAt: string | undefined;
  acknowledgedBy: string | undefined;
  /** Most recent last; only the last few are shown, the thread keeps all. */
  actions: IncidentAction[];
}

export interface IncidentAction {
  userId: string;
  label: string;
  state: 'running' | 'ok' | 'refused' | 'failed';
  detail: string;
  at: string;
}

export const EMPTY_INCIDENT: IncidentView = { repeats: 0, resolvedAt: undefined, acknowledgedBy: undefined, actions: [] };

/** Button values carry the incident key and the pool the button acts on. */
export interface ButtonValue {
  k: string;
  p?: Pool;
}

const SEVERITY_ICON: Record<Severity, string> = { critical: ':rotating_light:', warning: ':warning:', info: ':information_source:' };
const MAX_SAMPLE_LINES = 5;
const MAX_SAMPLE_LINE = 400;
const MAX_SHOWN_ACTIONS = 5;

/**
 * What the bot knows about the pools now, so that no button is offered that would be refused for a
 * reason the bot already knows. Without facts, every button that fits the kind is offered.
 */
export interface AlertFacts {
  chaos(pool: Pool): boolean;
  /** The last health check: undefined when none has run yet. */
  health(pool: Pool): { healthy: boolean; detail: string } | undefined;
  /** The pool nginx sends traffic to; not given: unknown. */
  active?(): Pool;
}

export interface AlertMessageOptions {
  runbookUrl: string | undefined;
  facts?: AlertFacts | undefined;
}

/** The one message of an incident: facts, samples, runbook link, what people did, fitting buttons. */
export function buildAlertMessage(alert: AlertEvent, incident: IncidentView, opts: AlertMessageOptions): Message {
  if (alert.kind === 'switch') return buildSwitchMessage(alert, incident);
  if (alert.kind === 'maintenance' && incident.maintenance) return buildMaintenanceMessage(alert.key, incident.maintenance, opts.runbookUrl);
  const resolved = alert.status === 'resolved' || incident.resolvedAt !== undefined;
  const icon = resolved ? ':white_check_mark:' : SEVERITY_ICON[alert.severity];
  const prefix = resolved ? 'RESOLVED' : alert.severity.toUpperCase();
  const blocks: Block[] = [];

  blocks.push({ type: 'header', text: plain(clip(`${resolved ? '✅' : headerEmoji(alert.severity)} ${alert.title}`, 150)) });

  let summary = `${icon} ${escapeMrkdwn(alert.summary)}`;
  if (alert.explainedBy.length > 0) summary += `\n_Explained by:_ ${escapeMrkdwn(alert.explainedBy.join('; '))}`;
  blocks.push({ type: 'section', text: md(clip(summary, 3000)) });

  // Only the facts this alert has: no "Release unknown", no "n/a over the last 0 of 0 requests".
  const fields = [
    md(`*Env*\n${escapeMrkdwn(clip(alert.env, 200))}`),
    md(`*Pool*\n${alert.pool ?? 'all pools'}`),
    ...(alert.release === undefined ? [] : [md(`*Release*\n${escapeMrkdwn(clip(alert.release, 200))}`)]),
    ...(alert.observed === undefined && alert.samples === 0 ? [] : [md(`*Observed*\n${observedText(alert)}`)]),
    md(`*Severity*\n${alert.severity}`),
    md(`*Started*\n${slackDate(alert.firstAt)}`),
  ];
  blocks.push({ type: 'section', fields });

  if (alert.sampleLines.length > 0) {
    const shown = alert.sampleLines.slice(-MAX_SAMPLE_LINES).map((l) => clip(l.replace(/```/g, "'''"), MAX_SAMPLE_LINE));
    const more = alert.sampleLines.length - shown.length;
    const head = `*Sample log lines*${more > 0 ? ` (last ${shown.length} of ${alert.sampleLines.length})` : ''}\n`;
    blocks.push({ type: 'section', text: md(clip(`${head}\`\`\`${shown.join('\n')}\`\`\``, 3000)) });
  }

  const runbook = runbookLink(opts.runbookUrl, alert.kind);
  const runbookText = /^https?:\/\//.test(runbook) ? `<${runbook}|Runbook: ${alert.kind.replace(/_/g, ' ')}>` : `Runbook: \`${runbook}\``;
  blocks.push({ type: 'context', elements: [md(runbookText), md(`incident \`${clip(alert.key, 100)}\``)] });

  const status = statusLines(alert, incident);
  if (status.length > 0) blocks.push({ type: 'context', elements: status.map((s) => md(clip(s, 3000))) });

  const { buttons, notes } = offers(alert, incident, opts.facts);
  if (notes.length > 0) blocks.push({ type: 'context', elements: notes.slice(0, 10).map((n) => md(clip(n, 3000))) });
  if (buttons.length > 0) blocks.push({ type: 'actions', block_id: 'incident_actions', elements: buttons });

  const text = clip(`${prefix}: ${alert.title} (${alert.env}) — ${alert.summary}`, 3000);
  return { text, blocks };
}

function headerEmoji(s: Severity): string {
  return s === 'critical' ? '🚨' : s === 'warning' ? '⚠️' : 'ℹ️';
}

export function observedText(alert: AlertEvent): string {
  const fmt = (v: number) => (alert.unit === '%' ? `${round(v, 2)}%` : alert.unit === 'ms' ? `${Math.round(v)} ms` : `${round(v, 2)}`);
  const window = `over the last ${alert.samples} of ${alert.windowSize} requests`;
  if (alert.observed === undefined) return `n/a (${window})`;
  const vs = alert.threshold === undefined ? '' : ` vs threshold ${fmt(alert.threshold)}`;
  return `${fmt(alert.observed)}${vs} ${window}`;
}

function round(v: number, digits: number): string {
  return String(Math.round(v * 10 ** digits) / 10 ** digits);
}

function statusLines(alert: AlertEvent, incident: IncidentView): string[] {
  const lines: string[] = [];
  const resolvedAt = incident.resolvedAt ?? (alert.status === 'resolved' ? alert.at : undefined);
  if (resolvedAt !== undefined) {
    lines.push(`:white_check_mark: Resolved after ${humanDuration(Date.parse(resolvedAt) - Date.parse(alert.firstAt))}`);
  }
  if (incident.repeats > 0) lines.push(`:repeat: Fired again ${incident.repeats} time${incident.repeats === 1 ? '' : 's'} (details in thread)`);
  if (incident.acknowledgedBy !== undefined) lines.push(`:eyes: Acknowledged by ${mention(incident.acknowledgedBy)}`);
  const shown = incident.actions.slice(-MAX_SHOWN_ACTIONS);
  for (const a of shown) lines.push(actionLine(a));
  // A context block holds at most 10 elements.
  return lines.slice(-10);
}

const STATE_ICON: Record<IncidentAction['state'], string> = {
  running: ':hourglass_flowing_sand:',
  ok: ':white_check_mark:',
  refused: ':no_entry:',
  failed: ':x:',
};

export function actionLine(a: IncidentAction): string {
  const detail = a.detail ? `: ${escapeMrkdwn(clip(a.detail, 500))}` : '';
  return `${STATE_ICON[a.state]} ${mention(a.userId)} pressed *${escapeMrkdwn(a.label)}* — ${a.state}${detail}`;
}

function confirm(title: string, text: string, yes: string): ConfirmDialog {
  return { title: plain(title), text: md(text), confirm: plain(yes), deny: plain('Cancel'), style: 'danger' };
}

const value = (v: ButtonValue): string => JSON.stringify(v);

export function switchButton(key: string, to: Pool): Button {
  return {
    type: 'button',
    action_id: actionIdFor('switchTo', to),
    text: plain(`Switch to ${to}`),
    style: 'danger',
    value: value({ k: key, p: to }),
    confirm: confirm(`Switch to ${to}?`, `All new traffic will go to the *${to}* pool.`, `Switch to ${to}`),
  };
}

/** "Roll back to blue": the pool is in the action id and the value, and the rollback refuses if the last switch no longer leads there. */
export function rollbackButton(key: string, to: Pool, switchedAt?: string): Button {
  const when = switchedAt ? ` This undoes the switch ${slackAgo(switchedAt)}.` : '';
  return {
    type: 'button',
    action_id: actionIdFor('rollback', to),
    text: plain(`Roll back to ${to}`),
    style: 'danger',
    value: value({ k: key, p: to }),
    confirm: confirm(`Roll back to ${to}?`, `All new traffic goes back to the *${to}* pool, the one active before the last switch.${when}`, `Roll back to ${to}`),
  };
}

export function stopChaosButton(key: string, pool: Pool): Button {
  // Stopping chaos only heals a pool; it needs no confirmation.
  return { type: 'button', action_id: actionIdFor('stopChaos', pool), text: plain(`Stop chaos on ${pool}`), value: value({ k: key, p: pool }) };
}

export function maintenanceButton(key: string): Button {
  return {
    type: 'button',
    action_id: ACTION_IDS.maintenance1h,
    text: plain('Maintenance 1h'),
    value: value({ k: key }),
    confirm: confirm('Maintenance for 1 hour?', 'Non-critical alerts are suppressed for one hour.', 'Start maintenance'),
  };
}

export function acknowledgeButton(key: string): Button {
  return { type: 'button', action_id: ACTION_IDS.acknowledge, text: plain('Acknowledge'), style: 'primary', value: value({ k: key }) };
}

/** Which buttons fit which alert. */
export function buttonsFor(alert: AlertEvent, incident: IncidentView = EMPTY_INCIDENT, facts?: AlertFacts): Button[] {
  return offers(alert, incident, facts).buttons;
}

/**
 * The buttons that fit the alert and the facts, and why any that would fit the kind is left out
 * ("Switch to green" only when green is healthy, "Stop chaos on blue" only when chaos runs there).
 */
export function offers(alert: AlertEvent, incident: IncidentView, facts: AlertFacts | undefined): { buttons: Button[]; notes: string[] } {
  const k = alert.key;
  const p = alert.pool;
  const notes: string[] = [];
  const resolved = alert.status === 'resolved' || incident.resolvedAt !== undefined;
  const switchTo = (to: Pool, what = `Switch to ${to}`): Button[] => {
    const h = facts?.health(to);
    if (h && !h.healthy) {
      notes.push(`${what} is not offered: ${to} is unhealthy (${h.detail})`);
      return [];
    }
    return [switchButton(k, to)];
  };
  const stopChaos = (pool: Pool): Button[] => (!facts || facts.chaos(pool) ? [stopChaosButton(k, pool)] : []);
  // Switching away only helps a pool that has the traffic; an idle pool short of tasks is no one's problem yet.
  const isActive = (pool: Pool): boolean => (facts?.active?.() ?? pool) === pool;
  if (resolved) {
    // Once the demoted pool is healthy again, switching back is the one thing left to offer.
    return { buttons: alert.kind === 'auto_failover' && p ? switchTo(p, `Switch back to ${p}`) : [], notes };
  }
  const byKind: Record<AlertKind, () => Button[]> = {
    // The pool in a failover is the one traffic left: offer to make the backup primary for good.
    failover: () => (p ? [...switchTo(otherPool(p)), ...stopChaos(p)] : []),
    recovery: () => [],
    error_rate: () => (p ? [...switchTo(otherPool(p)), ...stopChaos(p), maintenanceButton(k)] : [maintenanceButton(k)]),
    latency: () => (p ? [...switchTo(otherPool(p)), ...stopChaos(p), maintenanceButton(k)] : [maintenanceButton(k)]),
    all_down: () => [...stopChaos('blue'), ...stopChaos('green')],
    post_switch_guard: () => (p ? [rollbackButton(k, otherPool(p)), ...stopChaos(p)] : []),
    // The bot demoted `p`; once it is healthy again people may want it back.
    auto_failover: () => (p ? [...switchTo(p, `Switch back to ${p}`), ...stopChaos(p)] : []),
    maintenance_expired: () => [maintenanceButton(k)],
    switch: () => [],
    maintenance: () => [],
    // Swarm reschedules a lost node's tasks by itself; pressing anything here changes nothing.
    node_down: () => [],
    pool_under_strength: () => (p && isActive(p) ? switchTo(otherPool(p)) : []),
    // Swarm already rolled back (or stopped) the update; what is left is a redeploy, not a button.
    swarm_rollback: () => [],
    // The bot already tried to spread the tasks; what is left is the service's placement.
    pool_on_one_node: () => [],
  };
  const kindButtons = byKind[alert.kind]();
  const rollback = incident.rollbackTo && !kindButtons.some((b) => b.action_id.startsWith(ACTION_IDS.rollback)) ? [rollbackButton(k, incident.rollbackTo)] : [];
  const ack = incident.acknowledgedBy === undefined ? [acknowledgeButton(k)] : [];
  return { buttons: [...rollback, ...kindButtons, ...ack], notes };
}

/** `<!date^…^{ago}|…>`: Slack shows "5 minutes ago", kept current. */
function slackAgo(iso: string): string {
  const sec = Math.floor(Date.parse(iso) / 1000);
  return Number.isFinite(sec) ? `<!date^${sec}^{ago}|at ${iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}>` : '';
}

/**
 * A switch's own line in the channel, from the audit log whoever made it (Slack, CLI, the bot):
 * "Switched blue → green by @ana · release green-v2 · 14 ms", with Roll back to blue while
 * rolling back means anything (not on the bot's own failovers and rollbacks).
 */
function buildSwitchMessage(alert: AlertEvent, incident: IncidentView): Message {
  // The summary is mrkdwn the notifier built (a mention, an escaped release).
  const line = `:twisted_rightwards_arrows: *${escapeMrkdwn(clip(alert.title, 200))}* ${clip(alert.summary, 1500)} · ${slackAgo(alert.at)}`;
  const blocks: Block[] = [{ type: 'section', text: md(clip(line, 3000)) }];
  const done = incident.actions.slice(-MAX_SHOWN_ACTIONS).map((a) => md(clip(actionLine(a), 3000)));
  if (done.length > 0) blocks.push({ type: 'context', elements: done });
  if (incident.rollbackTo) blocks.push({ type: 'actions', block_id: 'switch_actions', elements: [rollbackButton(alert.key, incident.rollbackTo, alert.at)] });
  return { text: clip(`${alert.title} ${alert.summary}`, 3000), blocks };
}
