// The small interface the deploy core needs from a container engine. docker-engine.ts implements it
// with dockerode; unit tests use a fake. Every method either resolves or rejects with a
// BluegreenError (DOCKER_UNAVAILABLE, DOCKER_FORBIDDEN, DOCKER_TIMEOUT, CONTAINER_NOT_FOUND, INTERNAL).

export type ContainerHealth = 'healthy' | 'unhealthy' | 'starting' | 'none';

export interface ContainerInfo {
  id: string;
  /** Without the leading slash. */
  name: string;
  project: string | undefined;
  service: string | undefined;
  /** Docker's state: running, exited, restarting, created, … */
  state: string;
  health: ContainerHealth;
  image: string;
  /** ISO time the container last started; undefined when it never ran. */
  startedAt: string | undefined;
  env: Readonly<Record<string, string>>;
  labels: Readonly<Record<string, string>>;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RecreateSpec {
  image: string;
  /** Variables to set or replace in the container's environment; the rest is kept. */
  env: Readonly<Record<string, string>>;
}

export interface ContainerEngine {
  /** Containers of a compose project, optionally of one service (by labels, never by name). */
  list(project: string, service?: string): Promise<ContainerInfo[]>;
  inspect(id: string): Promise<ContainerInfo>;
  /** Runs a command without a TTY; output demultiplexed; exit code from exec inspect. */
  exec(id: string, cmd: readonly string[]): Promise<ExecResult>;
  /** Tries the registry; false when none answers (offline), so callers fall back to local images. */
  pull(image: string): Promise<boolean>;
  imageExists(image: string): Promise<boolean>;
  /**
   * Replaces a container by one with the same name, labels, networks (with aliases), env and
   * healthcheck, but another image and env overrides. The old container is kept aside until the
   * new one runs, and put back if creating or starting the new one fails.
   */
  recreate(id: string, spec: RecreateSpec): Promise<ContainerInfo>;
  /** Resolves when the container reports healthy (or runs, without a healthcheck); rejects at the deadline. */
  waitHealthy(id: string, timeoutMs: number): Promise<ContainerInfo>;
}
