// Which of a running container's settings the compose file gave it, and which it only inherited from
// its image. A deploy keeps the first and lets the new image bring its own defaults, as
// `docker compose up` does with a new image: copying the old container's Cmd onto a new image ran the
// previous release's command in it.
//
// Docker keeps no record of who set what, so the rule is: a value the container has that differs from
// its image's is the compose file's. A value the compose file set equal to the image's is dropped with
// the image's (the new image's own value applies then).

import { envRecord } from '../docker/docker-client.js';

/** The parts of Docker's container `Config` and image `Config` compared here. */
export interface ConfigLike {
  Cmd?: string[] | string | null | undefined;
  Entrypoint?: string[] | string | null | undefined;
  Env?: string[] | null | undefined;
  WorkingDir?: string | null | undefined;
  User?: string | null | undefined;
  StopSignal?: string | null | undefined;
  Healthcheck?: object | null | undefined;
  Labels?: Record<string, string> | null | undefined;
}

export interface ComposeSettings {
  /** Only the fields the compose file set; an absent field means "the new image's". */
  Cmd?: string[] | string;
  Entrypoint?: string[] | string;
  WorkingDir?: string;
  User?: string;
  StopSignal?: string;
  Healthcheck?: object;
  env: Record<string, string>;
  labels: Record<string, string>;
}

/** Labels compose writes on the containers it creates: how the bot and compose find a service's container. */
const COMPOSE_LABEL = /^com\.docker\.compose\./;

/** null, undefined, '' and [] all mean "not set" to Docker. */
function normalized(v: unknown): string | undefined {
  if (v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) return undefined;
  return JSON.stringify(v);
}

const differs = (a: unknown, b: unknown) => normalized(a) !== normalized(b);

export function composeSettings(container: ConfigLike, image: ConfigLike): ComposeSettings {
  const out: ComposeSettings = { env: {}, labels: {} };
  if (differs(container.Cmd, image.Cmd) && container.Cmd) out.Cmd = container.Cmd;
  if (differs(container.Entrypoint, image.Entrypoint) && container.Entrypoint) out.Entrypoint = container.Entrypoint;
  if (differs(container.WorkingDir, image.WorkingDir) && container.WorkingDir) out.WorkingDir = container.WorkingDir;
  if (differs(container.User, image.User) && container.User) out.User = container.User;
  if (differs(container.StopSignal, image.StopSignal) && container.StopSignal) out.StopSignal = container.StopSignal;
  if (differs(container.Healthcheck, image.Healthcheck) && container.Healthcheck) out.Healthcheck = container.Healthcheck;

  const imageEnv = envRecord(image.Env);
  for (const [k, v] of Object.entries(envRecord(container.Env))) if (imageEnv[k] !== v) out.env[k] = v;

  const imageLabels = image.Labels ?? {};
  for (const [k, v] of Object.entries(container.Labels ?? {})) {
    // Compose's own labels always stay (an image built by compose carries some of them too).
    if (COMPOSE_LABEL.test(k) || imageLabels[k] !== v) out.labels[k] = v;
  }
  return out;
}
