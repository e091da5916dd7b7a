import { BluegreenError } from '../../../src/errors.js';
import type { Pool } from '../../../src/pool.js';
import { ok, refused, type OpResult } from '../../../src/shared/op-result.js';
import type { DeployData, DeployEngine, DeployRequest, PoolDescription, ScaleData } from '../../../src/deploy/deploy-engine.js';

// One fake engine for the use-case tests: a DeployEngine in memory that records what the use cases
// asked of it and answers as told. The real engines have tests of their own (compose/, swarm/) and
// e2e suites; what the use cases do around an engine is tested once, here, for both.

export function description(over: Partial<PoolDescription> = {}): PoolDescription {
  return {
    unit: 'unit app_x',
    image: 'app:v1',
    release: 'v1',
    state: 'running',
    running: 1,
    desired: 1,
    engineHealth: undefined,
    startedAt: undefined,
    perNode: undefined,
    placementWarning: undefined,
    update: undefined,
    updateTrouble: false,
    notRunning: [],
    replacesUnhealthyAfterMs: undefined,
    ...over,
  };
}

export class FakeDeployEngine implements DeployEngine {
  readonly label = 'Fake';
  readonly calls: string[] = [];
  /** Thrown by every call that reads Docker, when set. */
  down: BluegreenError | undefined;
  pools: Record<Pool, PoolDescription> = { blue: description({ unit: 'unit app_blue', release: 'blue-v1' }), green: description({ unit: 'unit app_green', release: 'green-v1' }) };
  deployAnswer: (req: DeployRequest) => OpResult<DeployData> = (req) => ok(`deployed ${req.image}`, { container: `app_${req.pool}`, release: req.env.RELEASE_ID ?? 'engine-chose' });
  scaleAnswer: (pool: Pool, replicas: number) => OpResult<ScaleData> = (pool, replicas) => ok(`scaled`, { pool, previous: 1, desired: replicas, running: replicas, perNode: {} });

  #read(what: string) {
    this.calls.push(what);
    if (this.down) throw this.down;
  }
  async project() {
    this.#read('project');
    return 'fake-project';
  }
  async describe() {
    this.#read('describe');
    return this.pools;
  }
  async release(pool: Pool) {
    this.#read(`release ${pool}`);
    return this.pools[pool].release;
  }
  async targets(pool: Pool) {
    this.#read(`targets ${pool}`);
    return { targets: [{ name: pool, app: `http://${pool}`, admin: `http://${pool}:1` }], desired: 1 };
  }
  /** Containers each pool's units run in, reachable from here, and how many run elsewhere. */
  faults: Record<Pool, { ids: string[]; elsewhere: number }> = { blue: { ids: ['c-blue'], elsewhere: 0 }, green: { ids: ['c-green'], elsewhere: 0 } };
  async faultTargets(pool: Pool) {
    this.#read(`faultTargets ${pool}`);
    return this.faults[pool];
  }
  async nginxContainer() {
    this.#read('nginxContainer');
    return 'nginx-id';
  }
  async deploy(req: DeployRequest) {
    this.#read(`deploy ${req.pool} ${req.image} ${JSON.stringify(req.env)} active=${req.active}`);
    return this.deployAnswer(req);
  }
  async scale(pool: Pool, replicas: number) {
    this.#read(`scale ${pool} ${replicas}`);
    return this.scaleAnswer(pool, replicas);
  }
  async rebalance(pool: Pool) {
    this.#read(`rebalance ${pool}`);
    return refused('nothing to spread over');
  }
  start() {}
  async stop() {}
}
