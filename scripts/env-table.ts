// `npm run docs:env`: prints README's two environment tables, generated from the zod schema
// (describeConfig) and from the list below of variables only Compose and scripts/stack.sh read.
// `npm run docs:env -- --write` rewrites them in README.md between their markers.
// test/unit/docs/readme.test.ts fails when README and this output differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describeConfig } from '../src/config.js';

export interface EnvRow {
  name: string;
  default: string | undefined;
  meaning: string;
  /** How docker-compose.yml hands it to the bot container (bot table only). */
  compose?: string;
}

const ROOT = new URL('../', import.meta.url);

/**
 * The bot service's `environment:` in docker-compose.yml, e.g.
 *   ERROR_RATE_THRESHOLD: ${ERROR_RATE_THRESHOLD:-}          -> taken from .env / the shell
 *   ACCESS_LOG_PATH: /var/log/bluegreen/access.json.log     -> fixed by the compose file
 */
export function composeBotEnvironment(text = readFileSync(new URL('docker-compose.yml', ROOT), 'utf8')): Record<string, string> {
  const doc = parse(text) as { services?: { bot?: { environment?: Record<string, string> } } };
  return doc.services?.bot?.environment ?? {};
}

function composeCell(name: string, env: Record<string, string>): string {
  const v = env[name];
  if (v === undefined) return 'not passed';
  if (new RegExp(`^\\$\\{${name}(:?-[^}]*)?\\}$`).test(v)) return 'from .env';
  return `fixed: \`${v}\``;
}

/** Read by docker-compose.yml (and scripts/stack.sh), not by the bot. Defaults as in the compose file. */
export const COMPOSE_ONLY: readonly EnvRow[] = [
  { name: 'NGINX_PORT', default: '8080', meaning: 'Host port of public traffic through nginx' },
  { name: 'NGINX_BIND', default: '0.0.0.0', meaning: 'Host address nginx is published on (127.0.0.1 keeps it local)' },
  { name: 'BLUE_PORT', default: '8081', meaning: "Host port of app_blue's admin listener (ADMIN_PORT 3001: chaos for drills, /healthz), on 127.0.0.1 only" },
  { name: 'GREEN_PORT', default: '8082', meaning: "Host port of app_green's admin listener (ADMIN_PORT 3001), on 127.0.0.1 only" },
  { name: 'BOT_PORT', default: '3000', meaning: 'Also the host port of the bot, on 127.0.0.1 only (/healthz, /slack/events; not /metrics: see METRICS_HOST)' },
  { name: 'IMAGE_TAG', default: 'local', meaning: 'Tag of the images the stack builds (nginx, bot, and the demo app when a pool runs it); tests give each checkout its own' },
  { name: 'BLUE_IMAGE', default: 'bluegreen-demo-app:local', meaning: 'Image of app_blue, run as it is (never built or retagged); the demo app, built by stack:up, by default (its tag follows IMAGE_TAG)' },
  { name: 'GREEN_IMAGE', default: 'bluegreen-demo-app:local', meaning: 'Image of app_green, run as it is (never built or retagged); the demo app, built by stack:up, by default (its tag follows IMAGE_TAG)' },
  { name: 'NODE_IMAGE', default: 'node:20-bookworm-slim', meaning: 'Base image of the demo app and the bot' },
  { name: 'NGINX_IMAGE', default: 'nginx:1.27-alpine', meaning: 'Base image of nginx' },
  {
    name: 'BASE_IMAGES',
    default: 'auto',
    meaning: 'scripts/stack.sh: `auto` official images when present or pullable, else stand-ins; `official`; `local` (stand-ins built from the host)',
  },
  { name: 'MAX_FAILS', default: '1', meaning: 'nginx `max_fails`: failed attempts that mark a pool down for FAIL_TIMEOUT' },
  { name: 'FAIL_TIMEOUT', default: '5s', meaning: 'nginx `fail_timeout`: how long a failed pool is skipped' },
  { name: 'PROXY_CONNECT_TIMEOUT', default: '250ms', meaning: 'nginx `proxy_connect_timeout` to a pool: the address of a stopped container costs a request this long before the retry' },
  { name: 'PROXY_READ_TIMEOUT', default: '800ms', meaning: 'nginx `proxy_read_timeout`: a pool silent this long is retried on the other (raise it for slow endpoints)' },
  { name: 'PROXY_NEXT_UPSTREAM_TIMEOUT', default: '5s', meaning: 'nginx `proxy_next_upstream_timeout`: bound on one request over all its tries' },
  { name: 'MAINTENANCE_RETRY_AFTER', default: '300', meaning: 'Seconds in the `Retry-After` header of the maintenance page (`maintenance on --page`)' },
  {
    name: 'POOL_HEADER',
    default: 'on',
    meaning: "nginx adds `X-Bluegreen-Pool: blue|green` (the pool that answered) to public responses; `off` keeps it to the bot's own probes",
  },
  { name: 'DOCKER_SOCKET_HOST', default: '/var/run/docker.sock', meaning: 'Host path of the Docker socket mounted into docker-filter (the only container that has it)' },
  { name: 'DOCKER_GID', default: '0', meaning: "The Docker socket's group: docker-filter runs as uid 1000 in it. stack:up and swarm:up find it (stat -c %g) and save it to .env" },
  { name: 'COMPOSE_PROJECT_NAME', default: undefined, meaning: 'Compose project name [the folder name]; the bot finds it from its own labels' },
  { name: 'COMPOSE_FILE', default: undefined, meaning: 'Compose file(s) scripts/stack.sh and Compose use [docker-compose.yml]' },
  { name: 'STACK_WAIT_SEC', default: '120', meaning: 'scripts/stack.sh: how long `up` waits for nginx to answer' },
  { name: 'BLUEGREEN_COMPOSE', default: undefined, meaning: 'scripts/stack.sh and the tests: `v2` (`docker compose`) or `v1` (`docker-compose`) [v2 when installed, else v1]' },
  { name: 'BLUE_REPLICAS', default: '2', meaning: 'Swarm mode (`npm run swarm:up`): tasks of the blue pool at deploy' },
  { name: 'GREEN_REPLICAS', default: '2', meaning: 'Swarm mode: tasks of the green pool at deploy' },
  { name: 'EDGE_NODE', default: undefined, meaning: 'Swarm mode: the node (id or name) where nginx and the bot run, a manager [the node swarm:up runs on]' },
  { name: 'REGISTRY', default: undefined, meaning: 'Swarm mode: a registry every node can pull from (host:port); swarm:up pushes the built images there and deploys from it' },
  { name: 'SWARM_WAIT_SEC', default: '180', meaning: 'scripts/swarm.sh: how long `up` waits for every task and nginx, and `down` for the stack to go' },
];

