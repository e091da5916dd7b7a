import { describePerNode, type SwarmPoolStatus } from '../deploy/swarm/cluster.js';

// A pool's Swarm facts in words, for both skins: the CLI's status text and Slack's status message
// (which escapes them for mrkdwn). Pure.

/** Tasks that are not running, listed by name up to this many; the rest are counted. */
const MAX_TASK_LINES = 5;

/** Update states that stopped short of the new release: someone should look. */
const TROUBLE = new Set(['paused', 'rollback_started', 'rollback_paused', 'rollback_completed']);

export interface SwarmPoolFacts {
  running: number;
  desired: number;
  /** "2/3 running": serving tasks of the replicas wanted. */
  replicas: string;
  /** "vm (k3f2a1): 2, vm (9bd0c1): 1", or "none". */
  perNode: string;
  image: string;
  /** Swarm's last rolling update: "rollback_completed: update rolled back due to …". */
  update: string | undefined;
  /** The update is paused or rolled back (or rolling back). */
  updateTrouble: boolean;
  /** "bluegreen_app_blue.3 on vm (9bd0c1) failed: task: non-zero exit (1)", one per task not running. */
  notRunning: string[];
  /** "all 2 tasks on vm (9bd0c1): losing it leaves none", when they sit on one node. */
  oneNode: string | undefined;
}

/** "vm (k3f2a1): 2, vm (9bd0c1): 1", or "none". */

export function describeSwarmPool(s: SwarmPoolStatus): SwarmPoolFacts {
  const stopped = s.tasks.filter((t) => t.state !== 'running');
  const notRunning = stopped.slice(0, MAX_TASK_LINES).map((t) => `${t.name}${t.node ? ` on ${t.node}` : ''} ${t.state}${t.error ? `: ${t.error}` : ''}`);
  if (stopped.length > MAX_TASK_LINES) notRunning.push(`… and ${stopped.length - MAX_TASK_LINES} more not running`);
  return {
    running: s.running,
    desired: s.desired,
    replicas: `${s.running}/${s.desired} running`,
    perNode: describePerNode(s.perNode),
    image: s.image,
    update: s.update && `${s.update.state}${s.update.message ? `: ${s.update.message}` : ''}`,
    updateTrouble: s.update !== undefined && TROUBLE.has(s.update.state),
    notRunning,
    oneNode: s.oneNode && `all ${s.running} tasks on ${s.oneNode}: losing that node leaves none`,
  };
}

