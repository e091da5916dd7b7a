import { z } from 'zod';

// The only reader of process.env (shared/STYLE.md). Coercion and defaults live here and nowhere
// else; every key carries .describe() so README's env table can be checked against the schema.

const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], {
      error: 'a boolean (true|false|1|0|yes|no|on|off)',
    })
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes' || v === 'on');

const num = (def: number, opts: { min?: number; max?: number; int?: boolean } = {}) => {
  let n = z.coerce.number({ error: 'a number' });
  if (opts.int) n = n.int({ error: 'a whole number' });
  if (opts.min !== undefined) n = n.min(opts.min, { error: `a number >= ${opts.min}` });
  if (opts.max !== undefined) n = n.max(opts.max, { error: `a number <= ${opts.max}` });
  return n.default(def);
};

const csv = () =>
  z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    );

const optionalString = () =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/** Defaults of the duration settings as a user writes them (the schema holds milliseconds). */
const DURATION_DEFAULTS = { MAINTENANCE_DEFAULT: '1h', CHAOS_DEFAULT_DURATION: '5m', CHAOS_MAX_DURATION: '30m' } as const;

const pool = z.enum(['blue', 'green'], { error: 'blue or green' });

/**
 * HTTP statuses that count as healthy, as a user writes them: "2xx", "200", "200-399", or a
 * comma-separated list of those. Undefined when the text is none of them.
 */
export function parseStatusSet(text: string): ((status: number) => boolean) | undefined {
  const ranges: [number, number][] = [];
  for (const part of text.split(',').map((p) => p.trim().toLowerCase())) {
    const m = /^([1-5])xx$|^([1-5]\d\d)(?:-([1-5]\d\d))?$/.exec(part);
    if (!m) return undefined;
    if (m[1]) ranges.push([Number(m[1]) * 100, Number(m[1]) * 100 + 99]);
    else {
      const lo = Number(m[2]);
      const hi = m[3] ? Number(m[3]) : lo;
      if (hi < lo) return undefined;
      ranges.push([lo, hi]);
    }
  }
  return (status) => ranges.some(([lo, hi]) => status >= lo && status <= hi);
}

