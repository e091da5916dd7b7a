import { CANDIDATE_SERVICE, isPool as isPoolName, POOLS, serviceOf as poolService } from '../pool.js';
import type { BodyCheck, FilterMode, TargetCheck } from './rules.js';

// What a request body may say, for the calls whose body can turn "run a pool" into "own the host":
// a container create must have a pool's shape or the chaos helper's; an exec runs only the bot's
// fixed commands in nginx; a network change only attaches a container; a service update only on a
// pool service, changing only what deploy, scale and rollback change. Every check fails closed: a
// field it does not know how to judge is refused, not passed.

/** What the checks need to know of the world (the filter asks Docker, with its own calls). */
export interface CheckContext {
  /** The compose project or stack the bot drives: pool services are `<project>_app_blue|green`. */
  project: string;
  /**
   * Which labels name a container: compose's (Compose writes them over any an image carries, and the
   * bot writes them on every container it creates) or Swarm's (the engine writes them on each task).
   * Never the other kind: an image built by compose carries compose's labels, and a task of such an
   * image shows them under Swarm (the stack's own nginx image does).
   */
  mode: FilterMode;
  /** The chaos helper's image (CHAOS_NET_IMAGE): the only container that may get NET_ADMIN. */
  chaosNetImage: string;
  /** A container's labels, or undefined when it does not exist. */
  containerLabels(id: string): Promise<Readonly<Record<string, string>> | undefined>;
  /** A network's labels and the ids of the containers on it, or undefined when it does not exist. */
  network(id: string): Promise<{ labels: Readonly<Record<string, string>>; containers: readonly string[] } | undefined>;
  /** A service's current spec and name, or undefined when it does not exist. */
  service(id: string): Promise<{ name: string; spec: Record<string, unknown> } | undefined>;
}

/** The commands the bot runs in nginx's container (nginx-control.ts), and nothing else. */
export const NGINX_COMMANDS: readonly (readonly string[])[] = [
  ['nginx', '-t'],
  ['bluegreen-nginx-members', 'apply'],
  ['bluegreen-nginx-members', 'reload'],
];

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const empty = (v: unknown) => v === undefined || v === null || v === '' || v === false || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);

/** The stack's service a container belongs to, by the labels of the filter's mode; undefined if none of ours. */
function serviceOf(labels: Readonly<Record<string, string>>, ctx: Pick<CheckContext, 'mode' | 'project'>): string | undefined {
  if (ctx.mode === 'compose') return labels['com.docker.compose.project'] === ctx.project ? labels['com.docker.compose.service'] : undefined;
  const name = labels['com.docker.swarm.service.name'];
  return name?.startsWith(`${ctx.project}_`) ? name.slice(ctx.project.length + 1) : undefined;
}

const POOL_SERVICES = new Set<string>(POOLS.map(poolService));
const isPool = (labels: Readonly<Record<string, string>>, ctx: CheckContext) => POOL_SERVICES.has(serviceOf(labels, ctx) ?? '');
const isNginx = (labels: Readonly<Record<string, string>>, ctx: CheckContext) => serviceOf(labels, ctx) === 'nginx';
/** The chaos helper (the filter lets it be created only with its image, this label, into a pool). */
const isHelper = (labels: Readonly<Record<string, string>>) => isPoolName(labels['com.bluegreen.chaos']);
/** What deploy and chaos may act on: a pool's containers, deploy's candidate (Compose), the chaos helpers. */
const isPoolOwned = (labels: Readonly<Record<string, string>>, ctx: CheckContext) =>
  isPool(labels, ctx) || isHelper(labels) || (ctx.mode === 'compose' && serviceOf(labels, ctx) === CANDIDATE_SERVICE);
/** Any container of the stack: nginx, the bot, the filter, the pools, the helpers. */
const isStack = (labels: Readonly<Record<string, string>>, ctx: CheckContext) =>
  isHelper(labels) || (ctx.mode === 'compose' ? serviceOf(labels, ctx) !== undefined : labels['com.docker.stack.namespace'] === ctx.project);

/**
 * Whether a call on container `id` may name it (rules.ts, `target`); undefined when it may, else why
 * not. A compromised bot cannot read the env of, stop, kill or remove anyone else's containers.
 */
export async function checkTarget(target: TargetCheck, ctx: CheckContext, id: string): Promise<string | undefined> {
  const labels = await ctx.containerLabels(id);
  if (!labels) return `no container ${JSON.stringify(id.slice(0, 64))}`;
  if (target === 'stack') return isStack(labels, ctx) ? undefined : `container ${JSON.stringify(id.slice(0, 64))} is not one of the stack's`;
  return isPoolOwned(labels, ctx) ? undefined : `container ${JSON.stringify(id.slice(0, 64))} is not a pool's container or a chaos helper`;
}

