import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { BluegreenError } from '../../errors.js';
import { CANDIDATE_SERVICE } from '../../pool.js';
import { composeSettings } from '../compose/compose-settings.js';
import { containerLogs, runHelper } from './helper-containers.js';
import { envRecord, lazyDockerClient, toDockerError, withTimeout, type DockerEngineOptions } from './docker-client.js';
import type { ContainerEngine, ContainerHealth, ContainerInfo, ExecResult } from './container-engine.js';

// ContainerEngine over the Docker socket with dockerode (docker-client.ts), for the Compose engine.

const PROJECT_LABEL = 'com.docker.compose.project';
const SERVICE_LABEL = 'com.docker.compose.service';

/** A container's aliases on each network, without the short id Docker adds on its own. */
function networksOf(c: Docker.ContainerInspectInfo): Record<string, string[]> {
  const shortId = c.Id.slice(0, 12);
  const out: Record<string, string[]> = {};
  for (const [net, cfg] of Object.entries(c.NetworkSettings.Networks ?? {})) {
    out[net] = (cfg.Aliases ?? []).filter((a: string) => a !== shortId);
  }
  return out;
}

function toInfo(c: Docker.ContainerInspectInfo): ContainerInfo {
  const labels = c.Config.Labels ?? {};
  const health = (c.State.Health?.Status ?? 'none') as ContainerHealth;
  const started = c.State.StartedAt;
  return {
    id: c.Id,
    name: c.Name.replace(/^\//, ''),
    project: labels[PROJECT_LABEL],
    service: labels[SERVICE_LABEL],
    state: c.State.Status,
    health: health === 'healthy' || health === 'unhealthy' || health === 'starting' ? health : 'none',
    image: c.Config.Image,
    startedAt: started && !started.startsWith('0001-') ? started : undefined,
    env: envRecord(c.Config.Env),
    labels,
    networks: networksOf(c),
  };
}

export function createDockerEngine(opts: DockerEngineOptions): ContainerEngine {
  const load = lazyDockerClient(opts);
  // Set by call() before any fn runs; every use of `docker` below is inside or after a call().
  let docker!: Docker;
  const call = async <T>(what: string, fn: () => Promise<T>, ms = opts.timeoutMs): Promise<T> => {
    try {
      docker = await load();
      return await withTimeout(fn(), ms, what);
    } catch (err) {
      throw toDockerError(err, what, opts.socketPath);
    }
  };

  const inspect = (id: string) => call(`inspect ${id.slice(0, 12)}`, async () => toInfo(await docker.getContainer(id).inspect()));

  return {
    async list(project, service) {
      const label = [`${PROJECT_LABEL}=${project}`];
      if (service) label.push(`${SERVICE_LABEL}=${service}`);
      const rows = await call('list containers', () => docker.listContainers({ all: true, filters: { label } }));
      // The list lacks env and health details; inspect each (a project has a handful).
      return Promise.all(rows.map((r) => inspect(r.Id)));
    },

    inspect,

    async exec(id, cmd, execOpts = {}) {
      const what = `exec ${cmd.join(' ')} in ${id.slice(0, 12)}`;
      return call(what, async (): Promise<ExecResult> => {
        const exec = await docker.getContainer(id).exec({ Cmd: [...cmd], AttachStdout: true, AttachStderr: true, Tty: false });
        const stream = await exec.start({ hijack: true, stdin: false });
        const out = new PassThrough();
        const err = new PassThrough();
        const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
        out.on('data', (b: Buffer) => chunks.out.push(b));
        err.on('data', (b: Buffer) => chunks.err.push(b));
        // Without a TTY Docker multiplexes stdout and stderr in 8-byte-header frames.
        docker.modem.demuxStream(stream, out, err);
        await new Promise<void>((resolve, reject) => {
          stream.on('end', resolve);
          stream.on('close', resolve);
          stream.on('error', reject);
        });
        // The stream can end a moment before the engine records the exit code.
        let info = await exec.inspect();
        for (let i = 0; i < 20 && info.Running; i++) {
          await new Promise((r) => setTimeout(r, 25));
          info = await exec.inspect();
        }
        return {
          exitCode: info.ExitCode ?? -1,
          stdout: Buffer.concat(chunks.out).toString('utf8'),
          stderr: Buffer.concat(chunks.err).toString('utf8'),
        };
      }, execOpts.timeoutMs);
    },

    async pull(image) {
      try {
        await call(`pull ${image}`, async () => {
          const stream = await docker.pull(image);
          await new Promise<void>((resolve, reject) =>
            docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())),
          );
        });
        return true;
      } catch (err) {
        // No registry, unknown repository, offline: the caller falls back to a local image.
        if (err instanceof BluegreenError && (err.code === 'DOCKER_UNAVAILABLE' || err.code === 'DOCKER_FORBIDDEN')) throw err;
        return false;
      }
    },

    async imageExists(image) {
      try {
        await call(`inspect image ${image}`, () => docker.getImage(image).inspect());
        return true;
      } catch (err) {
        if (err instanceof BluegreenError && err.code === 'CONTAINER_NOT_FOUND') return false;
        throw err;
      }
    },

    async startReplacement(like, spec) {
      const old = await call(`inspect ${like.slice(0, 12)}`, () => docker.getContainer(like).inspect());
      // old.Image is the id of the image it runs: still there while the old container is.
      const oldImage = await call(`inspect image ${old.Image.slice(0, 19)}`, () => docker.getImage(old.Image).inspect());
      const set = composeSettings(old.Config, oldImage.Config);
      // A candidate's service label is written, not left out: an image's own (compose-built ones have one) would show.
      const labels: Record<string, string> = { ...set.labels, 'com.bluegreen.image': spec.image, ...(spec.temporary ? { [SERVICE_LABEL]: CANDIDATE_SERVICE } : {}) };
      // MaskedPaths, ReadonlyPaths: Docker's defaults as inspect shows them; left to Docker (the filter refuses them set).
      const { MaskedPaths: _masked, ReadonlyPaths: _readonly, ...hostConfig } = old.HostConfig as Record<string, unknown>;
      if (spec.temporary) {
        hostConfig.PortBindings = {};
        hostConfig.PublishAllPorts = false;
      }
      const endpoint = (net: string) => ({ Aliases: [...(spec.networks[net] ?? [])] });
      const [first, ...rest] = Object.keys(spec.networks);
      const created = await call(`create ${spec.name}`, () =>
        docker.createContainer({
          name: spec.name,
          Image: spec.image,
          // Unset fields take the new image's values; Docker merges the image's Env and Labels under these.
          Env: Object.entries({ ...set.env, ...spec.env }).map(([k, v]) => `${k}=${v}`),
          Cmd: set.Cmd,
          Entrypoint: set.Entrypoint,
          WorkingDir: set.WorkingDir,
          User: set.User,
          Healthcheck: set.Healthcheck,
          ExposedPorts: old.Config.ExposedPorts,
          Labels: labels,
          StopSignal: set.StopSignal,
          HostConfig: hostConfig,
          // API 1.41 attaches one network at create; the others are connected below.
          NetworkingConfig: first ? { EndpointsConfig: { [first]: endpoint(first) } } : undefined,
        } as Docker.ContainerCreateOptions),
      );
      try {
        for (const net of rest) {
          await call(`connect ${spec.name} to ${net}`, () => docker.getNetwork(net).connect({ Container: created.id, EndpointConfig: endpoint(net) }));
        }
        await call(`start ${spec.name}`, () => created.start());
      } catch (err) {
        await created.remove({ force: true }).catch(() => undefined);
        throw err;
      }
      return inspect(created.id);
    },

    async connect(id, networks) {
      const attached = networksOf(await call(`inspect ${id.slice(0, 12)}`, () => docker.getContainer(id).inspect()));
      for (const [net, aliases] of Object.entries(networks)) {
        if (attached[net]) await call(`disconnect ${id.slice(0, 12)} from ${net}`, () => docker.getNetwork(net).disconnect({ Container: id }));
        await call(`connect ${id.slice(0, 12)} to ${net}`, () =>
          docker.getNetwork(net).connect({ Container: id, EndpointConfig: { Aliases: [...aliases] } }),
        );
      }
    },

    async disconnect(id, networks) {
      for (const net of networks) {
        await call(`disconnect ${id.slice(0, 12)} from ${net}`, () => docker.getNetwork(net).disconnect({ Container: id }));
      }
    },

    async stop(id) {
      await call(`stop ${id.slice(0, 12)}`, () => docker.getContainer(id).stop({ t: 5 }).catch(ignoreNotModified));
    },

    async start(id) {
      await call(`start ${id.slice(0, 12)}`, () => docker.getContainer(id).start().catch(ignoreNotModified));
    },

    async kill(id) {
      await call(`kill ${id.slice(0, 12)}`, () => docker.getContainer(id).kill({ signal: 'SIGKILL' }).catch(ignoreNotRunning));
    },

    async pause(id) {
      await call(`pause ${id.slice(0, 12)}`, () => docker.getContainer(id).pause());
    },

    async unpause(id) {
      await call(`unpause ${id.slice(0, 12)}`, () => docker.getContainer(id).unpause().catch(ignoreNotPaused));
    },

    runHelper: (spec) => call(`start helper ${spec.image} in ${spec.joinNetworkOf.slice(0, 12)}`, () => runHelper(docker, spec)),
    logs: (id) => call(`logs of ${id.slice(0, 12)}`, () => containerLogs(docker, id)),

    async rename(id, name) {
      await call(`rename ${id.slice(0, 12)} to ${name}`, () => docker.getContainer(id).rename({ name }));
    },

    async remove(id) {
      await call(`remove ${id.slice(0, 12)}`, () => docker.getContainer(id).remove({ force: true }));
    },

    async waitHealthy(id, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const info = await inspect(id);
        if (info.state === 'running' && (info.health === 'healthy' || info.health === 'none')) return info;
        if (info.state === 'exited' || info.state === 'dead') {
          throw new BluegreenError('POOL_UNHEALTHY', `container ${info.name} ${info.state} while starting`);
        }
        // Its process exited and the restart policy (unless-stopped) starts it again, and again.
        if (info.state === 'restarting') {
          throw new BluegreenError('POOL_UNHEALTHY', `container ${info.name} exited while starting (Docker is restarting it)`);
        }
        // Docker says unhealthy only after the start period and `retries` failed checks in a row.
        if (info.health === 'unhealthy') {
          throw new BluegreenError('POOL_UNHEALTHY', `container ${info.name} is unhealthy (its healthcheck failed after the start period)`);
        }
        if (Date.now() >= deadline) {
          throw new BluegreenError('POOL_UNHEALTHY', `container ${info.name} not healthy after ${timeoutMs} ms (health: ${info.health})`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    },
  };
}

function ignoreNotModified(err: { statusCode?: number }): void {
  // 304: already stopped (or started).
  if (err.statusCode !== 304) throw err;
}

// 409 "Container … is not running" / "… is not paused": the fault is already over (or undone).
function ignoreNotRunning(err: { statusCode?: number; message?: string }): void {
  if (!(err.statusCode === 409 && /is not running/i.test(err.message ?? ''))) throw err;
}

function ignoreNotPaused(err: { statusCode?: number; message?: string }): void {
  if (!(err.statusCode === 409 && /is not paused|is not running/i.test(err.message ?? ''))) throw err;
}

/** The compose project the bot belongs to: from config, else from its own container's labels. */
export async function resolveProject(engine: ContainerEngine, configured: string | undefined, selfId: string): Promise<string> {
  if (configured) return configured;
  try {
    const self = await engine.inspect(selfId);
    if (self.project) return self.project;
  } catch (err) {
    if (err instanceof BluegreenError && err.code !== 'CONTAINER_NOT_FOUND') throw err;
  }
  throw new BluegreenError('CONTAINER_NOT_FOUND', 'cannot tell which compose project to drive', {
    hint: 'set COMPOSE_PROJECT_NAME, or run the bot inside the compose project',
  });
}
