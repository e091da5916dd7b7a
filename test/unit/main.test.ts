// The process shell: starts, answers /healthz, stops cleanly on SIGTERM, refuses bad config.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;

function startBot(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'bg-main-'));
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: {
      PATH: process.env.PATH,
      BOT_HOST: '127.0.0.1',
      BOT_PORT: '0',
      METRICS_PORT: '0',
      STATE_DIR: join(dir, 'state'),
      NGINX_STATE_DIR: join(dir, 'nginx'),
      ACCESS_LOG_PATH: join(dir, 'access.json.log'),
      DOCKER_SOCKET: join(dir, 'no-docker.sock'),
      AUTO_FAILOVER: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

async function waitForLine(get: () => string, re: RegExp, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const line = get()
      .split('\n')
      .find((l) => re.test(l));
    if (line) return line;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no line matching ${re} in:\n${get()}`);
}

describe('bot process', () => {
  it('starts with defaults, answers /healthz and exits 0 on SIGTERM', async () => {
    const bot = startBot({ SLACK_WEBHOOK_URL: 'http://127.0.0.1:9/secret-hook-path' });
    const line = await waitForLine(bot.out, /"bot listening"/);
    const { port } = JSON.parse(line) as { port: number };
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { status: string }).status, 'ok');
    assert.equal((await fetch(`http://127.0.0.1:${port}/nope`)).status, 404);
    bot.child.kill('SIGTERM');
    assert.equal(await bot.exited, 0);
    assert.match(bot.out(), /"shutting down"/);
    assert.doesNotMatch(bot.out() + bot.err(), /secret-hook-path/);
  });

  it('refuses to start on bad config, naming every bad variable', async () => {
    const bot = startBot({ ACTIVE_POOL: 'red', WINDOW_SIZE: '-3' });
    assert.equal(await bot.exited, 78);
    assert.match(bot.err(), /ACTIVE_POOL: got "red", wants blue or green/);
    assert.match(bot.err(), /WINDOW_SIZE: got "-3", wants a number >= 10/);
    assert.equal(bot.out(), '');
  });
});
