// The Docker API calls the bot makes, and no other: the allowlist of the filter (issue #20). One
// row per call: method, path (`{id}` one name or id, `{image}` an image reference), the query keys
// it may carry, the modes it is needed in, and the check its body must pass (body-checks.ts).
// Anything not in this table is refused with 403, whatever the body: fail closed.

export type FilterMode = 'compose' | 'swarm';

export type BodyCheck = 'none' | 'containerCreate' | 'execCreate' | 'execStart' | 'networkConnect' | 'serviceUpdate';

/**
 * Which containers a call on `/containers/{id}/…` may name (body-checks.ts, checkTarget): any
 * container of the stack (nginx, the bot, the pools, the chaos helpers), or only a pool's (its
 * containers, deploy's candidate, a chaos helper). A compromised bot cannot read the env of, stop or
 * remove anyone else's containers on the host.
 */
export type TargetCheck = 'stack' | 'pool';

export interface Rule {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  query: readonly string[];
  modes: readonly FilterMode[];
  body: BodyCheck;
  /** For a call on one container: which containers it may name. */
  target?: TargetCheck;
  /** Why the bot makes it, in a few words (the README's table). */
  why: string;
}

const BOTH: readonly FilterMode[] = ['compose', 'swarm'];

export const RULES: readonly Rule[] = [
  { method: 'GET', path: '/_ping', query: [], modes: BOTH, body: 'none', why: 'is Docker there' },
  { method: 'GET', path: '/version', query: [], modes: BOTH, body: 'none', why: 'API version' },
  { method: 'GET', path: '/containers/json', query: ['all', 'filters', 'limit'], modes: BOTH, body: 'none', why: 'find the pools, nginx, itself (by labels)' },
  { method: 'GET', path: '/containers/{id}/json', query: ['size'], modes: BOTH, body: 'none', target: 'stack', why: 'inspect a container' },
  { method: 'GET', path: '/containers/{id}/logs', query: ['stdout', 'stderr', 'tail', 'follow', 'timestamps'], modes: BOTH, body: 'none', target: 'pool', why: "read the chaos helper's answer" },
  { method: 'POST', path: '/containers/create', query: ['name'], modes: BOTH, body: 'containerCreate', why: "deploy's new pool container; the chaos helper" },
  { method: 'POST', path: '/containers/{id}/start', query: [], modes: BOTH, body: 'none', target: 'pool', why: 'deploy, chaos stop' },
  { method: 'POST', path: '/containers/{id}/stop', query: ['t', 'signal'], modes: BOTH, body: 'none', target: 'pool', why: 'deploy, chaos stop' },
  { method: 'POST', path: '/containers/{id}/kill', query: ['signal'], modes: BOTH, body: 'none', target: 'pool', why: 'chaos kill' },
  { method: 'POST', path: '/containers/{id}/pause', query: [], modes: BOTH, body: 'none', target: 'pool', why: 'chaos pause' },
  { method: 'POST', path: '/containers/{id}/unpause', query: [], modes: BOTH, body: 'none', target: 'pool', why: 'chaos stop' },
  { method: 'POST', path: '/containers/{id}/rename', query: ['name'], modes: ['compose'], body: 'none', target: 'pool', why: 'deploy moves the pool name' },
  { method: 'DELETE', path: '/containers/{id}', query: ['force', 'v'], modes: BOTH, body: 'none', target: 'pool', why: 'deploy removes the old container; chaos helpers' },
  { method: 'POST', path: '/containers/{id}/exec', query: [], modes: BOTH, body: 'execCreate', why: "nginx -t, bluegreen-nginx-members in nginx" },
  { method: 'POST', path: '/exec/{id}/start', query: [], modes: BOTH, body: 'execStart', why: 'run that exec, output back' },
  { method: 'GET', path: '/exec/{id}/json', query: [], modes: BOTH, body: 'none', why: "that exec's exit code" },
  { method: 'POST', path: '/images/create', query: ['fromImage', 'tag'], modes: ['compose'], body: 'none', why: 'deploy pulls the image' },
  { method: 'GET', path: '/images/{image}/json', query: [], modes: ['compose'], body: 'none', why: 'deploy: is the image here, its config' },
  { method: 'POST', path: '/networks/{id}/connect', query: [], modes: ['compose'], body: 'networkConnect', why: "deploy attaches the new container to the pool's network" },
  { method: 'POST', path: '/networks/{id}/disconnect', query: [], modes: ['compose'], body: 'networkConnect', why: 'deploy moves the aliases' },
  { method: 'GET', path: '/services', query: ['filters', 'status'], modes: ['swarm'], body: 'none', why: "the stack's services" },
  { method: 'GET', path: '/services/{id}', query: ['insertDefaults'], modes: ['swarm'], body: 'none', why: "a pool's service" },
  { method: 'POST', path: '/services/{id}/update', query: ['version', 'rollback', 'registryAuthFrom'], modes: ['swarm'], body: 'serviceUpdate', why: 'deploy, scale, rebalance, rollback' },
  { method: 'GET', path: '/tasks', query: ['filters'], modes: ['swarm'], body: 'none', why: "the pools' tasks" },
  { method: 'GET', path: '/nodes', query: ['filters'], modes: ['swarm'], body: 'none', why: 'where tasks run, nodes lost' },
];

