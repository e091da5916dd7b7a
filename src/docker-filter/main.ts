import { request } from 'node:http';
import { hostname } from 'node:os';
import { loadFilterConfig } from '../config.js';
import { createLogger } from '../log.js';
import type { CheckContext } from './body-checks.js';
import { createFilterServer } from './filter-server.js';
import type { FilterMode } from './rules.js';

// The Docker API filter's process (its own container, the only one with the Docker socket, no
// published port): `node dist/docker-filter/main.js`. Settings from env:
//   FILTER_PORT [2375]            where the bot reaches it (DOCKER_HOST=tcp://docker-filter:2375)
//   DOCKER_SOCKET [/var/run/docker.sock]
//   FILTER_PROJECT, FILTER_MODE   the compose project or stack and compose|swarm [from its own labels]
//   CHAOS_NET_IMAGE [bluegreen-chaos-net:local]  the one image that may get NET_ADMIN (chaos helper)

const config = loadFilterConfig();
const log = createLogger({ level: config.LOG_LEVEL }).child({ component: 'docker-filter' });
const upstream = config.DOCKER_SOCKET;

/** GET on Docker's socket: the parsed JSON, or undefined for 404. */
function dockerGet(path: string): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: upstream, path, method: 'GET', headers: { host: 'docker' }, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode === 404) return resolve(undefined);
        if (res.statusCode !== 200) return reject(new Error(`GET ${path}: HTTP ${res.statusCode}`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

const labelsOf = (c: Record<string, unknown> | undefined) => ((c?.Config as { Labels?: Record<string, string> } | undefined)?.Labels ?? undefined);

async function whoAmI(): Promise<{ project: string; mode: FilterMode }> {
  if (config.FILTER_PROJECT && config.FILTER_MODE) return { project: config.FILTER_PROJECT, mode: config.FILTER_MODE };
  const labels = labelsOf(await dockerGet(`/containers/${encodeURIComponent(hostname())}/json`)) ?? {};
  const stack = labels['com.docker.stack.namespace'];
  const project = labels['com.docker.compose.project'];
  if (stack) return { project: config.FILTER_PROJECT ?? stack, mode: 'swarm' };
  if (project) return { project: config.FILTER_PROJECT ?? project, mode: 'compose' };
  throw new Error('cannot tell the compose project or stack: set FILTER_PROJECT and FILTER_MODE (compose or swarm)');
}

async function main(): Promise<void> {
  const { project, mode } = await whoAmI();
  const checks: CheckContext = {
    project,
    mode,
    chaosNetImage: config.CHAOS_NET_IMAGE,
    containerLabels: async (id) => labelsOf(await dockerGet(`/containers/${encodeURIComponent(id)}/json`)),
    network: async (id) => {
      const net = await dockerGet(`/networks/${encodeURIComponent(id)}`);
      if (!net) return undefined;
      return { labels: (net.Labels as Record<string, string> | null) ?? {}, containers: Object.keys((net.Containers as Record<string, unknown> | null) ?? {}) };
    },
    service: async (id) => {
      const svc = await dockerGet(`/services/${encodeURIComponent(id)}`);
      const spec = svc?.Spec as Record<string, unknown> | undefined;
      return spec ? { name: String(spec.Name), spec } : undefined;
    },
  };
  const port = config.FILTER_PORT;
  const server = createFilterServer({ upstreamSocket: upstream, mode, checks, log });
  server.listen(port, '0.0.0.0', () => log.info({ port, project, mode, upstream }, `docker filter listening on :${port} for ${project} (${mode} mode)`));
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') {
    log.fatal({ err, socket: upstream, uid: process.getuid?.(), gids: process.getgroups?.() }, `docker filter cannot start: permission denied on ${upstream}; run it in the socket's group: DOCKER_GID=$(stat -c %g ${upstream}) (stack.sh and swarm.sh set it)`);
  } else {
    log.fatal({ err }, 'docker filter cannot start');
  }
  process.exit(78);
});
