import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { BluegreenError } from '../errors.js';
import type { ContainerEngine, ContainerHealth, ContainerInfo, ExecResult } from './container-engine.js';

// ContainerEngine over the Docker socket with dockerode. The only module that imports dockerode.

const PROJECT_LABEL = 'com.docker.compose.project';
const SERVICE_LABEL = 'com.docker.compose.service';

export interface DockerEngineOptions {
  socketPath: string;
  /** Deadline of every Docker API call. */
  timeoutMs: number;
}

/** Maps what dockerode/docker-modem throw to BluegreenError codes people can act on. */
export function toDockerError(err: unknown, what: string, socketPath: string): BluegreenError {
  if (err instanceof BluegreenError) return err;
  const e = err as { code?: string; statusCode?: number; message?: string };
  const msg = e.message ?? String(err);
  if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'ENOTSOCK') {
    return new BluegreenError('DOCKER_UNAVAILABLE', `Docker is not reachable at ${socketPath} (${e.code})`, {
      hint: 'mount the Docker socket into the bot: -v /var/run/docker.sock:/var/run/docker.sock',
      cause: err,
    });
  }
  if (e.code === 'EACCES' || e.code === 'EPERM') {
    return new BluegreenError('DOCKER_FORBIDDEN', `permission denied on the Docker socket ${socketPath}`, {
      hint: "run the bot as a user in the socket's group (group_add: the socket's gid)",
      cause: err,
    });
  }
  if (e.statusCode === 404) return new BluegreenError('CONTAINER_NOT_FOUND', `${what}: ${msg.trim()}`, { cause: err });
  return new BluegreenError('INTERNAL', `${what} failed: ${msg.trim()}`, { cause: err });
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new BluegreenError('DOCKER_TIMEOUT', `${what} took longer than ${ms} ms`, { hint: 'is the Docker engine overloaded?' })),
      ms,
    );
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

function envToRecord(env: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of env ?? []) {
    const i = kv.indexOf('=');
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
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
    env: envToRecord(c.Config.Env),
    labels,
  };
}

export function createDockerEngine(opts: DockerEngineOptions): ContainerEngine {
  // dockerode (with ssh2 and grpc behind it) takes most of a second to load: only load it when a
  // Docker call is made, so `bluegreen switch` (flag files and HTTP) starts fast.
  let client: Docker | undefined;
  const load = async (): Promise<Docker> => {
    const { default: DockerClient } = await import('dockerode');
    // docker-modem's own timeout destroys a hung request; ours turns it into DOCKER_TIMEOUT.
    client ??= new DockerClient({ socketPath: opts.socketPath, timeout: opts.timeoutMs + 1000 });
    return client;
  };
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

    async exec(id, cmd) {
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
      });
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

    async recreate(id, spec) {
      const old = await call(`inspect ${id.slice(0, 12)}`, () => docker.getContainer(id).inspect());
      const name = old.Name.replace(/^\//, '');
      const env = { ...envToRecord(old.Config.Env), ...spec.env };
      const networks = Object.entries(old.NetworkSettings.Networks ?? {});
      const shortId = old.Id.slice(0, 12);
      const endpoint = (cfg: Docker.NetworkInfo) => ({
        // Docker adds the container's short id as an alias; the new one gets its own.
        Aliases: (cfg.Aliases ?? []).filter((a: string) => a !== shortId),
      });
      const aside = `${name}_replaced_${Date.now()}`;
      const oldContainer = docker.getContainer(old.Id);

      await call(`stop ${name}`, () => oldContainer.stop({ t: 5 }).catch(ignoreNotModified));
      await call(`rename ${name}`, () => oldContainer.rename({ name: aside }));
      let created: Docker.Container | undefined;
      try {
        const [first, ...rest] = networks;
        created = await call(`create ${name}`, () =>
          docker.createContainer({
            name,
            Image: spec.image,
            Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
            Cmd: old.Config.Cmd,
            Entrypoint: old.Config.Entrypoint,
            WorkingDir: old.Config.WorkingDir,
            User: old.Config.User,
            ExposedPorts: old.Config.ExposedPorts,
            Labels: { ...old.Config.Labels, 'com.bluegreen.image': spec.image },
            Healthcheck: old.Config.Healthcheck,
            StopSignal: (old.Config as { StopSignal?: string }).StopSignal,
            HostConfig: old.HostConfig,
            // API 1.41 attaches one network at create; the others are connected below.
            NetworkingConfig: first ? { EndpointsConfig: { [first[0]]: endpoint(first[1]) } } : undefined,
          } as Docker.ContainerCreateOptions),
        );
        for (const [net, cfg] of rest) {
          await call(`connect ${name} to ${net}`, () => docker.getNetwork(net).connect({ Container: created!.id, EndpointConfig: endpoint(cfg) }));
        }
        await call(`start ${name}`, () => created!.start());
      } catch (err) {
        // Put the old container back so the pool is no worse than before.
        if (created) await created.remove({ force: true }).catch(() => undefined);
        await oldContainer.rename({ name }).catch(() => undefined);
        await oldContainer.start().catch(() => undefined);
        throw err;
      }
      await call(`remove ${aside}`, () => oldContainer.remove({ force: true }));
      return inspect(created.id);
    },

    async waitHealthy(id, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const info = await inspect(id);
        if (info.state === 'running' && (info.health === 'healthy' || info.health === 'none')) return info;
        if (info.state === 'exited' || info.state === 'dead') {
          throw new BluegreenError('POOL_UNHEALTHY', `container ${info.name} ${info.state} while starting`);
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
  // 304: already stopped.
  if (err.statusCode !== 304) throw err;
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
