import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { composeSettings } from '../../../../src/deploy/compose/compose-settings.js';

// Real shapes, from `docker inspect` of a compose v2 app_green container and of its image (built by
// compose, so the image carries compose labels of its own).
const image = {
  User: 'node',
  Env: ['PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'PORT=3000', 'APP_POOL=blue', 'RELEASE_ID=dev'],
  Cmd: ['node', '/app/server.mjs'],
  WorkingDir: '/app',
  Labels: { 'com.docker.compose.project': 'main', 'com.docker.compose.service': 'app_blue', 'org.example.vendor': 'demo' },
};
const container = {
  User: 'node',
  Env: ['RELEASE_ID=green-v1', 'PORT=3000', 'APP_POOL=green', 'PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
  Cmd: ['node', '/app/server.mjs'],
  WorkingDir: '/app',
  Entrypoint: null,
  Healthcheck: { Test: ['CMD', 'node', '-e', "fetch('http://127.0.0.1:3000/healthz')"], Interval: 2_000_000_000 },
  Labels: {
    'com.docker.compose.project': 'bge2e-stack',
    'com.docker.compose.service': 'app_green',
    'com.docker.compose.container-number': '1',
    'org.example.vendor': 'demo',
  },
};

describe('composeSettings', () => {
  it("keeps what compose set and drops what the container only inherited from its image", () => {
    const s = composeSettings(container, image);
    // Cmd, WorkingDir and User equal the image's: the new image's own apply.
    assert.equal(s.Cmd, undefined);
    assert.equal(s.WorkingDir, undefined);
    assert.equal(s.User, undefined);
    assert.equal(s.Entrypoint, undefined);
    // The image has no healthcheck: compose's is kept.
    assert.deepEqual(s.Healthcheck, container.Healthcheck);
    // Per variable: PATH and PORT equal the image's; APP_POOL differs, RELEASE_ID differs.
    assert.deepEqual(s.env, { RELEASE_ID: 'green-v1', APP_POOL: 'green' });
    // Compose's labels always (the container is found by them); the image's own label is the image's.
    assert.deepEqual(s.labels, {
      'com.docker.compose.project': 'bge2e-stack',
      'com.docker.compose.service': 'app_green',
      'com.docker.compose.container-number': '1',
    });
  });

  it('keeps a command, entrypoint, user, working dir or stop signal that compose set differently from the image', () => {
    const s = composeSettings(
      { ...container, Cmd: ['node', 'other.mjs'], Entrypoint: ['tini', '--'], User: '1000', WorkingDir: '/srv', StopSignal: 'SIGINT' },
      { ...image, StopSignal: 'SIGTERM' },
    );
    assert.deepEqual([s.Cmd, s.Entrypoint, s.User, s.WorkingDir, s.StopSignal], [['node', 'other.mjs'], ['tini', '--'], '1000', '/srv', 'SIGINT']);
    assert.equal(composeSettings({ ...container, StopSignal: 'SIGTERM' }, { ...image, StopSignal: 'SIGTERM' }).StopSignal, undefined);
  });

  it('treats null, empty and missing alike', () => {
    const s = composeSettings({ Cmd: [], Entrypoint: null, Env: null, Labels: null }, { Cmd: null, Entrypoint: [] });
    assert.deepEqual(s, { env: {}, labels: {} });
  });
});
