import type { Pool } from '../../pool.js';
import { clip, escapeMrkdwn, md, plain, slackDate, type Block, type Message } from './kit.js';

/** What the status message shows; app.ts maps deploy's status result onto it. */
export interface StatusView {
  env: string;
  active: Pool;
  pools: PoolStatusView[];
  maintenance: { on: boolean; until: string | undefined; by: string | undefined; reason?: string | undefined; page?: boolean };
  lastSwitch: { at: string; from: Pool; to: Pool; by: string } | undefined;
  lastFailover: { at: string; from: Pool; to: Pool } | undefined;
  lock: { holder: string; operation: string; since: string } | undefined;
}

export interface PoolStatusView {
  pool: Pool;
  /** What runs the pool, in its engine's words: "running", "exited" (a container), "2/3 running" (tasks). */
  state: string;
  /** healthy, unhealthy, starting, none. */
  health: string;
  release: string | undefined;
  image: string | undefined;
  errorRatePct: number | undefined;
  p95Ms: number | undefined;
  /** Requests a retry on the other pool saved, last 5 minutes (undefined: no watcher in this process). */
  retried5m: number | undefined;
  chaos: string | undefined;
  /** Serving units of those wanted (a container: 1 of 1 while it runs). */
  running: number;
  desired: number;
  /** Units per node ("vm (k3f2a1): 2, vm (9bd0c1): 1"), when the pool runs on nodes. */
  perNode: string | undefined;
  /** A placement one failure takes down whole. */
  placementWarning: string | undefined;
  /** The engine's last rolling update, and whether it stopped short. */
  update: string | undefined;
  updateTrouble: boolean;
  /** One line per unit that is not running. */
  notRunning: string[];
}

const HEALTH_ICON: Record<string, string> = { healthy: ':large_green_circle:', starting: ':large_yellow_circle:', unhealthy: ':red_circle:' };

/** Nothing serving is black, fewer than wanted is yellow, else the health's colour. */
function poolIcon(p: PoolStatusView): string {
  if (p.running === 0) return ':black_circle:';
  if (p.running < p.desired) return ':large_yellow_circle:';
  return HEALTH_ICON[p.health] ?? ':white_circle:';
}

/** Under the pool: a placement warning, its last rolling update, and the units not running (a block each, so none crowds out another). */
function detailBlocks(p: PoolStatusView): Block[] {
  const out: Block[] = [];
  if (p.placementWarning) out.push({ type: 'section', text: md(clip(`:warning: ${escapeMrkdwn(p.placementWarning)}`, 500)) });
  // Tight clips: two pools of this and the rest stay within Slack's 12,000 characters a message.
  if (p.update) out.push({ type: 'section', text: md(clip(`${p.updateTrouble ? ':warning: ' : ''}*Update:* ${escapeMrkdwn(clip(p.update, 500))}`, 1000)) });
  if (p.notRunning.length > 0) {
    out.push({ type: 'section', text: md(clip(['*Not running:*', ...p.notRunning.map((t) => `• ${escapeMrkdwn(clip(t, 250))}`)].join('\n'), 1500)) });
  }
  return out;
}

export function buildStatusMessage(s: StatusView): Message {
  const blocks: Block[] = [
    { type: 'header', text: plain(clip(`bluegreen status — ${s.env}`, 150)) },
    { type: 'section', text: md(`*Active pool:* \`${s.active}\`${s.maintenance.on ? '   :construction: *maintenance on*' : ''}`) },
    { type: 'divider' },
  ];
  for (const p of s.pools) {
    const icon = poolIcon(p);
    const role = p.pool === s.active ? 'active' : 'backup';
    blocks.push({
      type: 'section',
      text: md(`${icon} *${p.pool}* (${role})${p.chaos ? `  :fire: chaos: ${escapeMrkdwn(clip(p.chaos, 100))}` : ''}`),
      fields: [
        md(`*${p.perNode !== undefined ? 'Replicas' : 'State'}*\n${escapeMrkdwn(clip(p.state, 100))}`),
        md(`*Health*\n${escapeMrkdwn(clip(p.health, 100))}`),
        md(`*Release*\n${escapeMrkdwn(clip(p.release ?? 'unknown', 300))}`),
        md(`*Image*\n\`${escapeMrkdwn(clip(p.image ?? 'unknown', 300))}\``),
        md(`*Error rate*\n${p.errorRatePct === undefined ? 'n/a' : `${Math.round(p.errorRatePct * 100) / 100}%`}`),
        md(`*p95*\n${p.p95Ms === undefined ? 'n/a' : `${Math.round(p.p95Ms)} ms`}`),
        md(`*Retried (5 min)*\n${p.retried5m === undefined ? 'n/a' : `${p.retried5m} request${p.retried5m === 1 ? '' : 's'} failed here, answered by ${p.pool === 'blue' ? 'green' : 'blue'}`}`),
        ...(p.perNode !== undefined ? [md(`*Tasks per node*\n${escapeMrkdwn(clip(p.perNode, 1000))}`)] : []),
      ],
    });
    blocks.push(...detailBlocks(p));
  }
  blocks.push({ type: 'divider' });
  const m = s.maintenance;
  const facts = [
    md(
      `*Maintenance*\n${m.on ? `on${m.until ? ` until ${slackDate(m.until)}` : ''}${m.by ? ` (by ${escapeMrkdwn(clip(m.by, 100))})` : ''}${m.reason ? `: ${escapeMrkdwn(clip(m.reason, 300))}` : ''}${m.page ? '\n:no_entry: maintenance page up' : ''}` : 'off'}`,
    ),
    md(`*Last switch*\n${s.lastSwitch ? `${s.lastSwitch.from} → ${s.lastSwitch.to} by ${escapeMrkdwn(clip(s.lastSwitch.by, 100))}, ${slackDate(s.lastSwitch.at)}` : 'none recorded'}`),
    md(`*Last failover*\n${s.lastFailover ? `${s.lastFailover.from} → ${s.lastFailover.to}, ${slackDate(s.lastFailover.at)}` : 'none seen'}`),
    md(`*Lock*\n${s.lock ? `held by ${escapeMrkdwn(clip(s.lock.holder, 100))} for ${escapeMrkdwn(clip(s.lock.operation, 100))} since ${slackDate(s.lock.since)}` : 'free'}`),
  ];
  blocks.push({ type: 'section', fields: facts });
  const text = `bluegreen ${s.env}: active ${s.active}; ${s.pools.map((p) => `${p.pool} ${p.state}/${p.health}`).join(', ')}${m.on ? '; maintenance on' : ''}`;
  return { text: clip(text, 3000), blocks };
}
