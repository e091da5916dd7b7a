import type Docker from 'dockerode';
import { BluegreenError } from '../../errors.js';

// The Docker API client both engines use: dockerode loaded at first use, its errors mapped to
// codes people can act on, a deadline on every call, and Docker's "K=V" environment read as a record.
// The only module that imports dockerode at run time.

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
    client ??= new DockerClient({ socketPath: opts.socketPath, timeout: opts.timeoutMs + 1000 });
    return client;
  };
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