/** One path segment naming a container, exec, network or service: Docker's ids and names. */
const NAME = '[A-Za-z0-9][A-Za-z0-9_.-]{0,127}';
/** An image reference: [registry[:port]/]name[:tag][@digest], no dot segment. */
const IMAGE = '[A-Za-z0-9][A-Za-z0-9_.\\-/:@]{0,254}';

const compiled = RULES.map((rule) => ({
  rule,
  re: new RegExp(`^${rule.path.replace(/[.]/g, '\\.').replace('{id}', `(${NAME})`).replace('{image}', `(${IMAGE})`)}$`),
}));

export type Match =
  | {
      rule: Rule;
      params: string[];
      path: string;
      query: URLSearchParams;
      /** Query keys outside the rule's list: allowed only as copies of the body's own fields. */
      extraQuery: string[];
    }
  | { refused: string };

/**
 * The rule a request target matches in `mode`, or why it is refused. The path is read as sent:
 * no percent-encoding at all (Docker's router would decode `%2F` into a separator), no dot
 * segments, no empty segment; an optional `/v1.NN` prefix is dropped.
 */
export function matchRequest(method: string, target: string, mode: FilterMode): Match {
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQuery = q < 0 ? '' : target.slice(q + 1);
  if (!rawPath.startsWith('/')) return { refused: `request target ${JSON.stringify(target.slice(0, 100))} is not a path` };
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (/[%\\\s\x00-\x1f\x7f]/.test(rawPath)) return { refused: `path ${JSON.stringify(rawPath.slice(0, 100))} holds an encoded, blank, control or backslash character` };
  const path = rawPath.replace(/^\/v1\.\d{1,3}(?=\/)/, '');
  const segments = path.split('/').slice(1);
  if (segments.some((s) => s === '' || s === '.' || s === '..')) return { refused: `path ${JSON.stringify(rawPath.slice(0, 100))} has an empty or dot segment` };
  for (const { rule, re } of compiled) {
    if (rule.method !== method) continue;
    const m = re.exec(path);
    if (!m) continue;
    // An image reference is one argument: no dot segment inside it either.
    if (rule.path.includes('{image}') && m[1]!.split('/').some((s) => s === '' || s === '.' || s === '..')) continue;
    if (!rule.modes.includes(mode)) return { refused: `${method} ${path} is not a call the bot makes in ${mode} mode` };
    const query = new URLSearchParams(rawQuery);
    const extra = [...new Set(query.keys())].filter((key) => !rule.query.includes(key));
    // dockerode also puts a body's top-level fields in the query, which Docker ignores on these
    // calls: judged with the body (body-checks.ts); on a call without a body, refused here.
    if (extra.length > 0 && rule.body === 'none') return { refused: `${method} ${path}: query parameter ${JSON.stringify(extra[0])} is not allowed` };
    return { rule, params: m.slice(1), path, query, extraQuery: extra };
  }
  return { refused: `${method} ${path} is not a call the bot makes` };
}
