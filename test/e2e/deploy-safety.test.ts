// Deploys that must never leave the site worse (issue #10, items 7 and 8), on the real stack through
// the `bluegreen` CLI in the bot container: an image with its own CMD and ENV runs its own CMD; an
// image that never becomes healthy leaves the old container serving as nginx's backup; a good
// deploy under load fails no request.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { botCli, eventually, servedBy, serviceContainer, type CliRun } from './deploy-host.js';
import { dockerAvailable, run } from './support/docker.js';
import { runLoad, type LoadResult } from './support/load.js';
import { chaos, DEMO_IMAGE, startStack, type Stack } from './support/stack.js';

const OWN_CMD_IMAGE = `${DEMO_IMAGE}-owncmd`;
const BAD_IMAGE = `${DEMO_IMAGE}-neverhealthy`;
const CRASH_IMAGE = `${DEMO_IMAGE}-crashes`;
const GOOD_IMAGE = `${DEMO_IMAGE}-v3`;
/** Short enough for a test, long enough for the compose healthcheck (start_period 10 s) to judge. */
const HEALTH_TIMEOUT_MS = 30_000;

/** Builds `FROM <DEMO_IMAGE>` plus the given Dockerfile lines and files. */
async function buildImage(tag: string, lines: string[], files: Record<string, string> = {}): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bg-img-'));
  try {
    await writeFile(join(dir, 'Dockerfile'), [`FROM ${DEMO_IMAGE}`, ...lines, ''].join('\n'));
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    const r = await run('docker', ['build', '-q', '-t', tag, dir], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `bluegreen deploy …` with a shorter health wait than the bot's default (60 s). */
async function deploy(stack: Stack, ...args: string[]): Promise<CliRun> {
  const id = await serviceContainer(stack.project, 'bot');
  const r = await run('docker', ['exec', '-e', `DEPLOY_HEALTH_TIMEOUT_MS=${HEALTH_TIMEOUT_MS}`, id, 'bluegreen', 'deploy', ...args, '--json'], {
    timeoutMs: 180_000,
  });
  let result: CliRun['result'];
  try {
    result = JSON.parse(r.stdout) as CliRun['result'];
  } catch {
    result = undefined;
  }
  return { code: r.code, result, stdout: r.stdout, stderr: r.stderr };
}

interface Inspected {
  Id: string;
  Config: { Cmd: string[] | null; Env: string[]; Labels: Record<string, string> };
  State: { Status: string };
}

async function inspect(id: string): Promise<Inspected> {
  const r = await run('docker', ['inspect', id]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as Inspected[])[0]!;
}

async function poolAnswer(stack: Stack, pool: 'blue' | 'green'): Promise<{ status: number; pool: string | null; release: string | null }> {
  const res = await fetch(stack.poolUrl(pool, '/version'));
  await res.arrayBuffer();
  return { status: res.status, pool: res.headers.get('x-app-pool'), release: res.headers.get('x-release-id') };
}

/** What a load run tells, for the figures line. */
const brief = (l: LoadResult) => ({ requests: l.requests, failed: l.failed, errorCodes: l.errorCodes, p99: l.p99, max: l.max, byRelease: l.byRelease });

const docker = await dockerAvailable();

describe('deploys that never leave the site worse', { skip: !docker && 'no Docker engine (start dockerd)', timeout: 900_000 }, () => {
  let stack: Stack;
  const figures: Record<string, unknown> = {};

  before(async () => {
    stack = await startStack({ project: 'bge2e-deploy-safety', env: { AUTO_FAILOVER: 'false', POST_SWITCH_GUARD_SEC: '0' } });
    await buildImage(OWN_CMD_IMAGE, ['ENV GREETING=hello-from-owncmd', 'COPY wrapper.mjs /app/wrapper.mjs', 'CMD ["node", "/app/wrapper.mjs"]'], {
      // Observable from outside: the release header carries the image's own ENV, set by its own CMD.
      'wrapper.mjs': 'process.env.RELEASE_ID = `${process.env.RELEASE_ID}+${process.env.GREETING}`;\nawait import("/app/server.mjs");\n',
    });
    // Listens on the pool port, but /healthz (and everything else) answers 500: never healthy.
    await buildImage(BAD_IMAGE, [
      'CMD ["node", "-e", "require(\'node:http\').createServer((q, s) => { s.statusCode = 500; s.end(); }).listen(3000)"]',
    ]);
    // Whatever the command, node exits at once: the image's own ENV breaks it.
    await buildImage(CRASH_IMAGE, ['ENV NODE_OPTIONS=--require=/nonexistent.cjs']);
    const tag = await run('docker', ['tag', DEMO_IMAGE, GOOD_IMAGE]);
    assert.equal(tag.code, 0, tag.stderr);
  });

  after(async () => {
    console.log('DEPLOY_SAFETY_FIGURES', JSON.stringify(figures));
    await stack?.down();
  });

  it('a new image runs its own CMD and ENV, keeping what compose set (env, labels, published port)', async () => {
    const d = await deploy(stack, 'green', OWN_CMD_IMAGE, 'green-v2');
    assert.equal(d.code, 0, d.stdout + d.stderr);
    const c = await inspect(await serviceContainer(stack.project, 'app_green'));
    assert.deepEqual(c.Config.Cmd, ['node', '/app/wrapper.mjs']);
    const env = new Set(c.Config.Env);
    for (const kv of ['GREETING=hello-from-owncmd', 'APP_POOL=green', 'RELEASE_ID=green-v2']) assert.ok(env.has(kv), `${kv} in ${c.Config.Env.join(' ')}`);
    assert.equal(c.Config.Labels['com.docker.compose.project'], stack.project);
    assert.equal(c.Config.Labels['com.docker.compose.service'], 'app_green');
    // Through the published 127.0.0.1 port: the wrapper ran (release + GREETING), with APP_POOL from compose.
    assert.deepEqual(await poolAnswer(stack, 'green'), { status: 200, pool: 'green', release: 'green-v2+hello-from-owncmd' });
    // nginx reaches it as app_green (the backup now; the primary after a switch).
    assert.equal((await botCli(stack, 'switch', 'green')).code, 0);
    assert.deepEqual(await servedBy(stack), { pool: 'green', release: 'green-v2+hello-from-owncmd' });
    assert.equal((await botCli(stack, 'switch', 'blue')).code, 0);
    figures.ownCmd = { cmd: c.Config.Cmd, release: 'green-v2+hello-from-owncmd' };
  });

  it('an image that never becomes healthy: the old container keeps serving, and answers as the backup under chaos', async () => {
    const before = await serviceContainer(stack.project, 'app_green');
    const releaseBefore = (await poolAnswer(stack, 'green')).release;
    const started = Date.now();
    const d = await deploy(stack, 'green', BAD_IMAGE, 'green-bad');
    const deployMs = Date.now() - started;
    assert.equal(d.code, 1, d.stdout + d.stderr);
    const message = d.result?.status === 'failed' ? d.result.message : '';
    assert.match(message, /not healthy|unhealthy/);
    assert.match(message, /keeps serving/);
    assert.ok(deployMs < HEALTH_TIMEOUT_MS + 20_000, `deploy took ${deployMs} ms`);

    assert.equal(await serviceContainer(stack.project, 'app_green'), before, 'the same green container');
    assert.deepEqual(await poolAnswer(stack, 'green'), { status: 200, pool: 'green', release: releaseBefore });
    const leftovers = await run('docker', ['ps', '-aq', '--filter', `ancestor=${BAD_IMAGE}`]);
    assert.equal(leftovers.stdout.trim(), '', 'the failed container is removed');

    // The active pool fails every request; nginx must retry each on the backup, the old green.
    assert.equal((await servedBy(stack)).pool, 'blue');
    await chaos(stack, 'blue', 'start', 'error');
    let load: LoadResult;
    try {
      load = await runLoad({ url: stack.url('/'), rate: 200, amount: 2000, connections: 40 });
    } finally {
      await chaos(stack, 'blue', 'stop');
    }
    figures.failedDeploy = { deployMs, message, chaosLoad: brief(load) };
    assert.equal(load.failed, 0, JSON.stringify(load));
    assert.ok(load.requests >= 1900, `requests: ${load.requests}`);
    assert.ok((load.byPool.green ?? 0) >= 1900, JSON.stringify(load.byPool));
  });

  it('an image whose process exits at start: the same old container keeps serving', async () => {
    const before = await serviceContainer(stack.project, 'app_green');
    const releaseBefore = (await poolAnswer(stack, 'green')).release;
    const d = await deploy(stack, 'green', CRASH_IMAGE, 'green-crash');
    assert.equal(d.code, 1, d.stdout + d.stderr);
    const message = d.result?.status === 'failed' ? d.result.message : '';
    assert.match(message, /exited|not healthy|unhealthy/);
    assert.match(message, /keeps serving/);
    assert.equal(await serviceContainer(stack.project, 'app_green'), before, 'the same green container');
    assert.deepEqual(await poolAnswer(stack, 'green'), { status: 200, pool: 'green', release: releaseBefore });
    // nginx still reaches it as the backup.
    await chaos(stack, 'blue', 'start', 'error');
    try {
      const res = await fetch(stack.url('/'));
      await res.arrayBuffer();
      assert.deepEqual([res.status, res.headers.get('x-app-pool')], [200, 'green']);
    } finally {
      await chaos(stack, 'blue', 'stop');
    }
    figures.crashedDeploy = { message };
  });

  it('a good deploy to the idle pool under 200 rps, then a switch: 0 failed requests', async () => {
    let deployResult: CliRun | undefined;
    let deployMs = 0;
    const load = await runLoad({
      url: stack.url('/'),
      rate: 200,
      amount: 6000,
      maxSeconds: 80,
      connections: 40,
      during: async () => {
        await new Promise((r) => setTimeout(r, 1000));
        const started = Date.now();
        deployResult = await deploy(stack, 'green', GOOD_IMAGE, 'green-v3');
        deployMs = Date.now() - started;
        if (deployResult.code === 0) {
          const s = await botCli(stack, 'switch', 'green');
          assert.equal(s.code, 0, s.stdout + s.stderr);
        }
      },
    });
    figures.goodDeploy = { deployMs, load: brief(load) };
    assert.equal(deployResult?.code, 0, `${deployResult?.stdout} ${deployResult?.stderr}`);
    if (load.failed > 0) console.log((await stack.compose('logs', '--tail', '60', 'nginx')).stdout, deployResult?.stderr);
    assert.equal(load.failed, 0, JSON.stringify(load));
    assert.ok((load.byRelease['green-v3'] ?? 0) > 100, JSON.stringify(load.byRelease));
    await eventually('green-v3 to serve', async () => (await servedBy(stack)).release === 'green-v3');
    const leftovers = await run('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${stack.project}`]);
    assert.equal(leftovers.stdout.trim().split('\n').length, 5, 'five containers: two pools, nginx, the bot, its Docker filter (no candidate or old one left)');
    assert.equal((await botCli(stack, 'switch', 'blue')).code, 0);
  });
});
