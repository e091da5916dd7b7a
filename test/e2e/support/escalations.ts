// A compromised bot (issue #20): what code running in the bot container would try against the
// Docker endpoint it is given (DOCKER_HOST, the filter), run from inside that container with the
// container's own node. Shared by the Compose suite (least-privilege.test.ts) and the Swarm suite.
import { run } from './docker.js';

export interface Attempt {
  call: string;
  status: number;
  message: string;
}

/** The containers the attempts aim at: the bot itself, nginx, someone else's container, and an image the engine has. */
export interface Targets {
  bot: string;
  nginx: string;
  /** A container on the same engine that is not the stack's (another team's database, say). */
  foreign: string;
  image: string;
}

/** Creates (not starts) a container that is not the stack's: the target of the "someone else's" attempts. */
export async function foreignContainer(name: string, image: string): Promise<string> {
  await run('docker', ['rm', '-f', name]);
  const r = await run('docker', ['create', '--name', name, '--label', 'com.docker.compose.project=someone-else', image, 'true']);
  if (r.code !== 0) throw new Error(`docker create ${name}: ${r.stderr}`);
  return r.stdout.trim().slice(0, 12);
}

const ATTEMPTS = String.raw`
const base = process.env.DOCKER_HOST.replace('tcp://', 'http://');
const ids = JSON.parse(process.argv[1]);
const attempts = [
  ['GET', '/v1.41/containers/json', null],
  ['POST', '/containers/create', { Image: ids.image, HostConfig: { Privileged: true } }],
  ['POST', '/containers/create', { Image: ids.image, HostConfig: { Binds: ['/:/host'] } }],
  ['POST', '/containers/create', { Image: ids.image, HostConfig: { Mounts: [{ Type: 'bind', Source: '/', Target: '/host' }] } }],
  ['POST', '/containers/create', { Image: ids.image, HostConfig: { CapAdd: ['SYS_ADMIN'] } }],
  ['POST', '/containers/create', { Image: ids.image, HostConfig: { PidMode: 'host' } }],
  ['POST', '/containers/create', { Image: ids.image, HostConfig: { NetworkMode: 'host' } }],
  ['POST', '/containers/create', { Image: ids.image, hostconfig: { privileged: true } }],
  ['POST', '/containers/create', { Image: ids.image, Labels: { 'com.docker.compose.service': 'nginx' } }],
  ['POST', '/containers/' + ids.bot + '/exec', { Cmd: ['sh', '-c', 'id'], AttachStdout: true }],
  ['POST', '/containers/' + ids.nginx + '/stop', null],
  ['POST', '/containers/' + ids.bot + '/kill', null],
  ['DELETE', '/containers/' + ids.nginx + '?force=1', null],
  ['GET', '/containers/' + ids.foreign + '/json', null],
  ['DELETE', '/containers/' + ids.foreign + '?force=1', null],
  ['GET', '/containers/' + ids.foreign + '/logs?stdout=1', null],
  ['POST', '/containers/' + ids.nginx + '/exec', { Cmd: ['sh'], AttachStdin: true, Tty: true }],
  ['GET', '/containers/' + ids.nginx + '/archive?path=/etc', null],
  ['PUT', '/containers/' + ids.nginx + '/archive?path=/tmp', null],
  ['POST', '/volumes/create', { Name: 'x', Driver: 'local', DriverOpts: { type: 'none', o: 'bind', device: '/' } }],
  ['GET', '/swarm', null],
  ['GET', '/secrets', null],
  ['POST', '/services/create', { Name: 'x', TaskTemplate: { ContainerSpec: { Image: ids.image } } }],
  ['POST', '/build', null],
  ['GET', '/containers%2Fjson', null],
  ['GET', '/containers/x/../../swarm', null],
];
(async () => {
  const out = [];
  for (const [method, path, body] of attempts) {
    try {
      const res = await fetch(base + path, { method, headers: { 'content-type': 'application/json' }, body: body === null ? undefined : JSON.stringify(body) });
      const text = await res.text();
      const shown = body && (body.HostConfig || body.hostconfig || body.Labels) ? ' ' + JSON.stringify(body.HostConfig || body.hostconfig || body.Labels) : '';
      out.push({ call: method + ' ' + path + shown, status: res.status, message: text.slice(0, 200) });
    } catch (err) {
      out.push({ call: method + ' ' + path, status: 0, message: String(err) });
    }
  }
  console.log(JSON.stringify(out));
})();
`;

/**
 * Runs the attempts inside `targets.bot` through its DOCKER_HOST. The first is a call the bot makes
 * (listing containers); every other one is an escalation.
 */
export async function tryEscalations(targets: Targets): Promise<{ allowed: Attempt; escalations: Attempt[] }> {
  const r = await run('docker', ['exec', targets.bot, 'node', '-e', ATTEMPTS, JSON.stringify(targets)], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`the attempts did not run in the bot container: ${r.stderr.slice(-1000)}`);
  const [allowed, ...escalations] = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Attempt[];
  return { allowed: allowed!, escalations };
}

/** The filter's log lines for refused calls: "<method> <target>: <why>". */
export function refusalsIn(filterLog: string): string[] {
  return filterLog
    .split('\n')
    .filter((l) => l.includes('docker call refused'))
    .map((l) => JSON.parse(l) as { method: string; target: string; why: string })
    .map((x) => `${x.method} ${x.target}: ${x.why}`);
}
