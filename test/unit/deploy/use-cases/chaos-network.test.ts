// The network faults' helpers (chaos-network.ts): what a helper says is read after its state, so a
// refusal printed just before it exits is reported in its own words. A CI run through the Docker
// filter (each call a little slower) read the log empty, then saw the helper exited: "no output".
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContainerFaults } from '../../../../src/deploy/use-cases/context.js';
import { startNetworkFault } from '../../../../src/deploy/use-cases/chaos-network.js';

/** A helper that prints `words` and exits right after the bot's first read of its log. */
function helperThatExitsAt(words: string): { faults: ContainerFaults; stopped: string[] } {
  let printed = false;
  const stopped: string[] = [];
  const faults: ContainerFaults = {
    kill: async () => undefined,
    stop: async (id) => void stopped.push(id),
    start: async () => undefined,
    pause: async () => undefined,
    unpause: async () => undefined,
    runHelper: async () => 'helper1',
    // Its log is read while it still runs (empty); right after that read it prints and exits.
    logs: async () => {
      const out = printed ? `${words}\n` : '';
      printed = true;
      return out;
    },
    inspect: async () => ({ name: 'helper1', state: printed ? 'exited' : 'running', labels: {} }),
    remove: async () => undefined,
  };
  return { faults, stopped };
}

const fault = { image: 'bluegreen-chaos-net:local', kind: 'delay' as const, amount: 200, ms: 30_000, targets: ['app1'], pool: 'green' as const, now: Date.now };

describe('chaos network helpers', () => {
  it("reports a helper's refusal in its own words even when it exits between two reads", async () => {
    const { faults, stopped } = helperThatExitsAt('refused: this kernel cannot delay packets (tc netem: unknown qdisc)');
    const r = await startNetworkFault(faults, fault);
    assert.equal(r, 'chaos delay cannot run on green: this kernel cannot delay packets (tc netem: unknown qdisc)');
    assert.deepEqual(stopped, ['helper1'], 'the helper is stopped again');
  });

  it('a helper that says applied is kept; one that exits silent is reported as such', async () => {
    assert.deepEqual(await startNetworkFault(helperThatExitsAt('applied').faults, fault), ['helper1']);
    assert.match(String(await startNetworkFault(helperThatExitsAt('').faults, fault)), /the helper did not apply it \(no output\)/);
  });
});
