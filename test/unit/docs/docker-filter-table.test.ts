// README's allowlist table is the filter's (src/docker-filter/rules.ts): one row per rule, in order.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { RULES } from '../../../src/docker-filter/rules.js';

describe('README: the Docker API filter table', () => {
  it('lists every rule of the filter, with its modes, body check and the containers it may name, and nothing else', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Least privilege'), readme.indexOf('## Troubleshooting'));
    const rows = section.split('\n').filter((l) => /^\| `(GET|POST|DELETE|PUT)` \|/.test(l));
    assert.equal(rows.length, RULES.length);
    RULES.forEach((r, i) => {
      const cells = rows[i]!.split(' | ').map((c) => c.replace(/^\| /, '').trim());
      assert.deepEqual([cells[0], cells[1], cells[3], cells[4], cells[5]], [`\`${r.method}\``, `\`${r.path}\``, r.modes.length === 2 ? 'both' : r.modes[0], r.body === 'none' ? '—' : r.body, r.target ?? '—'], rows[i]);
    });
  });
});