/** HostConfig fields a pool container may carry, and how each is judged ("any": as the pool's own). */
const HOST_CONFIG_FIELDS = new Set([
  'NetworkMode', 'PortBindings', 'RestartPolicy', 'AutoRemove', 'LogConfig', 'Init', 'ReadonlyRootfs', 'Memory', 'MemorySwap',
  'MemoryReservation', 'NanoCpus', 'CpuShares', 'CpuQuota', 'CpuPeriod', 'PidsLimit', 'Ulimits', 'ShmSize', 'Tmpfs', 'ExtraHosts',
  'Dns', 'DnsOptions', 'DnsSearch', 'GroupAdd', 'OomScoreAdj', 'StopTimeout', 'ConsoleSize', 'PublishAllPorts', 'Links',
  'CgroupParent', 'KernelMemory', 'KernelMemoryTCP', 'MemorySwappiness', 'OomKillDisable', 'BlkioWeight', 'CpusetCpus', 'CpusetMems',
  'CpuCount', 'CpuPercent', 'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'IOMaximumBandwidth', 'IOMaximumIOps', 'Isolation',
  // Judged below: only empty, Docker's defaults, or the helper's exact shape. MaskedPaths and
  // ReadonlyPaths are not here at all: setting them can only unmask /proc (the bot lets Docker choose).
  'IpcMode', 'Privileged', 'Binds', 'Mounts', 'VolumesFrom', 'VolumeDriver', 'CapAdd', 'CapDrop', 'Capabilities', 'Devices', 'DeviceRequests',
  'DeviceCgroupRules', 'PidMode', 'IpcMode', 'UTSMode', 'UsernsMode', 'CgroupnsMode', 'Cgroup', 'SecurityOpt', 'Sysctls', 'Runtime',
  'BlkioWeightDevice', 'BlkioDeviceReadBps', 'BlkioDeviceWriteBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps', 'ContainerIDFile',
]);
const MUST_BE_EMPTY = ['Privileged', 'Binds', 'Mounts', 'VolumesFrom', 'VolumeDriver', 'Capabilities', 'Devices', 'DeviceRequests', 'DeviceCgroupRules', 'PidMode', 'UTSMode', 'UsernsMode', 'Cgroup', 'Sysctls', 'ContainerIDFile', 'BlkioWeightDevice', 'BlkioDeviceReadBps', 'BlkioDeviceWriteBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps'];

/**
 * The fields of a create body, spelled exactly: Docker's JSON decoder matches keys without regard to
 * case, so `hostconfig` would reach it as HostConfig while a check read only `HostConfig`.
 */
const CREATE_FIELDS = new Set([
  'Hostname', 'Domainname', 'User', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'ExposedPorts', 'Tty', 'OpenStdin', 'StdinOnce', 'Env',
  'Cmd', 'Healthcheck', 'ArgsEscaped', 'Image', 'Volumes', 'WorkingDir', 'Entrypoint', 'NetworkDisabled', 'MacAddress', 'OnBuild', 'Labels',
  'StopSignal', 'StopTimeout', 'Shell', 'HostConfig', 'NetworkingConfig',
  // dockerode sends createContainer's `name` in the body too (the query's is the one Docker reads).
  'name',
]);

