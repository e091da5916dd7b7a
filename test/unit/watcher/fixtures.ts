import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../../fixtures/access-log/', import.meta.url));

/** Lines of test/fixtures/access-log/<name>.log (or another extension; no trailing empty line). */
export function fixtureLines(name: string, ext = 'log'): string[] {
  const text = readFileSync(`${dir}${name}.${ext}`, 'utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** Real lines of this project's nginx, captured from a live stack (see the fixture's README.md). */
export function capturedLines(): string[] {
  return fixtureLines('captured-from-stack', 'jsonl');
}

/** A line like nginx writes, with overrides: for building scenarios. */
export function accessLine(o: {
  time?: number;
  status?: number;
  requestTime?: number;
  upstreamAddr?: string;
  upstreamStatus?: string;
  pool?: string;
  release?: string;
  uri?: string;
  /** The `page` field nginx writes since the maintenance page (omitted: a line from before it). */
  page?: string;
} = {}): string {
  const t = new Date(Math.floor((o.time ?? Date.parse('2026-11-22T20:53:00Z')) / 1000) * 1000).toISOString().replace('.000Z', '+00:00');
  const status = o.status ?? 200;
  const pool = o.pool ?? 'blue';
  const us = o.upstreamStatus ?? String(status);
  const urt = us === '-' ? '-' : us.split(/, | : /).map(() => '0.002').join(', ');
  return JSON.stringify({
    time: t,
    remote_addr: '172.18.0.1',
    request_id: '6f1c2a0b9e8d4c3b2a1f0e9d8c7b6a59',
    method: 'GET',
    uri: o.uri ?? '/',
    status,
    body_bytes_sent: 61,
    request_time: o.requestTime ?? 0.002,
    upstream_addr: o.upstreamAddr ?? (pool === 'green' ? '172.18.0.4:3000' : '172.18.0.3:3000'),
    upstream_status: us,
    upstream_response_time: urt,
    pool,
    release: o.release ?? (pool === '-' ? '-' : `${pool}-2026.11.22-1`),
    ...(o.page === undefined ? {} : { page: o.page }),
  });
}
