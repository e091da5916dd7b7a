import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../../scripts/test-host.sh', import.meta.url));

/** The mirror test-host.sh would fetch Compose v2 from, given these apt sources. */
function mirror(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'bg-apt-'));
  mkdirSync(join(dir, 'sources.list.d'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return execFileSync('bash', [script, '--mirror'], { env: { ...process.env, APT_ETC: dir }, encoding: 'utf8' }).trim();
}

describe('scripts/test-host.sh', () => {
  it('takes the Debian mirror from the machine’s deb822 sources, not the security one', () => {
    const sources = ['Types: deb', 'URIs: http://mirror.internal/debian-security', 'Suites: bookworm-security', '', 'Types: deb', 'URIs: http://mirror.internal/debian', 'Suites: bookworm'];
    assert.equal(mirror({ 'sources.list.d/debian.sources': sources.join('\n') }), 'http://mirror.internal/debian');
  });

  it('reads a one-line sources.list with options', () => {
    const lines = ['# deb http://old.example/debian buster main', 'deb [signed-by=/usr/share/keyrings/k.gpg] https://apt.corp.example/debian bookworm main'];
    assert.equal(mirror({ 'sources.list': lines.join('\n') }), 'https://apt.corp.example/debian');
  });

  it('prints nothing when the machine names no mirror (then Compose v2 is not fetched)', () => {
    assert.equal(mirror({}), '');
  });

  it('names no package host of its own: the mirror comes only from the machine', () => {
    assert.doesNotMatch(readFileSync(script, 'utf8'), /https?:\/\/[a-z]/);
  });

  it('is what npm test runs first', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
    assert.match(pkg.scripts.test!, /^bash scripts\/test-host\.sh && /);
  });
});