async function containerCreate(body: Json, ctx: CheckContext): Promise<string | undefined> {
  for (const key of Object.keys(body)) if (!CREATE_FIELDS.has(key)) return `${key} is not a field of a container create (fields are matched exactly)`;
  const host = body.HostConfig ?? {};
  if (!isObject(host)) return 'HostConfig must be an object';
  for (const key of Object.keys(host)) if (!HOST_CONFIG_FIELDS.has(key)) return `HostConfig.${key} is not a field a pool container carries`;
  for (const key of MUST_BE_EMPTY) if (!empty(host[key])) return `HostConfig.${key} is not allowed (${JSON.stringify(host[key]).slice(0, 80)})`;
  if (!empty(body.Volumes)) return 'Volumes is not allowed';
  // Docker's own defaults, as an inspect of a pool container shows them: nothing shared with the host.
  if (!empty(host.IpcMode) && !['private', 'shareable', 'none'].includes(String(host.IpcMode))) return `HostConfig.IpcMode ${JSON.stringify(host.IpcMode)} is not allowed`;
  // host is Docker's default on cgroup v1 hosts: the container still sees only its own cgroup's files.
  if (!empty(host.CgroupnsMode) && !['private', 'host'].includes(String(host.CgroupnsMode))) return `HostConfig.CgroupnsMode ${JSON.stringify(host.CgroupnsMode)} is not allowed`;
  if (!empty(host.Runtime) && host.Runtime !== 'runc') return `HostConfig.Runtime ${JSON.stringify(host.Runtime)} is not allowed`;
  for (const [, binding] of Object.entries(isObject(host.PortBindings) ? host.PortBindings : {})) {
    for (const b of Array.isArray(binding) ? binding : []) {
      const ip = isObject(b) ? b.HostIp : undefined;
      if (ip !== '127.0.0.1' && ip !== '::1') return `HostConfig.PortBindings: a host port on ${JSON.stringify(ip ?? '')}: only 127.0.0.1 or ::1`;
    }
  }
  const mode = typeof host.NetworkMode === 'string' ? host.NetworkMode : '';
  const helper = mode.startsWith('container:');
  if (mode === 'host') return 'HostConfig.NetworkMode host is not allowed';
  const labels = isObject(body.Labels) ? (body.Labels as Record<string, unknown>) : {};
  const capAdd = Array.isArray(host.CapAdd) ? host.CapAdd : [];
  const sec = Array.isArray(host.SecurityOpt) ? host.SecurityOpt : [];
  if (!helper) {
    // A pool container (or deploy's candidate) names itself, over any label its image carries.
    if (ctx.mode === 'swarm') return 'under Swarm the bot creates no container but the chaos helper';
    const service = labels['com.docker.compose.service'];
    if (labels['com.docker.compose.project'] !== ctx.project) return `a new container must be labelled com.docker.compose.project=${ctx.project}`;
    if (typeof service !== 'string' || !(POOL_SERVICES.has(service) || service === CANDIDATE_SERVICE)) return `a new container must be labelled as a pool's (app_blue, app_green or ${CANDIDATE_SERVICE}), not ${JSON.stringify(service ?? null)}`;
    if (!empty(host.CapAdd)) return `HostConfig.CapAdd is not allowed (${JSON.stringify(host.CapAdd).slice(0, 80)})`;
    if (sec.some((o) => !/^no-new-privileges(:true)?$/.test(String(o)))) return `HostConfig.SecurityOpt ${JSON.stringify(sec).slice(0, 80)} is not allowed`;
    return undefined;
  }
  // The chaos helper: its image, into a pool's network namespace, NET_ADMIN and nothing else.
  for (const key of Object.keys(labels)) if (key.startsWith('com.docker.')) return `the chaos helper carries no ${key} label`;
  if (body.Image !== ctx.chaosNetImage) return `only the chaos helper (${ctx.chaosNetImage}) may join another container's network namespace`;
  if (JSON.stringify(capAdd) !== '["NET_ADMIN"]' || JSON.stringify(host.CapDrop) !== '["ALL"]') return 'the chaos helper gets NET_ADMIN only, with every other capability dropped';
  if (JSON.stringify(sec) !== '["no-new-privileges"]') return 'the chaos helper runs with no-new-privileges and no other security option';
  if (!empty(host.PortBindings)) return 'the chaos helper publishes no port';
  const target = await ctx.containerLabels(mode.slice('container:'.length));
  if (!target || !isPool(target, ctx)) return `the chaos helper may only join a pool container's network namespace, not ${JSON.stringify(mode.slice(10, 40))}`;
  return undefined;
}

async function execCreate(body: Json, ctx: CheckContext, params: readonly string[]): Promise<string | undefined> {
  const cmd = body.Cmd;
  if (!Array.isArray(cmd) || !NGINX_COMMANDS.some((c) => c.length === cmd.length && c.every((w, i) => w === cmd[i]))) {
    return `exec ${JSON.stringify(cmd).slice(0, 100)} is not one of the bot's nginx commands`;
  }
  for (const key of Object.keys(body)) {
    if (!['Cmd', 'AttachStdout', 'AttachStderr', 'AttachStdin', 'Tty', 'Privileged', 'User', 'Env', 'WorkingDir', 'DetachKeys', 'ConsoleSize'].includes(key)) return `exec field ${key} is not allowed`;
  }
  if (body.Privileged === true || body.AttachStdin === true || !empty(body.User) || !empty(body.Env) || !empty(body.WorkingDir)) return 'exec runs as the container runs it: no Privileged, User, Env, WorkingDir or stdin';
  const labels = await ctx.containerLabels(params[0]!);
  if (!labels || !isNginx(labels, ctx)) return `exec only in the stack's nginx container, not ${JSON.stringify(params[0]!.slice(0, 40))}`;
  return undefined;
}

function execStart(body: Json): string | undefined {
  // hijack and stdin are dockerode's own options, sent along in the body; Docker ignores them (the
  // exec was created without stdin, so none can be written).
  for (const key of Object.keys(body)) if (!['Detach', 'Tty', 'ConsoleSize', 'hijack', 'stdin'].includes(key)) return `exec start field ${key} is not allowed`;
  return body.Tty === true ? 'exec start with a TTY is not allowed' : undefined;
}

