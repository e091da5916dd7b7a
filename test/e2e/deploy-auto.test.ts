// Chaos through the compose network and auto-demote, with the bot's health checker on (defaults).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { botCli, eventually, servedBy, serviceContainer } from './deploy-host.js';
import { dockerAvailable, run } from './support/docker.js';
import { chaos, startStack, type Stack } from './support/stack.js';

const docker = await dockerAvailable();

describe('chaos and auto-demote on the real stack', { skip: !docker && 'no Docker engine (start dockerd)', timeout: 600_000 }, () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack({ project: 'bge2e-deploy-auto', env: { POST_SWITCH_GUARD_SEC: '0' } });
  });

  after(async () => {
    await stack?.down();
  });

  it('chaos on the active pool through the bot demotes it; the alert offers switching back', async () => {
    const started = await botCli(stack, 'chaos', 'start', 'blue', 'error');
    assert.equal(started.code, 0, started.stdout + started.stderr);
    try {
      const chaosState = await fetch(stack.poolUrl('blue', '/chaos'));
      assert.equal(((await chaosState.json()) as { chaos: string }).chaos, 'error');
      // Clients see green at once (nginx retries blue's 500s on its backup); the bot then makes green primary.
      type Report = { active: string; lastFailover?: { kind: string; by: { kind: string }; reason?: string } };
      let report: Report | undefined;
      await eventually(
        'auto-demote to green',
        async () => {
          report = ((await botCli(stack, 'status')).result as { data: Report }).data;
          // The flags flip first and the switch is recorded once nginx is verified: wait for both.
          return report.active === 'green' && report.lastFailover !== undefined;
        },
        15_000,
      );
      assert.equal(report?.active, 'green');
      assert.equal((await servedBy(stack)).pool, 'green');
      assert.equal(report?.lastFailover?.by.kind, 'auto');
      assert.match(report?.lastFailover?.reason ?? '', /blue failed \d health checks in a row/);
      const logs = await run('docker', ['logs', await serviceContainer(stack.project, 'bot')]);
      assert.match(logs.stdout + logs.stderr, /"kind":"auto_failover".*Switch back when blue recovers/);
    } finally {
      assert.equal((await botCli(stack, 'chaos', 'stop', 'blue')).code, 0);
    }
  });

  it('refuses chaos on the active pool while the backup is unhealthy, unless --force', async () => {
    // green is active now; make its backup (blue) unhealthy directly through blue's own port.
    await chaos(stack, 'blue', 'start', 'error');
    try {
      const refused = await botCli(stack, 'chaos', 'start', 'green', 'timeout');
      assert.equal(refused.code, 3, refused.stdout + refused.stderr);
      assert.match(refused.result?.status === 'refused' ? refused.result.reason : '', /backup blue is unhealthy.*outage/);
      const mode = await fetch(stack.poolUrl('green', '/chaos'));
      assert.equal(((await mode.json()) as { chaos: string | null }).chaos, null);
      const forced = await botCli(stack, 'chaos', 'start', 'green', 'timeout', '--force');
      assert.equal(forced.code, 0, forced.stdout + forced.stderr);
    } finally {
      await chaos(stack, 'green', 'stop');
      await chaos(stack, 'blue', 'stop');
    }
  });
});
