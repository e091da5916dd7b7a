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
  /** Network name -> the container's aliases on it (without the short id Docker adds itself). */
  networks: Readonly<Record<string, readonly string[]>>;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ReplacementSpec {
  image: string;
  /** Variables that win over both the compose file's and the image's (RELEASE_ID). */
  env: Readonly<Record<string, string>>;
  name: string;
  /**
   * A temporary container publishes no host ports (the old one still holds them) and its
   * `com.docker.compose.service` label is CANDIDATE_SERVICE (over any its image carries), so neither
   * compose nor the bot takes it for a service.
   */
  temporary: boolean;
  /** Networks to attach to, each with the aliases to answer to there ([] = none yet). */
  networks: Readonly<Record<string, readonly string[]>>;
}

export interface HelperSpec {
  image: string;
  /** Arguments to the image's entrypoint. */
  args: readonly string[];
  joinNetworkOf: string;
  capAdd: readonly string[];
  labels: Readonly<Record<string, string>>;
}

export interface ContainerEngine {
  /** Containers of a compose project, optionally of one service (by labels, never by name). */
  list(project: string, service?: string): Promise<ContainerInfo[]>;
  inspect(id: string): Promise<ContainerInfo>;
  /** Runs a command without a TTY; output demultiplexed; exit code from exec inspect. */
  exec(id: string, cmd: readonly string[], opts?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Tries the registry; false when none answers (offline), so callers fall back to local images. */
  pull(image: string): Promise<boolean>;
  imageExists(image: string): Promise<boolean>;
  /**
   * Creates and starts a container of `like`'s compose service from another image: the new image's
   * own defaults (CMD, ENTRYPOINT, ENV, WORKDIR, USER, HEALTHCHECK, labels) plus only what the
   * compose file set on `like` (see compose-settings.ts), as `docker compose up` would. A container
   * that was created but cannot start is removed again.
   */
  startReplacement(like: string, spec: ReplacementSpec): Promise<ContainerInfo>;
  /** Attaches to each network with these aliases, re-attaching where attached (Docker cannot change aliases in place). */
  connect(id: string, networks: Readonly<Record<string, readonly string[]>>): Promise<void>;
  disconnect(id: string, networks: readonly string[]): Promise<void>;
  stop(id: string): Promise<void>;
  start(id: string): Promise<void>;
  /** SIGKILL, as a crash: the container exits (its restart policy decides what comes next). */
  kill(id: string): Promise<void>;
  /** Freezes every process of the container (cgroup freezer): connections stay open, nothing answers. */
  pause(id: string): Promise<void>;
  /** Undoes pause; a container that is not paused is left as it is. */
  unpause(id: string): Promise<void>;
  /**
   * Creates and starts a short-lived helper container in the network namespace of `joinNetworkOf`
   * (`--network container:<id>`), with only the capabilities named; resolves with its id. An image
   * that is not on this host fails with CHAOS_UNAVAILABLE, naming how to build it.
   */
  runHelper(spec: HelperSpec): Promise<string>;
  /** What a container printed (stdout and stderr together), its last 64 KiB. */
  logs(id: string): Promise<string>;
  rename(id: string, name: string): Promise<void>;
  /** Removes the container, running or not. */
  remove(id: string): Promise<void>;
  /** Resolves when the container reports healthy (or runs, without a healthcheck); rejects once it is unhealthy or exited, or at the deadline. */
  waitHealthy(id: string, timeoutMs: number): Promise<ContainerInfo>;
}