/**
 * Deploy attaches a pool's new container to the networks of the old one, and moves its aliases: the
 * container must be a pool's (or the candidate), the network one a pool container is already on (or
 * the stack's own), so no container of someone else joins the stack's networks and no pool joins
 * someone else's.
 */
async function networkConnect(body: Json, ctx: CheckContext, params: readonly string[]): Promise<string | undefined> {
  for (const key of Object.keys(body)) if (!['Container', 'EndpointConfig', 'Force'].includes(key)) return `network field ${key} is not allowed`;
  const ep = body.EndpointConfig;
  if (ep !== undefined && ep !== null) {
    if (!isObject(ep)) return 'EndpointConfig must be an object';
    for (const key of Object.keys(ep)) if (key !== 'Aliases') return `EndpointConfig.${key} is not allowed (the bot sets aliases only)`;
  }
  if (typeof body.Container !== 'string') return 'Container must name a container';
  const why = await checkTarget('pool', ctx, body.Container);
  if (why) return why;
  const net = await ctx.network(params[0]!);
  if (!net) return `no network ${JSON.stringify(params[0]!.slice(0, 64))}`;
  if (net.labels['com.docker.compose.project'] === ctx.project) return undefined;
  for (const id of net.containers) {
    const labels = await ctx.containerLabels(id);
    if (labels && isPool(labels, ctx)) return undefined;
  }
  return `network ${JSON.stringify(params[0]!.slice(0, 64))} is neither the stack's nor one a pool is on`;
}

/** Paths of a service spec that deploy, scale and rollback change (swarm-control.ts). */
const SERVICE_CHANGES = [/^TaskTemplate\.ContainerSpec\.Image$/, /^TaskTemplate\.ContainerSpec\.Env(\.\d+)?$/, /^Mode\.Replicated\.Replicas$/, /^TaskTemplate\.ForceUpdate$/, /^TaskTemplate\.Placement\.Preferences(\..*)?$/];

function differences(a: unknown, b: unknown, at: string, out: string[]): void {
  if (out.length > 20) return;
  if (isObject(a) && isObject(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) differences(a[key], b[key], at ? `${at}.${key}` : key, out);
  } else if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((x, i) => differences(x, b[i], `${at}.${i}`, out));
  } else if (JSON.stringify(a) !== JSON.stringify(b)) out.push(at);
}

async function serviceUpdate(body: Json, ctx: CheckContext, params: readonly string[], query: URLSearchParams): Promise<string | undefined> {
  const svc = await ctx.service(params[0]!);
  if (!svc || (svc.name !== `${ctx.project}_app_blue` && svc.name !== `${ctx.project}_app_green`)) return `only the pool services may be updated, not ${JSON.stringify(params[0]!.slice(0, 60))}`;
  // A rollback sends the current spec back and asks for the previous one: the bot's own update.
  const changed: string[] = [];
  differences(svc.spec, body, '', changed);
  const odd = changed.filter((p) => !SERVICE_CHANGES.some((re) => re.test(p)));
  if (odd.length > 0) return `a pool service update may change its image, env, replicas and placement preferences only, not ${odd.slice(0, 3).join(', ')}`;
  if (query.has('rollback') && query.get('rollback') !== 'previous') return 'rollback=previous only';
  return undefined;
}

/**
 * A call that takes no body: none, or (dockerode sends its options twice) a JSON object holding
 * only what the query also carries, which Docker ignores.
 */
function noBody(raw: Buffer, query: URLSearchParams): string | undefined {
  const text = raw.toString('utf8').trim();
  if (text === '') return undefined;
  try {
    const body: unknown = JSON.parse(text);
    if (isObject(body) && Object.keys(body).every((k) => query.has(k))) return undefined;
  } catch {
    // Not JSON: refused below.
  }
  return 'this call takes no body';
}

/**
 * Checks a request body against the rule's check; undefined when it passes, else why not. `raw` is
 * the body as received (JSON expected for every checked call).
 */
export async function checkBody(check: BodyCheck, raw: Buffer, ctx: CheckContext, params: readonly string[], query: URLSearchParams): Promise<string | undefined> {
  if (check === 'none') return noBody(raw, query);
  let body: unknown;
  try {
    body = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
  } catch {
    return 'the body is not JSON';
  }
  if (!isObject(body)) return 'the body must be a JSON object';
  switch (check) {
    case 'containerCreate':
      return containerCreate(body, ctx);
    case 'execCreate':
      return execCreate(body, ctx, params);
    case 'execStart':
      return execStart(body);
    case 'networkConnect':
      return networkConnect(body, ctx, params);
    case 'serviceUpdate':
      return serviceUpdate(body, ctx, params, query);
  }
}
