import type { MaintenanceReport, StatusReport } from '../deploy/operations.js';
import type { OpResult } from '../shared/op-result.js';
import type { PoolDescription } from '../deploy/deploy-engine.js';

// Plain-text rendering of results for the CLI (Slack renders Block Kit in src/bot). Pure.

function ago(iso: string | undefined, now: number): string {
  if (!iso) return '';
  return clock(now - Date.parse(iso));
}

/** 2h5m, 4m10s, 7s; never negative. */
function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${m}m` : m > 0 ? `${m}m${s % 60}s` : `${s}s`;
}

/** Under the pool's line: where its units run, a placement warning, the last update, units not running. */
function detailLines(d: PoolDescription): string[] {
  return [
    ...(d.perNode !== undefined ? [`    per node: ${d.perNode}`] : []),
    ...(d.placementWarning ? [`    warning: ${d.placementWarning}`] : []),
    ...(d.update ? [`    update ${d.update}`] : []),
    ...d.notRunning.map((t) => `    ${d.perNode !== undefined ? 'task ' : ''}${t}`),
  ];
}

/** "running/healthy · image · up 5m" (a container), "2/3 running · image" (a service's tasks). */
function runsText(d: PoolDescription, now: number): string {
  const state = d.engineHealth ? `${d.state}/${d.engineHealth}` : d.state;
  const up = d.startedAt && d.state === 'running' ? ` · up ${ago(d.startedAt, now)}` : '';
  return d.image === undefined ? ` · ${state}` : ` · ${state} · ${d.image}${up}`;
}

export function renderStatus(r: StatusReport, now = Date.now()): string {
  const lines = [`env ${r.env} · active pool: ${r.active}`];
  for (const p of r.pools) {
    const stats = p.stats
      ? ` · errors ${p.stats.errorRate === undefined ? 'n/a' : `${p.stats.errorRate.toFixed(2)}%`} · p95 ${p.stats.p95Ms === undefined ? 'n/a' : `${Math.round(p.stats.p95Ms)} ms`} · ${p.stats.retried5m} retried requests in the last 5 min`
      : '';
    lines.push(
      `${p.active ? '*' : ' '} ${p.pool.padEnd(5)} ${p.healthy ? 'healthy' : `UNHEALTHY (${p.healthDetail})`}` +
        ` · release ${p.release ?? '?'}` +
        (p.runs ? runsText(p.runs, now) : ` · container: ${r.docker.ok ? 'missing' : r.docker.error}`) +
        (p.chaos ? ` · CHAOS ${p.chaos}` : '') +
        stats,
    );
    if (p.runs) lines.push(...detailLines(p.runs));
  }
  const m = r.maintenance;
  lines.push(
    `maintenance: ${m.on ? `on until ${m.until} (by ${m.by?.name ?? m.by?.id ?? '?'})${m.page ? ' · MAINTENANCE PAGE UP' : ''}${m.reason ? ` · ${m.reason}` : ''}` : 'off'}`,
  );
  const sw = r.lastSwitch;
  lines.push(`last switch: ${sw ? `${sw.from} -> ${sw.to} (${sw.kind}) by ${sw.by.name ?? sw.by.id} at ${sw.at}, ${ago(sw.at, now)} ago` : 'none'}`);
  const fo = r.lastFailover;
  lines.push(`last failover: ${fo ? `${fo.from} -> ${fo.to} at ${fo.at}${fo.reason ? ` (${fo.reason})` : ''}` : 'none'}`);
  lines.push(`lock: ${r.lock ? `${r.lock.op} by ${r.lock.by.name ?? r.lock.by.id} since ${r.lock.since}` : 'free'}`);
  if (!r.docker.ok) lines.push(`docker: ${r.docker.error}`);
  return lines.join('\n');
}

/** `bluegreen maintenance`: the record, one fact a line. */
export function renderMaintenance(m: MaintenanceReport, now = Date.now()): string {
  const lines = [`maintenance: ${m.on ? 'on (non-critical alerts held back)' : 'off'}`];
  if (m.on) {
    lines.push(`  by      ${m.by?.name ?? m.by?.id ?? '?'}`);
    if (m.reason) lines.push(`  reason  ${m.reason}`);
    lines.push(`  since   ${m.since ?? '?'}${m.since ? ` (${ago(m.since, now)} ago)` : ''}`);
    lines.push(`  until   ${m.until ?? '?'}${m.until ? ` (in ${clock(Date.parse(m.until) - now)})` : ''}`);
    lines.push(`  page    ${m.page ? 'up: nginx answers public requests with 503 and the maintenance page' : 'down: the pools serve'}`);
  }
  if (m.pageFlag !== m.page) lines.push(`  note    nginx's maintenance-page flag is ${m.pageFlag ? 'there' : 'missing'}, so the page is ${m.pageFlag ? 'up' : 'down'}`);
  return lines.join('\n');
}

function isMaintenanceReport(d: unknown): d is MaintenanceReport {
  return typeof d === 'object' && d !== null && 'pageFlag' in d;
}

export function renderText(result: OpResult<unknown>, commandName?: string, now = Date.now()): string {
  switch (result.status) {
    case 'ok':
      if (commandName === 'status' && result.data) return renderStatus(result.data as StatusReport, now);
      if (commandName === 'maintenance' && isMaintenanceReport(result.data)) return renderMaintenance(result.data, now);
      // The operation's own words first (they may say more than the numbers), then where the tasks run.
      return result.message;
    case 'refused':
      return `refused: ${result.reason}`;
    case 'failed':
      return `failed: ${result.message}${result.cause ? `\n  (${result.cause})` : ''}`;
  }
}
