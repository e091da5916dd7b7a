import type Docker from 'dockerode';
import { BluegreenError } from '../../errors.js';

// The Docker API client both engines use: dockerode loaded at first use, its errors mapped to
// codes people can act on, a deadline on every call, and Docker's "K=V" environment read as a record.
// The only module that imports dockerode at run time.

export interface DockerEngineOptions {
  /** A socket path, `unix:///path`, or `tcp://host:port` (the Docker API filter, DOCKER_HOST). */
  socketPath: string;
  /** Deadline of every Docker API call. */
  timeoutMs: number;
}

/** Maps what dockerode/docker-modem throw to BluegreenError codes people can act on. */
export function toDockerError(err: unknown, what: string, socketPath: string): BluegreenError {
  if (err instanceof BluegreenError) return err;
  const e = err as { code?: string; statusCode?: number; message?: string };
  const msg = e.message ?? String(err);
  if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'ENOTSOCK' || e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') {
    return new BluegreenError('DOCKER_UNAVAILABLE', `Docker is not reachable at ${socketPath} (${e.code})`, {
      hint: socketPath.startsWith('tcp://')
        ? 'is the docker-filter service running (docker compose ps docker-filter)?'
        : 'mount the Docker socket into the bot: -v /var/run/docker.sock:/var/run/docker.sock',
      cause: err,
    });
  }
  // The Docker API filter's refusal (src/docker-filter): its own words say which call and why.
  if (e.statusCode === 403 && /bluegreen docker filter/.test(msg)) {
    return new BluegreenError('DOCKER_FORBIDDEN', `${what}: ${msg.trim()}`, { hint: 'the bot asked Docker for something outside its allowlist (README: Least privilege)', cause: err });
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

/**
 * A dockerode client made at its first use. dockerode (with ssh2 and grpc behind it) takes most of a
 * second to load: only load it when a Docker call is made, so `bluegreen switch` (flag files and
 * HTTP) starts fast.
 */
export function lazyDockerClient(opts: DockerEngineOptions): () => Promise<Docker> {
  let client: Docker | undefined;
  return async () => {
    const { default: DockerClient } = await import('dockerode');
    // docker-modem's own timeout destroys a hung request; ours turns it into DOCKER_TIMEOUT.
    client ??= new DockerClient({ ...dockerEndpoint(opts.socketPath), timeout: opts.timeoutMs + 1000 });
    return client;
  };
}

/** dockerode's connection options for a socket path, `unix:///path` or `tcp://host:port`. */
export function dockerEndpoint(endpoint: string): { socketPath: string } | { host: string; port: number; protocol: 'http' } {
  if (endpoint.startsWith('tcp://')) {
    const u = new URL(`http://${endpoint.slice('tcp://'.length)}`);
    return { host: u.hostname, port: Number(u.port || 2375), protocol: 'http' };
  }
  return { socketPath: endpoint.replace(/^unix:\/\//, '') };
}

/** Docker's `["K=V", …]` environment as a record. */
export function envRecord(env: readonly string[] | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of env ?? []) {
    const i = kv.indexOf('=');
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

