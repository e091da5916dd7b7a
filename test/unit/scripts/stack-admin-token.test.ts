// scripts/stack.sh's ADMIN_TOKEN (issue #20): the demo app refuses chaos without one, so `up` (and
// swarm.sh through `stack.sh admin-token`) must always hand the pools and the bot the same one. Run
// on a copy of the script in a scratch folder: the checkout's own .env is never touched.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../../scripts/stack.sh', import.meta.url));

/** A scratch project with stack.sh in scripts/ and, when given, this .env. */
function project(env?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'bg-stack-'));
  mkdirSync(join(dir, 'scripts'));
  copyFileSync(script, join(dir, 'scripts/stack.sh'));
  if (env !== undefined) writeFileSync(join(dir, '.env'), env);
  return dir;
}

/** `stack.sh admin-token` in `dir`, with no ADMIN_TOKEN in its environment unless `shell` gives one. */
function adminToken(dir: string, shell: Record<string, string> = {}): string {
  const { ADMIN_TOKEN: _fromOurShell, ...env } = process.env;
  return execFileSync('bash', [join(dir, 'scripts/stack.sh'), 'admin-token'], { env: { ...env, ...shell }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

const dotEnv = (dir: string) => readFileSync(join(dir, '.env'), 'utf8');

describe('scripts/stack.sh admin-token', () => {
  it('with no .env: writes a random 64-hex token to a new .env only its owner reads, and gives the same one after', () => {
    const dir = project();
    const token = adminToken(dir);
    assert.match(token, /^[0-9a-f]{64}$/);
    assert.equal(dotEnv(dir), `ADMIN_TOKEN=${token}\n`);
    assert.equal(statSync(join(dir, '.env')).mode & 0o777, 0o600);
    assert.equal(adminToken(dir), token);
    assert.notEqual(adminToken(project()), token, 'each project its own');
  });

  it('adds it to an .env of yours on a line of its own, keeping every other line; drops an empty ADMIN_TOKEN= line', () => {
    const dir = project('NGINX_PORT=18080\nADMIN_TOKEN=\n# a comment\nBLUE_PORT=18081');
    const token = adminToken(dir);
    assert.equal(dotEnv(dir), `NGINX_PORT=18080\n# a comment\nBLUE_PORT=18081\nADMIN_TOKEN=${token}\n`);
  });

  it('takes the one in .env as it is, quoted or with CRLF line ends, and leaves .env alone', () => {
    for (const [text, want] of [
      ['ADMIN_TOKEN=mine-0123456789\n', 'mine-0123456789'],
      ['ADMIN_TOKEN="quoted-0123456789"\n', 'quoted-0123456789'],
      ["NGINX_PORT=1\r\nADMIN_TOKEN='crlf-0123456789'\r\n", 'crlf-0123456789'],
    ]) {
      const dir = project(text);
      assert.equal(adminToken(dir), want);
      assert.equal(dotEnv(dir), text);
    }
  });

  it("the shell's ADMIN_TOKEN wins, and no .env is written for it", () => {
    const dir = project();
    assert.equal(adminToken(dir, { ADMIN_TOKEN: 'from-the-shell-42' }), 'from-the-shell-42');
    assert.equal(existsSync(join(dir, '.env')), false);
  });
});

describe('scripts/stack.sh docker-gid', () => {
  const dockerGid = (dir: string, shell: Record<string, string>) => {
    const { DOCKER_GID: _ours, ...env } = process.env;
    return execFileSync('bash', [join(dir, 'scripts/stack.sh'), 'docker-gid'], { env: { ...env, ...shell }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  };

  it("gives the socket's group and saves it to .env once, so docker-filter runs in it on a plain `docker compose up` too", () => {
    const dir = project('NGINX_PORT=18080\n');
    const sock = join(dir, 'docker.sock');
    writeFileSync(sock, '');
    const gid = String(statSync(sock).gid);
    assert.equal(dockerGid(dir, { DOCKER_SOCKET_HOST: sock }), gid);
    assert.equal(dotEnv(dir), `NGINX_PORT=18080\nDOCKER_GID=${gid}\n`);
    assert.equal(dockerGid(dir, { DOCKER_SOCKET_HOST: sock }), gid);
    assert.equal(dotEnv(dir), `NGINX_PORT=18080\nDOCKER_GID=${gid}\n`, 'saved once');
  });

  it("the shell's DOCKER_GID wins and is not saved; no socket is a clear error", () => {
    const dir = project();
    assert.equal(dockerGid(dir, { DOCKER_GID: '999', DOCKER_SOCKET_HOST: '/nonexistent.sock' }), '999');
    assert.equal(existsSync(join(dir, '.env')), false);
    assert.throws(() => dockerGid(dir, { DOCKER_SOCKET_HOST: '/nonexistent.sock' }), /set DOCKER_GID to the Docker socket's group id/);
  });
});