/** Durations like "90s", "30m", "1h", "1h30m" or plain seconds, to milliseconds. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const re = /(\d+)(ms|s|m|h|d)/g;
  let total = 0;
  let consumed = 0;
  for (const m of t.matchAll(re)) {
    const value = Number(m[1]);
    const unit = m[2];
    const factor = unit === 'ms' ? 1 : unit === 's' ? 1e3 : unit === 'm' ? 6e4 : unit === 'h' ? 3.6e6 : 8.64e7;
    total += value * factor;
    consumed += m[0].length;
  }
  return consumed === t.length && consumed > 0 ? total : undefined;
}

const duration = (def: string) =>
  z
    .string()
    .default(def)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: 'a duration such as 30s, 5m, 1h' });
        return z.NEVER;
      }
      return ms;
    });

export const configSchema = z.object({
  // Pools and traffic
  ACTIVE_POOL: pool.default('blue').describe('Pool that is primary when no switch has been recorded yet'),
  RELEASE_ID_BLUE: optionalString().describe('Release id given to the blue pool'),
  RELEASE_ID_GREEN: optionalString().describe('Release id given to the green pool'),
  APP_PORT: num(3000, { int: true, min: 1, max: 65535 }).describe('Port the pools listen on inside the compose network'),
  ADMIN_PORT: num(3001, { int: true, min: 1, max: 65535 }).describe(
    "Port of the pools' admin listener (chaos) inside the compose network; nginx never proxies to it",
  ),
  ENV_NAME: optionalString().describe('Environment name shown in alerts and status [the compose project, else the host name]'),

  // Watcher and alerts
  ACCESS_LOG_PATH: z
    .string()
    .default('/var/log/bluegreen/access.json.log')
    .describe("nginx's JSON access log, on the volume shared with nginx"),
  ERROR_RATE_THRESHOLD: num(2, { min: 0, max: 100 }).describe('Percent of 5xx over the window that raises an alert'),
  ERROR_RATE_CLEAR_THRESHOLD: num(1, { min: 0, max: 100 }).describe(
    'Percent of 5xx under which an error-rate alert is resolved (hysteresis)',
  ),
  WINDOW_SIZE: num(200, { int: true, min: 10, max: 1_000_000 }).describe('Requests in the sliding window'),
  WINDOW_SEC: num(60, { min: 1 }).describe('Oldest request age kept in the window, seconds'),
  ALERT_MIN_REQUESTS: num(50, { int: true, min: 1 }).describe('Requests the window needs before rates are judged'),
  FAILOVER_MIN_REQUESTS: num(5, { int: true, min: 1 }).describe(
    'Requests served by the backup within FAILOVER_WINDOW_SEC before a failover alert (one retried request does not page)',
  ),
  FAILOVER_MIN_SHARE_PCT: num(20, { min: 0, max: 100 }).describe('… and their least share of the requests served then, percent'),
  FAILOVER_WINDOW_SEC: num(10, { int: true, min: 1, max: 3600 }).describe('Span of log time over which the backup share is judged, seconds'),
  LATENCY_P95_THRESHOLD_MS: num(1000, { min: 1 }).describe('p95 request time over the window that raises a latency alert'),
  ALERT_COOLDOWN_SEC: num(300, { min: 0 }).describe('Least time between two alerts of one kind'),
  MAINTENANCE_MODE: bool(false).describe('true: the first start (no maintenance ever recorded) begins maintenance for MAINTENANCE_DEFAULT; afterwards commands own it'),

  // Deploy control
  COMPOSE_PROJECT_NAME: optionalString().describe("Compose project to drive [from the bot's own container labels]"),
  DEPLOY_MODE: z
    .enum(['auto', 'compose', 'swarm'], { error: 'auto, compose or swarm' })
    .default('auto')
    .describe("compose: the pools are containers; swarm: services of a Docker Swarm stack; auto: swarm when STACK_NAME is set or the bot's own container belongs to a stack"),
  STACK_NAME: optionalString().describe("Swarm mode: the stack to drive [from the bot's own container labels]"),
  SWARM_SYNC_MS: num(1000, { int: true, min: 100 }).describe("Swarm mode: how often the bot reads the swarm's tasks, nodes and updates (nginx members, cluster alerts)"),
  CLUSTER_ALERT_GRACE_SEC: num(15, { min: 0 }).describe('Swarm mode: how long a pool may run fewer tasks than desired before an alert (a node down alerts at once)'),
  DOCKER_SOCKET: z.string().default('/var/run/docker.sock').describe('Docker engine socket'),
  DOCKER_HOST: optionalString()
    .pipe(z.string().regex(/^(tcp:\/\/[A-Za-z0-9.-]+(:\d{1,5})?|unix:\/\/\/\S+)$/, { error: 'tcp://host:port or unix:///path' }).optional())
    .describe('Docker endpoint when not the socket: tcp://docker-filter:2375 (the Docker API filter) or unix:///path [DOCKER_SOCKET]'),
  DOCKER_TIMEOUT_MS: num(10_000, { int: true, min: 100 }).describe('Timeout of every Docker API call'),
  NGINX_STATE_DIR: z
    .string()
    .default('/var/lib/bluegreen/nginx')
    .describe("Folder shared with nginx that holds the active-pool flag file"),
  STATE_DIR: z.string().default('/var/lib/bluegreen/state').describe("Bot state: switches, maintenance, audit log, log offset"),
  AUDIT_MAX_BYTES: num(10 * 1024 * 1024, { int: true, min: 4096 }).describe(
    'Size in bytes past which STATE_DIR/audit.jsonl is renamed audit.jsonl.1 (older ones shifted to .2 …) and a new one begun',
  ),
  AUDIT_KEEP_FILES: num(3, { int: true, min: 1, max: 100 }).describe('Rotated audit logs kept (audit.jsonl.1 … .N); the oldest beyond them is deleted'),
  AUDIT_REFUSALS_PER_MIN: num(5, { int: true, min: 1 }).describe(
    'Refusals of one user (or CLI user, or bot timer) written to the audit log and posted one by one per minute; past it they are counted, and one line says how many when the minute ends',
  ),
  AUTO_FAILOVER: bool(true).describe('Make the backup primary when the active pool fails its health checks'),
  HEALTH_CHECK_INTERVAL_MS: num(1000, { int: true, min: 100 }).describe('How often the bot checks both pools'),
  AUTO_FAILOVER_AFTER: num(2, { int: true, min: 1 }).describe('Failed checks in a row that demote the active pool'),
  POOL_MIN_HEALTHY_PERCENT: num(50, { min: 0, max: 100 }).describe(
    "A pool is healthy when at least one of its tasks, and at least this percent of the tasks it should have, pass their health check (Swarm mode; a Compose pool is its one container)",
  ),
  AUTO_ROLLBACK: bool(false).describe('Switch back by itself when the post-switch guard trips'),
  POST_SWITCH_GUARD_SEC: num(120, { min: 0 }).describe('How long after a switch the new pool is watched'),
  MAINTENANCE_DEFAULT: duration(DURATION_DEFAULTS.MAINTENANCE_DEFAULT).describe('Length of maintenance when no duration is given'),
  CHAOS_DEFAULT_DURATION: duration(DURATION_DEFAULTS.CHAOS_DEFAULT_DURATION).describe('How long a chaos fault lasts when `chaos start` gives no `for`; the bot undoes it then'),
  CHAOS_MAX_DURATION: duration(DURATION_DEFAULTS.CHAOS_MAX_DURATION).describe('Longest chaos fault `chaos start … for` may ask for'),
  CHAOS_NET_IMAGE: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._\-/:@]*$/i, { error: 'an image reference such as bluegreen-chaos-net:local' })
    .default('bluegreen-chaos-net:local')
    .describe('Image of the network-fault helper for `chaos start <pool> loss|delay` (scripts/build-base-images.sh chaos-net builds it)'),
  NGINX_URL: z.url({ error: 'a URL' }).default('http://nginx:80').describe('nginx as the bot reaches it, to verify switches'),
  POOL_URL_BLUE: optionalString()
    .pipe(z.url({ error: 'a URL' }).optional())
    .describe('Blue pool base URL for health [http://app_blue:APP_PORT]'),
  POOL_URL_GREEN: optionalString()
    .pipe(z.url({ error: 'a URL' }).optional())
    .describe('Green pool base URL for health [http://app_green:APP_PORT]'),
  POOL_ADMIN_URL_BLUE: optionalString()
    .pipe(z.url({ error: 'a URL' }).optional())
    .describe("Blue pool's admin base URL for chaos [http://app_blue:ADMIN_PORT]"),
  POOL_ADMIN_URL_GREEN: optionalString()
    .pipe(z.url({ error: 'a URL' }).optional())
    .describe("Green pool's admin base URL for chaos [http://app_green:ADMIN_PORT]"),
  ADMIN_TOKEN: optionalString()
    .pipe(z.string().regex(/^[\x21-\x7e]+$/, { error: 'printable ASCII with no spaces (it is sent in an HTTP header)' }).optional())
    .describe(
      "Secret the bot sends in X-Bluegreen-Admin-Token on every call to the pools' admin listener; the demo app refuses chaos without it. The same value for the pools and the bot: scripts/stack.sh writes a random one into .env when none is set",
    ),
  HEALTH_CHECK_TIMEOUT_MS: num(500, { int: true, min: 50 }).describe('Deadline of one pool health probe'),
  APP_HEALTH_PATH: z
    .string()
    .default('/healthz')
    .refine((v) => /^\/[\x21-\x7e]*$/.test(v), { error: 'a path starting with / (printable, no spaces)' })
    .describe("Path the bot probes on every pool target at APP_PORT (your app's health check)"),
  APP_HEALTH_STATUS: z
    .string()
    .default('2xx')
    .refine((v) => parseStatusSet(v) !== undefined, { error: 'statuses such as 2xx, 200, 200-399, or a comma-separated list' })
    .describe('HTTP statuses of APP_HEALTH_PATH that count as healthy'),
  APP_HEALTH_HOST: optionalString()
    .pipe(z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, { error: 'a host name, optionally with :port' }).optional())
    .describe("Host header the health probe sends [the target's address]: for an app that checks its Host"),
  SWITCH_VERIFY_TIMEOUT_MS: num(3000, { int: true, min: 100 }).describe('How long a switch waits to see nginx serve the target'),
  DEPLOY_HEALTH_TIMEOUT_MS: num(60_000, { int: true, min: 1000 }).describe('How long deploy waits for the new container to be healthy'),
  LOCK_WAIT_MS: num(30_000, { int: true, min: 0 }).describe('How long an operation waits for another to finish'),

  // Slack
  SLACK_BOT_TOKEN: optionalString().describe('Slack bot token (xoxb-...)'),
  SLACK_SIGNING_SECRET: optionalString().describe('Slack signing secret (HTTP mode)'),
  SLACK_APP_TOKEN: optionalString().describe('App-level token (xapp-...): when set, Socket Mode'),
  SLACK_ALERT_CHANNEL: optionalString().describe('Channel id for alerts and the audit trail'),
  SLACK_API_URL: z.url({ error: 'a URL' }).default('https://slack.com/api/').describe('Web API base URL (GovSlack, tests)'),
  SLACK_WEBHOOK_URL: optionalString()
    .pipe(z.url({ error: 'a URL' }).optional())
    .describe('Incoming webhook: alerts only, used when no bot token is set'),
  SLACK_ADMIN_USERS: csv().describe('Comma-separated user ids who may change things'),
  SLACK_ADMIN_GROUP: optionalString().describe('User group id whose members may change things'),
  SLACK_ALLOWED_CHANNELS: csv().describe('Comma-separated channel ids commands are taken from [all]'),
  RUNBOOK_URL: optionalString().describe('Base URL of runbook.md that alerts link to [the section name only]'),
  OUTBOX_MAX: num(1000, { int: true, min: 10 }).describe(
    'Most messages waiting for Slack (or the webhook) while it is unreachable or slow; past it the oldest audit lines, then the oldest alerts, are dropped, and once delivery resumes a message says how many',
  ),

  // Process
  BOT_HOST: z.string().default('0.0.0.0').describe('Address the bot HTTP server binds'),
  BOT_PORT: num(3000, { int: true, min: 0, max: 65535 }).describe('Bot HTTP port: /slack/events, /healthz'),
  // A listener of its own, so what the bot knows (pool figures, alert counts) is not served to
  // whoever reaches the public port or the Docker network; 0.0.0.0 is an operator's choice.
  METRICS_HOST: z.string().default('127.0.0.1').describe('Address the metrics listener binds (/metrics, /pool-stats): loopback only unless set'),
  METRICS_PORT: num(9464, { int: true, min: 0, max: 65535 }).describe('Metrics listener port: /metrics (Prometheus), /pool-stats (the CLI)'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'one of fatal|error|warn|info|debug|trace|silent',
    })
    .default('info')
    .describe('pino level'),
});

export type Config = Readonly<z.output<typeof configSchema>>;
export type ConfigKey = keyof typeof configSchema.shape;

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const SECRET_KEYS = new Set(['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_APP_TOKEN', 'SLACK_WEBHOOK_URL', 'ADMIN_TOKEN']);

/** The schema's variables that `env` sets. Compose passes unset variables as empty strings: those count as unset, so defaults apply. */
function setValues(shape: object, env: Record<string, string | undefined>): Record<string, string> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') input[key] = v;
  }
  return input;
}

