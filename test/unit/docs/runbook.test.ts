// Every runbook link an alert can carry resolves to a heading of runbook.md, each section has the
// parts an operator needs at 3 AM, and every command it shows is a real command.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { RUNBOOK_ANCHORS, runbookLink } from '../../../src/bot/ids.js';
import type { AlertKind } from '../../../src/shared/alert.js';
import { bluegreenInvocations, parseInvocation } from './doc-commands.js';

const root = new URL('../../../', import.meta.url);
const runbook = readFileSync(new URL('runbook.md', root), 'utf8');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
export function githubSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function sections(md: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = md.split(/^## /m).slice(1);
  for (const p of parts) {
    const nl = p.indexOf('\n');
    out.set(githubSlug(p.slice(0, nl)), p.slice(nl + 1));
  }
  return out;
}

const KINDS = Object.keys(RUNBOOK_ANCHORS) as AlertKind[];

describe('runbook.md', () => {
  const bySlug = sections(runbook);

  it('slugs headings as GitHub does', () => {
    assert.equal(githubSlug('All pools down'), 'all-pools-down');
    assert.equal(githubSlug('Before you start: the five commands'), 'before-you-start-the-five-commands');
  });

  it('has a section for every alert kind the bot can link to', () => {
    assert.equal(KINDS.length, 14);
    for (const kind of KINDS) {
      const link = runbookLink(undefined, kind);
      const [file, anchor] = link.split('#');
      assert.equal(file, 'runbook.md', link);
      assert.ok(bySlug.has(anchor!), `${link}: no "## " heading in runbook.md has the anchor #${anchor}`);
    }
  });

  it('links from a configured RUNBOOK_URL end in the same anchors', () => {
    for (const kind of KINDS) {
      const link = runbookLink('https://git.example/ops/bluegreen/blob/main/runbook.md#old', kind);
      assert.ok(bySlug.has(link.split('#')[1]!), link);
      assert.equal(link.split('#').length, 2, link);
    }
  });

  it('every alert section says what it means, what to do first, how to investigate, recover and escalate', () => {
    // The maintenance announcement links to "Planned maintenance": how-to, not an alert's section.
    for (const kind of KINDS.filter((k) => k !== 'maintenance')) {
      const body = bySlug.get(RUNBOOK_ANCHORS[kind])!;
      for (const part of ['**What it means.**', '**First.**', '**Investigate.**', '**Recover.**', '**Escalate**']) {
        assert.ok(body.includes(part), `runbook #${RUNBOOK_ANCHORS[kind]} lacks ${part}`);
      }
      assert.match(body, /bluegreen (status|rollback|switch|maintenance|chaos|deploy)/, `#${RUNBOOK_ANCHORS[kind]} shows no bluegreen command`);
    }
  });

  it('every `bluegreen …` command it shows parses with the real grammar', () => {
    const lines = bluegreenInvocations(runbook);
    assert.ok(lines.length >= 10);
    for (const l of lines) assert.equal(parseInvocation(l), undefined, `runbook: bluegreen ${l}`);
  });

  it('names only compose services that exist', () => {
    const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8')) as { services: Record<string, unknown> };
    const services = new Set(Object.keys(compose.services));
    assert.ok(services.has('docker-filter') && services.has('bot'));
    let checked = 0;
    for (const m of runbook.matchAll(/docker compose (logs|ps|restart|up -d|exec(?: -T)?)((?: (?:--\S+(?: \d+\S*)?|[a-z_][a-z_-]*))*)/g)) {
      const words = m[2]!.replace(/--\S+(?: \d+\S*)?/g, '').trim().split(/\s+/).filter(Boolean);
      const named = m[1]!.startsWith('exec') ? words.slice(0, 1) : words;
      for (const w of named) {
        checked++;
        assert.ok(services.has(w), `runbook names an unknown service "${w}": ${m[0]}`);
      }
    }
    assert.ok(checked >= 10);
  });
});
