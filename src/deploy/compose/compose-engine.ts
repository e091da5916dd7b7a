import { BluegreenError, describeError } from '../../errors.js';
import { serviceOf, type Pool } from '../../pool.js';
import { failed, ok, refused, type OpResult } from '../../shared/op-result.js';
import type { DeployData, DeployEngine, DeployRequest, PoolDescription } from '../deploy-engine.js';
import type { ContainerEngine, ContainerInfo } from '../docker/container-engine.js';
import { describeVerification, type NginxControl } from '../nginx/nginx-control.js';
import { composeTargets } from '../pools/pool-client.js';
import { replacePoolContainer } from './replace-pool-container.js';

// The Compose engine: each pool is one container of the compose project, found by its compose
// service label. Deploy replaces the idle pool's container with one of the new image
// (replace-pool-container.ts): the new one must be healthy before it takes the service's name and
// aliases, and any failed step puts the old one back. There are no nodes: no scale, no rebalance.

export interface ComposeEngineOptions {
  docker: ContainerEngine;
  /** The compose project, resolved at first use (config or the bot's own labels). */
  project: () => Promise<string>;
  nginx: NginxControl;
  /** Each pool's app and admin URL on the compose network. */
  urls: { app: Readonly<Record<Pool, string>>; admin: Readonly<Record<Pool, string>> };
  /** How long deploy waits for the new container to be healthy. */
  deployHealthTimeoutMs: number;
  /** The bot's health probe of one container by name (replace-pool-container.ts); none: Docker's health only. */
  probe?: (containerName: string) => Promise<{ healthy: boolean; detail: string } | undefined>;
  /**
   * How long deploy waits for nginx to serve the active pool steadily before it replaces the idle
   * one [15 s: nginx's default FAIL_TIMEOUT of 5 s, three times].
   */
  deployQuietWaitMs?: number;
}

/** A pool's container in the words every view shows; `missing` says why there is none. */
export function describeContainer(c: ContainerInfo | undefined, missing: string): PoolDescription {
  const running = c?.state === 'running' ? 1 : 0;
  return {
    unit: c ? `container ${c.name}` : 'container',
    image: c?.image,
    release: c?.env.RELEASE_ID,
    state: c?.state ?? 'missing',
    running,
    desired: 1,
    engineHealth: c && c.health !== 'none' ? c.health : undefined,
    startedAt: c?.startedAt,
    perNode: undefined,
    placementWarning: undefined,
    update: undefined,
    updateTrouble: false,
    notRunning: c ? (running ? [] : [`${c.name} ${c.state}`]) : [missing],
    replacesUnhealthyAfterMs: undefined,
  };
}

export function createComposeEngine(o: ComposeEngineOptions): DeployEngine {
  const { docker, nginx } = o;

  async function containerOf(pool: Pool): Promise<ContainerInfo> {
    const project = await o.project();
    const [c] = await docker.list(project, serviceOf(pool));
    if (!c) throw new BluegreenError('CONTAINER_NOT_FOUND', `no ${serviceOf(pool)} container in compose project ${project}`, { hint: 'docker-compose up -d' });
    return c;
  }

  async function deploy({ pool, image, env, active, say }: DeployRequest): Promise<OpResult<DeployData>> {
    say(`pulling ${image}`);
    const pulled = await docker.pull(image);
    if (!pulled && !(await docker.imageExists(image))) {
      return failed(`image ${image} could not be pulled and is not present locally`, 'docker tag an existing image, or check the name');
    }
    say(pulled ? `pulled ${image}` : `not pulled; using the local ${image}`);
    // The idle pool must really be idle: when nginx has benched the active pool (it failed a
    // moment ago: chaos, a blip), the idle pool is the one answering, and replacing it would
    // leave those requests nothing to go to. Wait until the active pool serves again.
    say(`checking that nginx serves ${active}, so ${pool} carries no traffic`);
    const quietWaitMs = o.deployQuietWaitMs ?? 15_000;
    const quiet = await nginx.verifyServing(active, quietWaitMs, { steady: true });
    if (quiet.ms === undefined) {
      return refused(
        `${pool} is carrying traffic: nginx did not serve ${active} steadily for ${Math.round(quietWaitMs / 1000)} s (${describeVerification(quiet, active)}); replacing ${pool} now would fail those requests. Nothing changed. Deploy again once ${active} serves (status shows it), or switch to ${pool} and deploy to ${active}`,
      );
    }
    say(`nginx serves ${active}`);
    const old = await containerOf(pool);
    const releaseId = env.RELEASE_ID;
    say(`replacing ${old.name} with ${image}${releaseId ? ` (release ${releaseId})` : ''}; it keeps serving until the new one is healthy`);
    const r = await replacePoolContainer({ engine: docker, nginx, old, image, env, healthTimeoutMs: o.deployHealthTimeoutMs, say, ...(o.probe ? { probe: o.probe } : {}) });
    if (!r.ok) {
      const kept = old.env.RELEASE_ID ? `${old.name} (release ${old.env.RELEASE_ID})` : old.name;
      const serving =
        r.restoreProblems.length === 0
          ? `the old release keeps serving: ${kept}, unchanged, as nginx's ${pool} backup`
          : `putting the old release back also failed (${r.restoreProblems.join('; ')}): check ${pool} with status`;
      return failed(`deploy of ${image} to ${pool} failed at "${r.step}": ${describeError(r.error)}; ${serving}`, r.error);
    }
    const release = r.fresh.env.RELEASE_ID;
    return ok(
      `Deployed ${image}${release ? ` (release ${release})` : ''} to ${pool} (${pulled ? 'pulled' : 'local image'}); it is healthy and idle. Switch to it with: switch ${pool}${
        r.leftovers.length ? ` (clean-up left: ${r.leftovers.join('; ')})` : ''
      }`,
      { container: r.fresh.name, release },
    );
  }

  return {
    label: 'Compose',
    project: o.project,
    async describe() {
      const project = await o.project();
      const all = await docker.list(project);
      const of = (p: Pool) => describeContainer(all.find((c) => c.service === serviceOf(p)), `no ${serviceOf(p)} container in compose project ${project}`);
      return { blue: of('blue'), green: of('green') };
    },
    async faultTargets(pool) {
      const list = await docker.list(await o.project(), serviceOf(pool));
      return { ids: list.filter((c) => c.state === 'running' || c.state === 'paused').map((c) => c.id), elsewhere: 0 };
    },

    async release(pool) {
      return (await containerOf(pool)).env.RELEASE_ID;
    },
    targets: composeTargets(o.urls),
    async nginxContainer() {
      const project = await o.project();
      const [c] = await docker.list(project, 'nginx');
      if (!c || c.state !== 'running') {
        throw new BluegreenError('NGINX_DOWN', `the nginx container of project ${project} is ${c ? c.state : 'missing'}`, { hint: 'docker-compose up -d nginx' });
      }
      return c.id;
    },
    deploy,
    scale: (pool, replicas) => Promise.resolve(refused(`scale needs Swarm mode: under Compose each pool is one container (scale ${pool} ${replicas} was not run)`)),
    rebalance: () => Promise.resolve(refused('rebalance needs Swarm mode: under Compose each pool is one container')),
    start() {},
    stop: () => Promise.resolve(),
  };
}