/** Parse every variable at once; a bad value names the variable, what it got and what it wants. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input = setValues(configSchema.shape, env);
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '?');
      const got = SECRET_KEYS.has(key) ? '[redacted]' : JSON.stringify(input[key]);
      return `${key}: got ${got}, wants ${issue.message}`;
    });
    throw new ConfigError(problems);
  }
  const cfg = parsed.data;
  const problems: string[] = [];
  if (cfg.ERROR_RATE_CLEAR_THRESHOLD > cfg.ERROR_RATE_THRESHOLD) {
    problems.push(
      `ERROR_RATE_CLEAR_THRESHOLD: got ${cfg.ERROR_RATE_CLEAR_THRESHOLD}, wants a number <= ERROR_RATE_THRESHOLD (${cfg.ERROR_RATE_THRESHOLD})`,
    );
  }
  if (cfg.SLACK_BOT_TOKEN && !cfg.SLACK_APP_TOKEN && !cfg.SLACK_SIGNING_SECRET) {
    problems.push('SLACK_SIGNING_SECRET: got nothing, wants the signing secret (needed in HTTP mode, when SLACK_APP_TOKEN is unset)');
  }
  if (cfg.METRICS_PORT !== 0 && cfg.METRICS_PORT === cfg.BOT_PORT) {
    problems.push(`METRICS_PORT: got ${cfg.METRICS_PORT}, wants a port other than BOT_PORT (${cfg.BOT_PORT}): the two listeners are apart`);
  }
  if (cfg.SLACK_APP_TOKEN && !cfg.SLACK_BOT_TOKEN) {
    problems.push('SLACK_BOT_TOKEN: got nothing, wants the bot token (SLACK_APP_TOKEN is set, so Socket Mode needs it)');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(cfg);
}

/** Names, defaults (as a user writes them) and meanings, for docs and the README check. */
export function describeConfig(): { name: ConfigKey; default: string | undefined; description: string }[] {
  return (Object.keys(configSchema.shape) as ConfigKey[]).map((name) => {
    const field = configSchema.shape[name];
    const probe = field.safeParse(undefined);
    const value = probe.success ? probe.data : undefined;
    let def: string | undefined;
    if (name in DURATION_DEFAULTS) def = DURATION_DEFAULTS[name as keyof typeof DURATION_DEFAULTS];
    else if (value === undefined || (Array.isArray(value) && value.length === 0)) def = undefined;
    else def = String(value);
    return { name, default: def, description: field.description ?? '' };
  });
}

