import type { SwarmPoolStatus } from '../../../src/deploy/swarm/cluster.js';
import type { PoolStatus, StatusReport } from '../../../src/deploy/operations.js';
import { describeSwarmPool } from '../../../src/deploy/swarm/swarm-engine.js';

// Status reports as deploy hands them on in Swarm mode (PoolStatus.runs described by the Swarm engine), for
// the CLI text and the Slack status message. The words are Swarm's own (`docker service ps`,
// `docker service inspect --format '{{json .UpdateStatus}}'`).

export const ROLLED_BACK = 'update rolled back due to failure or early termination of task 8m3xq0ctf0ltbn7f5ybh2zq3a';

/** blue: 3 of 3 serving on two nodes, the last update completed. */
export function swarmBlue(over: Partial<SwarmPoolStatus> = {}): SwarmPoolStatus {
  const base = {
    service: 'bluegreen_app_blue',
    desired: 3,
    running: 3,
    perNode: { 'vm (k3f2a1)': 2, 'vm (9bd0c1)': 1 },
    image: 'bluegreen-demo-app:r2',
    release: 'r2',
    update: { state: 'completed', message: 'update completed', startedAt: '2026-01-01T00:00:00Z', completedAt: '2026-01-01T00:01:00Z' },
    tasks: [
      { name: 'bluegreen_app_blue.1', node: 'vm (k3f2a1)', state: 'running', error: undefined },
      { name: 'bluegreen_app_blue.2', node: 'vm (9bd0c1)', state: 'running', error: undefined },
      { name: 'bluegreen_app_blue.3', node: 'vm (k3f2a1)', state: 'running', error: undefined },
    ],
  };
  // Spread, not a literal typed as SwarmPoolStatus: fields deploy adds later do not break the fixture.
  return { ...base, ...over };
}

/** green: 1 of 2 serving; Swarm rolled its update back and one task failed. */
export function swarmGreen(over: Partial<SwarmPoolStatus> = {}): SwarmPoolStatus {
  return swarmBlue({
    service: 'bluegreen_app_green',
    desired: 2,
    running: 1,
    perNode: { 'vm (k3f2a1)': 1 },
    image: 'bluegreen-demo-app:r1',
    update: { state: 'rollback_completed', message: ROLLED_BACK, startedAt: '2026-01-01T00:02:00Z', completedAt: '2026-01-01T00:03:00Z' },
    tasks: [
      { name: 'bluegreen_app_green.1', node: 'vm (k3f2a1)', state: 'running', error: undefined },
      { name: 'bluegreen_app_green.2', node: 'vm (9bd0c1)', state: 'failed', error: 'task: non-zero exit (1)' },
    ],
    ...over,
  });
}

export function poolStatus(over: Partial<PoolStatus> & Pick<PoolStatus, 'pool'>): PoolStatus {
  return {
    active: false,
    runs: undefined,
    release: undefined,
    healthy: true,
    healthDetail: '200 in 3 ms',
    chaos: null,
    stats: undefined,
    ...over,
  };
}

export function statusReport(pools: PoolStatus[], over: Partial<StatusReport> = {}): StatusReport {
  return {
    env: 'prod-eu-1',
    active: 'blue',
    pools,
    maintenance: { on: false, since: undefined, until: undefined, by: undefined, reason: undefined, page: false },
    lastSwitch: undefined,
    lastFailover: undefined,
    previousPool: undefined,
    lock: undefined,
    docker: { ok: true, project: 'bluegreen' },
    ...over,
  };
}

/** Both pools in Swarm mode: blue active and whole, green short a task after a rolled-back update. */
export function swarmReport(): StatusReport {
  return statusReport([
    poolStatus({ pool: 'blue', active: true, release: 'r2', runs: describeSwarmPool(swarmBlue()) }),
    poolStatus({ pool: 'green', release: 'r1', healthy: true, runs: describeSwarmPool(swarmGreen()) }),
  ]);
}
