// README.md stays true to the code: its env tables are what the zod schema and docker-compose.yml
// say, its commands exist, and every dependency is explained.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { configSchema, describeConfig } from '../../../src/config.js';
import { between, botEnvTable, COMPOSE_ONLY, composeEnvTable, MARKERS } from '../../../scripts/env-table.js';
import { bluegreenInvocations, parseInvocation } from './doc-commands.js';

const root = new URL('../../../', import.meta.url);
const read = (p: string) => readFileSync(new URL(p, root), 'utf8');
const readme = read('README.md');
const compose = read('docker-compose.yml');

/** `| \`NAME\` | default | …` rows of a markdown table, as name -> default cell. */
function tableRows(table: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of table.split('\n')) {
    const m = /^\| `([A-Z0-9_]+)` \| ([^|]*) \|/.exec(line);
    if (m) rows.set(m[1]!, m[2]!.trim());
  }
  return rows;
}

describe('README environment tables', () => {
  it('the bot table is exactly what `npm run docs:env` generates from the schema', () => {
    const inReadme = between(readme, MARKERS.bot);
    assert.ok(inReadme, 'README.md lacks the env:bot markers');
    assert.equal(inReadme, botEnvTable(), 'README is stale: run `npm run docs:env -- --write`');
  });

  it('lists every schema variable once, in schema order, with its default', () => {
    const rows = tableRows(between(readme, MARKERS.bot) ?? '');
    assert.deepEqual([...rows.keys()], Object.keys(configSchema.shape));
    for (const d of describeConfig()) {
      assert.equal(rows.get(d.name), d.default === undefined ? '—' : `\`${d.default}\``, d.name);
    }
  });

  it('the compose table is exactly what `npm run docs:env` generates', () => {
    assert.equal(between(readme, MARKERS.compose), composeEnvTable(), 'README is stale: run `npm run docs:env -- --write`');
  });

  it('documents every ${VAR} docker-compose.yml interpolates, with the default it uses', () => {
    const documented = new Set([...tableRows(between(readme, MARKERS.bot) ?? '').keys(), ...tableRows(between(readme, MARKERS.compose) ?? '').keys()]);
    const used = new Map<string, string | undefined>();
    const code = compose.replace(/^\s*#.*$/gm, '');
    for (const m of code.matchAll(/\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g)) used.set(m[1]!, m[2]);
    assert.ok(used.size > 20);
    for (const name of used.keys()) assert.ok(documented.has(name), `${name} is used by docker-compose.yml but not in README`);
    for (const row of COMPOSE_ONLY) {
      if (!used.has(row.name)) continue;
      assert.equal(used.get(row.name) || undefined, row.default, `${row.name}: compose default differs from the table`);
    }
  });
});

describe('README commands', () => {
  it('names the run and test commands, and CI runs the same test command', () => {
    assert.ok(readme.includes('npm ci && npm run stack:up'));
    assert.match(readme, /```sh\nnpm test\n```/);
    assert.match(read('.ci/run'), /^npm test$/m);
  });

  it('every `npm run <script>` it mentions exists', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    const named = [...readme.matchAll(/npm run ([a-z0-9:-]+)/g)].map((m) => m[1]!);
    assert.ok(named.length >= 4);
    for (const s of named) assert.ok(scripts[s], `npm run ${s} is not a script in package.json`);
  });

  it('every `bluegreen …` command line it shows parses with the real grammar', () => {
    const lines = bluegreenInvocations(readme);
    assert.ok(lines.length >= 5);
    for (const l of lines) assert.equal(parseInvocation(l), undefined, `README: bluegreen ${l}`);
  });

  it('explains every dependency in package.json', () => {
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    const section = readme.slice(readme.indexOf('## Dependencies'));
    for (const name of [...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies)]) {
      assert.ok(section.includes(`\`${name}\``), `${name} is not explained in README "Dependencies"`);
    }
  });

  it('describes the compose services that exist', () => {
    const services = Object.keys((parse(compose) as { services: Record<string, unknown> }).services);
    for (const s of services) assert.ok(readme.includes(s), `service ${s} is not in README`);
  });
});
