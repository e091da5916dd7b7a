import type { Pool } from '../../pool.js';
import { ACTION_IDS, runbookLink } from '../ids.js';
import { clip, escapeMrkdwn, humanDuration, md, plain, slackDate, type Block, type Button, type Message } from './kit.js';

/** Alerts of one kind and pool that maintenance held back. */
export interface HeldBack {
  kind: string;
  pool: Pool | undefined;
  count: number;
  first: string;
  last: string;
}

/** A maintenance window as its announcement in the channel shows it, from start to end. */
export interface MaintenanceView {
  /** Who started it, as the channel shows people (a mention, `cli:root`). */
  by: string;
  reason: string | undefined;
  since: string;
  until: string | undefined;
  page: boolean;
  extendedBy: string | undefined;
  ended: { at: string; by: string; expired: boolean } | undefined;
  heldBack: HeldBack[];
}

const MAX_HELD_ROWS = 10;

/** "failover blue ×5 (12:01–12:07)": what maintenance held back, by kind and pool. */
export function heldBackSummary(held: HeldBack[]): string {
  if (held.length === 0) return 'No alert was held back.';
  const total = held.reduce((n, h) => n + h.count, 0);
  const rows = held
    .slice(0, MAX_HELD_ROWS)
    .map((h) => `• ${escapeMrkdwn(h.kind.replace(/_/g, ' '))}${h.pool ? ` ${h.pool}` : ''} ×${h.count} (${slackDate(h.first)}${h.count > 1 ? ` – ${slackDate(h.last)}` : ''})`);
  const more = held.length > MAX_HELD_ROWS ? [`• …and ${held.length - MAX_HELD_ROWS} more kinds`] : [];
  return [`Held back ${total} alert${total === 1 ? '' : 's'}:`, ...rows, ...more].join('\n');
}

/**
 * The announcement of a maintenance window: who, why, until when, what it holds back, whether
 * users see the maintenance page; End now and Extend 30m while it lasts; how it ended and what was
 * held back once it is over. One message, updated in place.
 */
export function buildMaintenanceMessage(key: string, v: MaintenanceView, runbookUrl: string | undefined): Message {
  const blocks: Block[] = [];
  const why = v.reason ? ` — _${escapeMrkdwn(clip(v.reason, 300))}_` : '';
  if (v.ended) {
    const how = v.ended.expired ? `ended by itself at ${slackDate(v.ended.at)}` : `ended by ${v.ended.by} at ${slackDate(v.ended.at)}`;
    blocks.push({
      type: 'section',
      text: md(clip(`:white_check_mark: *Maintenance over*${why}\nStarted by ${v.by} ${slackDate(v.since)}, ${how} after ${humanDuration(Date.parse(v.ended.at) - Date.parse(v.since))}. Alerts are live again${v.page ? '; the maintenance page is down' : ''}.`, 3000)),
    });
  } else {
    const until = v.until ? ` until ${slackDate(v.until)}` : '';
    const page = v.page
      ? ':no_entry: *Maintenance page is up*: every public request gets a 503 page with `Retry-After`; `/nginx-health` still answers.'
      : 'Users see the site as usual (no maintenance page).';
    blocks.push({
      type: 'section',
      text: md(clip(`:construction: *Maintenance on*${until}, started by ${v.by}${why}\nNon-critical alerts are held back; critical ones (all pools down) still page. ${page}${v.extendedBy ? `\nExtended by ${v.extendedBy}.` : ''}`, 3000)),
    });
  }
  blocks.push({ type: 'section', text: md(clip(heldBackSummary(v.heldBack), 3000)) });
  const runbook = runbookLink(runbookUrl, 'maintenance');
  blocks.push({ type: 'context', elements: [md(clip(/^https?:\/\//.test(runbook) ? `<${runbook}|Runbook: planned maintenance>` : `Runbook: \`${runbook}\``, 3000))] });
  if (!v.ended) blocks.push({ type: 'actions', block_id: 'maintenance_actions', elements: maintenanceButtons(key, v.page) });
  const text = v.ended ? `Maintenance over (started by ${v.by})` : `Maintenance on${v.until ? ` until ${v.until}` : ''}${v.reason ? `: ${v.reason}` : ''}`;
  return { text: clip(text, 3000), blocks };
}

function maintenanceButtons(key: string, page: boolean): Button[] {
  const value = JSON.stringify({ k: key });
  return [
    {
      type: 'button',
      action_id: ACTION_IDS.maintenanceEnd,
      text: plain('End now'),
      style: 'primary',
      value,
      confirm: {
        title: plain('End maintenance now?'),
        text: md(page ? 'The maintenance page comes down: users reach the site again, and alerts are live.' : 'Alerts are live again.'),
        confirm: plain('End now'),
        deny: plain('Cancel'),
      },
    },
    { type: 'button', action_id: ACTION_IDS.maintenanceExtend, text: plain('Extend 30m'), value },
  ];
}