/**
 * A URL of the metrics listener for a process beside the bot (the CLI in its container, the drill):
 * 127.0.0.1 when it listens on every address.
 */
export function metricsUrl(cfg: Pick<Config, 'METRICS_HOST' | 'METRICS_PORT'>, path: '/metrics' | '/pool-stats'): string {
  const host = cfg.METRICS_HOST === '0.0.0.0' || cfg.METRICS_HOST === '::' ? '127.0.0.1' : cfg.METRICS_HOST;
  return `http://${host.includes(':') ? `[${host}]` : host}:${cfg.METRICS_PORT}${path}`;
}

export function slackMode(cfg: Config): 'socket' | 'http' | 'webhook' | 'none' {
  if (cfg.SLACK_BOT_TOKEN && cfg.SLACK_APP_TOKEN) return 'socket';
  if (cfg.SLACK_BOT_TOKEN) return 'http';
  if (cfg.SLACK_WEBHOOK_URL) return 'webhook';
  return 'none';
}

/** The Docker API filter's settings (src/docker-filter/main.ts): its own process, its own env. */
const filterSchema = z.object({
  FILTER_PORT: num(2375, { int: true, min: 1, max: 65535 }),
  DOCKER_SOCKET: z.string().default('/var/run/docker.sock'),
  FILTER_PROJECT: optionalString(),
  FILTER_MODE: z.enum(['compose', 'swarm'], { error: 'compose or swarm' }).optional(),
  CHAOS_NET_IMAGE: z.string().default('bluegreen-chaos-net:local'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'], { error: 'a pino level' }).default('info'),
});
export type FilterConfig = z.infer<typeof filterSchema>;

export function loadFilterConfig(env: Record<string, string | undefined> = process.env): FilterConfig {
  const input = setValues(filterSchema.shape, env);
  const parsed = filterSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${String(i.path[0] ?? '?')}: got ${JSON.stringify(input[String(i.path[0])])}, wants ${i.message}`));
  return parsed.data;
}
