// The pools run the images you name, as they are (issue #19, item 1): `stack:up`'s build step with
// BLUE_IMAGE / GREEN_IMAGE of your own neither builds the demo app nor touches your tag, and the
// compose file has no build for the pools; with the defaults it builds the demo app as before.
// APP_PORT is the app's port for nginx, the bot and the app alike.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { StatusReport } from '../../src/deploy/operations.js';
import { botCli, servedBy, serviceContainer } from './deploy-host.js';
import { composeCommand, dockerAvailable, run } from './support/docker.js';
import { ensureImages, startStack, type Stack } from './support/stack.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TAG = `yourimg${(process.env.IMAGE_TAG ?? '').toLowerCase().replace(/[^a-z0-9]/g, '')}`;
const SITE = `bluegreen-test-site:${TAG}`;
const docker = await dockerAvailable();

const imageId = async (ref: string) => {
  const r = await run('docker', ['image', 'inspect', '-f', '{{.Id}}', ref]);
  return r.code === 0 ? r.stdout.trim() : undefined;
};

describe('the pools run the images you name', { skip: !docker && 'no Docker engine (start dockerd)', timeout: 600_000 }, () => {
  after(async () => {
    await run('docker', ['image', 'rm', '-f', SITE, `bluegreen-demo-app:${TAG}`, `bluegreen-nginx:${TAG}`, `bluegreen-bot:${TAG}`]);
  });

  it("stack:up's build leaves your tag alone and builds no demo app; the compose file builds no pool", async () => {
    // "Your" image: any image that is not the demo app, under a tag of yours.
    const base = (await imageId('bluegreen/nginx-base:local')) ?? (await imageId('bluegreen-nginx:local'));
    assert.ok(base, 'a base image the suite built earlier');
    assert.equal((await run('docker', ['tag', base, SITE])).code, 0);
    const before = await imageId(SITE);

    const env = { ...process.env, IMAGE_TAG: TAG, BLUE_IMAGE: SITE, GREEN_IMAGE: SITE, BASE_IMAGES: 'local' };
    const built = await run('bash', ['scripts/stack.sh', 'build'], { cwd: ROOT, env, timeoutMs: 600_000 });
    assert.equal(built.code, 0, built.stderr.slice(-3000));
    assert.match(built.stderr, new RegExp(`pools run ${SITE} and ${SITE}: the demo app is not built`));
    assert.equal(await imageId(SITE), before, 'your tag still names your image');
    assert.equal(await imageId(`bluegreen-demo-app:${TAG}`), undefined, 'no demo app was built');

    const [cmd, ...args] = await composeCommand();
    const config = await run(cmd!, [...args, 'config'], { cwd: ROOT, env });
    assert.equal(config.code, 0, config.stderr);
    const services = (parse(config.stdout) as { services: Record<string, { build?: unknown; image?: string }> }).services;
    assert.deepEqual([services.app_blue?.image, services.app_green?.image], [SITE, SITE]);
    assert.deepEqual([services.app_blue?.build, services.app_green?.build], [undefined, undefined]);
  });

  it('with the default images, the same build step builds the demo app under IMAGE_TAG', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, IMAGE_TAG: TAG, BASE_IMAGES: 'local' };
    delete env.BLUE_IMAGE;
    delete env.GREEN_IMAGE;
    const built = await run('bash', ['scripts/stack.sh', 'build'], { cwd: ROOT, env, timeoutMs: 600_000 });
    assert.equal(built.code, 0, built.stderr.slice(-3000));
    assert.match(built.stderr, new RegExp(`built bluegreen-demo-app:${TAG}`));
    assert.ok(await imageId(`bluegreen-demo-app:${TAG}`));
  });

  it('APP_PORT=8000: the app listens there, nginx proxies there, the bot probes there; switch works', async () => {
    await ensureImages();
    let stack: Stack | undefined;
    try {
      stack = await startStack({ project: 'app-port', env: { APP_PORT: '8000' } });
      const app = await run('docker', ['inspect', '-f', '{{range .Config.Env}}{{println .}}{{end}}', await serviceContainer(stack.project, 'app_green')]);
      assert.match(app.stdout, /^PORT=8000$/m);
      const st = await botCli(stack, 'status');
      const report = st.result?.status === 'ok' ? (st.result.data as unknown as StatusReport) : assert.fail(st.stdout + st.stderr);
      assert.deepEqual(
        report.pools.map((p) => [p.pool, p.healthy, p.healthDetail]),
        [
          ['blue', true, 'HTTP 200'],
          ['green', true, 'HTTP 200'],
        ],
      );
      const sw = await botCli(stack, 'switch', 'green');
      assert.equal(sw.code, 0, sw.stdout + sw.stderr);
      assert.equal((await servedBy(stack)).pool, 'green');
    } finally {
      await stack?.down();
    }
  });
});
