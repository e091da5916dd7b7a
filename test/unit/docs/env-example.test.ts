// .env.example lists every variable the bot and the compose file read, commented, with the
// documented default, and holds no value that would be applied by copying it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { describeConfig } from '../../../src/config.js';
import { COMPOSE_ONLY } from '../../../scripts/env-table.js';

const text = readFileSync(new URL('../../../.env.example', import.meta.url), 'utf8');
const entries = new Map<string, { value: string; comment: string }>();
const lines = text.split('\n');
lines.forEach((line, i) => {
  const m = /^# ([A-Z][A-Z0-9_]+)=(.*)$/.exec(line);
  if (m) entries.set(m[1]!, { value: m[2]!, comment: lines[i - 1] ?? '' });
});

describe('.env.example', () => {
  it('lists every variable of the schema and of the compose table, each once', () => {
    const names = [...describeConfig().map((d) => d.name), ...COMPOSE_ONLY.map((r) => r.name)];
    for (const n of names) assert.ok(entries.has(n), `${n} is missing from .env.example`);
    for (const n of entries.keys()) assert.ok(names.includes(n as never), `${n} in .env.example is not a known variable`);
    for (const n of new Set(names)) assert.equal(text.split('\n').filter((l) => l.startsWith(`# ${n}=`)).length, 1, `${n} listed twice`);
  });

  it('shows the default the code uses', () => {
    for (const d of describeConfig()) {
      if (d.default === undefined) continue;
      assert.equal(entries.get(d.name)?.value, d.default, d.name);
    }
    for (const r of COMPOSE_ONLY) assert.equal(entries.get(r.name)?.value, r.default ?? '', r.name);
  });

  it('comments every variable, and copying it sets nothing', () => {
    for (const [name, e] of entries) assert.match(e.comment, /^# \S/, `${name} has no comment line above it`);
    const active = text.split('\n').filter((l) => /^\s*[A-Z][A-Z0-9_]*=/.test(l));
    assert.deepEqual(active, []);
  });

  it('groups variables under headings', () => {
    assert.ok((text.match(/^# ---- .+ ----$/gm) ?? []).length >= 5);
  });
});