const cell = (text: string) => text.replace(/\|/g, '\\|');
const def = (d: string | undefined) => (d === undefined || d === '' ? '—' : `\`${cell(d)}\``);

/** The bot's variables: one row per key of the zod schema, in schema order. */
export function botEnvRows(): EnvRow[] {
  const env = composeBotEnvironment();
  return describeConfig().map((d) => ({ name: d.name, default: d.default, meaning: d.description, compose: composeCell(d.name, env) }));
}

export function botEnvTable(): string {
  return [
    '| variable | default | meaning | in docker-compose.yml |',
    '| --- | --- | --- | --- |',
    ...botEnvRows().map((r) => `| \`${r.name}\` | ${def(r.default)} | ${cell(r.meaning)} | ${r.compose ?? ''} |`),
  ].join('\n');
}

export function composeEnvTable(): string {
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...COMPOSE_ONLY.map((r) => `| \`${r.name}\` | ${def(r.default)} | ${cell(r.meaning)} |`)].join('\n');
}

export const MARKERS = {
  bot: ['<!-- env:bot:start (npm run docs:env -- --write) -->', '<!-- env:bot:end -->'],
  compose: ['<!-- env:compose:start (npm run docs:env -- --write) -->', '<!-- env:compose:end -->'],
} as const;

/** The text between a pair of markers, trimmed; undefined when the markers are missing. */
export function between(text: string, [start, end]: readonly [string, string]): string | undefined {
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return undefined;
  return text.slice(a + start.length, b).trim();
}

function replaceBetween(text: string, [start, end]: readonly [string, string], body: string): string {
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`README.md has no ${start} … ${end} markers`);
  return `${text.slice(0, a + start.length)}\n${body}\n${text.slice(b)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--write')) {
    const path = new URL('../README.md', import.meta.url);
    let readme = readFileSync(path, 'utf8');
    readme = replaceBetween(readme, MARKERS.bot, botEnvTable());
    readme = replaceBetween(readme, MARKERS.compose, composeEnvTable());
    writeFileSync(path, readme);
    process.stdout.write('README.md: environment tables rewritten\n');
  } else {
    process.stdout.write(`## The bot (src/config.ts)\n\n${botEnvTable()}\n\n## Compose and scripts only\n\n${composeEnvTable()}\n`);
  }
}
