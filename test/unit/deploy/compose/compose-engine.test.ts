import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createComposeEngine } from '../../../../src/deploy/compose/compose-engine.js';
import { alice, harness, SETTINGS } from '../fakes.js';

// The Compose engine's health gate for a new container: Docker's health (the image's own
// HEALTHCHECK, when it has one) and the bot's own HTTP probe by the container's name, so an image
// with no tool inside (no shell, curl or node) is judged like any other.

const URLS = { app: { blue: 'http://app_blue:3000', green: 'http://app_green:3000' }, admin: { blue: 'http://app_blue:3001', green: 'http://app_green:3001' } };

async function composeWith(probe: (name: string) => Promise<{ healthy: boolean; detail: string } | undefined>) {
  const asked: string[] = [];
  const h = await harness({
    settings: { ...SETTINGS, deployHealthTimeoutMs: 1000 },
    engineOf: ({ nginx, docker }) =>
      createComposeEngine({
        docker,
        project: async () => 'proj',
        nginx,
        urls: URLS,
        deployHealthTimeoutMs: 1000,
        probe: (name) => (asked.push(name), probe(name)),
      }),
  });
  return { h, asked };
}

describe('Compose engine: a new container is healthy when the bot can tell', () => {
  it('waits for the bot’s probe of the new container and of the final one, by name, before nginx is told', async () => {
    let tries = 0;
    const { h, asked } = await composeWith(async () => (++tries < 3 ? { healthy: false, detail: 'no answer: ECONNREFUSED' } : { healthy: true, detail: 'HTTP 200' }));
    h.engine.images.add('app:v2');
    const r = await h.ops.deploy('green', 'app:v2', { by: alice });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    assert.match(asked[0] ?? '', /^proj_app_green_1-next-/);
    assert.equal(asked.at(-1), 'proj_app_green_1');
    assert.ok(tries >= 3);
  });

  it('a new container the probe never finds healthy: deploy fails with what the probe saw, the old one stays', async () => {
    const { h } = await composeWith(async () => ({ healthy: false, detail: 'HTTP 500' }));
    h.engine.images.add('app:v3');
    const before = h.engine.containers.find((c) => c.service === 'app_green')!.id;
    const r = await h.ops.deploy('green', 'app:v3', { by: alice });
    assert.equal(r.status, 'failed');
    assert.match(r.status === 'failed' ? r.message : '', /failed at "wait for the new container to be healthy": container proj_app_green_1-next-\w+ not healthy after 1000 ms \(HTTP 500\); the old release keeps serving/);
    assert.equal(h.engine.containers.find((c) => c.service === 'app_green')!.id, before);
  });

  it('off the compose network (a CLI on the host) the probe has no word, and Docker’s health decides', async () => {
    const { h } = await composeWith(async () => undefined);
    h.engine.images.add('app:v4');
    const steps: string[] = [];
    const r = await h.ops.deploy('green', 'app:v4', { by: alice, progress: (s) => steps.push(s) });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    assert.ok(steps.some((s) => /not on the compose network here: Docker's health of proj_app_green_1-next-\w+ decides/.test(s)), steps.join('\n'));
  });
});
