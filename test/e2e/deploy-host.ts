// Helpers for the deploy e2e tests and benchmarks: run operations from the host against a stack's
// published 127.0.0.1 ports and its nginx_state volume, or run the `bluegreen` CLI inside the bot.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { createDeployLayer, type DeployLayer } from '../../src/deploy/create-deploy-layer.js';
import type { OpResult } from '../../src/shared/op-result.js';
import { createLogger } from '../../src/log.js';
import { run } from './support/docker.js';
import type { Stack } from './support/stack.js';

/** Host path of one of the project's compose volumes (root can read Docker's volume folders). */
export async function volumePath(project: string, volume: string): Promise<string> {
  const ls = await run('docker', [
    'volume', 'ls', '-q',
    '--filter', `label=com.docker.compose.project=${project}`,
    '--filter', `label=com.docker.compose.volume=${volume}`,
  ]);
  const name = ls.stdout.trim().split('\n')[0];
  if (!name) throw new Error(`no volume ${volume} in project ${project}`);
  const inspect = await run('docker', ['volume', 'inspect', '-f', '{{.Mountpoint}}', name]);
  return inspect.stdout.trim();
}

/** Deploy control built on the host, pointed at the stack's published ports and volumes. */
export async function hostDeployLayer(stack: Stack, env: Record<string, string> = {}): Promise<DeployLayer> {
  const config = loadConfig({
    COMPOSE_PROJECT_NAME: stack.project,
    NGINX_STATE_DIR: await volumePath(stack.project, 'nginx_state'),
    STATE_DIR: await mkdtemp(join(tmpdir(), 'bg-host-state-')),
    NGINX_URL: `http://127.0.0.1:${stack.ports.nginx}`,
    // BLUE_PORT / GREEN_PORT publish the pools' admin listeners, which also answer /healthz.
    POOL_URL_BLUE: `http://127.0.0.1:${stack.ports.blue}`,
    POOL_URL_GREEN: `http://127.0.0.1:${stack.ports.green}`,
    POOL_ADMIN_URL_BLUE: `http://127.0.0.1:${stack.ports.blue}`,
    POOL_ADMIN_URL_GREEN: `http://127.0.0.1:${stack.ports.green}`,
    ADMIN_TOKEN: stack.env.ADMIN_TOKEN,
    ...env,
  });
  return createDeployLayer({ config, log: createLogger({ level: process.env.LOG_LEVEL ?? 'warn', destination: process.stderr }) });
}

export async function serviceContainer(project: string, service: string): Promise<string> {
  const r = await run('docker', [
    'ps', '-q',
    '--filter', `label=com.docker.compose.project=${project}`,
    '--filter', `label=com.docker.compose.service=${service}`,
  ]);
  const id = r.stdout.trim().split('\n')[0];
  if (!id) throw new Error(`no running ${service} container in ${project}`);
  return id;
}

export interface CliRun {
  code: number;
  result: OpResult<unknown> | undefined;
  stdout: string;
  stderr: string;
}

/** `bluegreen <args> --json` inside the bot container, as an operator runs it. */
export async function botCli(stack: Stack, ...args: string[]): Promise<CliRun> {
  const id = await serviceContainer(stack.project, 'bot');
  const r = await run('docker', ['exec', id, 'bluegreen', ...args, '--json'], { timeoutMs: 120_000 });
  let result: OpResult<unknown> | undefined;
  try {
    result = JSON.parse(r.stdout) as OpResult<unknown>;
  } catch {
    result = undefined;
  }
  return { code: r.code, result, stdout: r.stdout, stderr: r.stderr };
}

/** The pool that answers one request through nginx. */
export async function servedBy(stack: Stack): Promise<{ pool: string | null; release: string | null }> {
  const res = await fetch(stack.url('/'));
  await res.arrayBuffer();
  return { pool: res.headers.get('x-app-pool'), release: res.headers.get('x-release-id') };
}

/** Polls until check() is true (errors count as false); fails the test with `what` at the deadline. */
export async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}
