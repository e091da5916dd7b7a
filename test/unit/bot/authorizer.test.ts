import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Authorizer } from '../../../src/bot/authorizer.js';

function make(over: Partial<ConstructorParameters<typeof Authorizer>[0]> = {}) {
  let t = 0;
  const lookups: string[] = [];
  const authz = new Authorizer({
    adminUsers: ['U_ADMIN'],
    adminGroup: 'S_OPS',
    allowedChannels: ['C_OPS'],
    alertChannel: 'C_ALERTS',
    listGroupMembers: async (g) => {
      lookups.push(g);
      return ['U_MEMBER'];
    },
    cacheMs: 60_000,
    now: () => t,
    ...over,
  });
  return { authz, lookups, tick: (ms: number) => (t += ms) };
}

describe('Authorizer', () => {
  it('lets everyone read in allowed channels and the alert channel, nowhere else', async () => {
    const { authz } = make();
    assert.deepEqual(await authz.check('U_ANY', 'C_OPS', false), { allowed: true });
    assert.deepEqual(await authz.check('U_ANY', 'C_ALERTS', false), { allowed: true });
    const d = await authz.check('U_ADMIN', 'C_RANDOM', true);
    assert.equal(d.allowed, false);
    assert.equal(make({ allowedChannels: [] }).authz.channelAllowed('C_RANDOM'), true);
  });

  it('lets admins by list or by group change things, and nobody else', async () => {
    const { authz } = make();
    assert.deepEqual(await authz.check('U_ADMIN', 'C_OPS', true), { allowed: true });
    assert.deepEqual(await authz.check('U_MEMBER', 'C_OPS', true), { allowed: true });
    const d = await authz.check('U_OTHER', 'C_OPS', true);
    assert.ok(!d.allowed && /only admins/.test(d.reason));
  });

  it('caches group members briefly and shares one lookup between concurrent checks', async () => {
    const { authz, lookups, tick } = make();
    await Promise.all([authz.isAdmin('U_MEMBER'), authz.isAdmin('U_OTHER'), authz.isAdmin('U_MEMBER')]);
    assert.equal(lookups.length, 1);
    tick(30_000);
    await authz.isAdmin('U_MEMBER');
    assert.equal(lookups.length, 1);
    tick(31_000);
    await authz.isAdmin('U_MEMBER');
    assert.equal(lookups.length, 2);
  });

  it('fails closed when the group lookup fails, and says why', async () => {
    const { authz } = make({
      listGroupMembers: async () => {
        throw new Error('no_such_subteam');
      },
    });
    const d = await authz.check('U_MEMBER', 'C_OPS', true);
    assert.ok(!d.allowed && /could not check membership.*no_such_subteam/.test(d.reason));
  });

  it('refuses every change when no admin is configured', async () => {
    const { authz } = make({ adminUsers: [], adminGroup: undefined });
    const d = await authz.check('U_ADMIN', 'C_OPS', true);
    assert.ok(!d.allowed && /no admins are configured/.test(d.reason));
  });
});
