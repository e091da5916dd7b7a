// The Docker API filter's allowlist and body checks (src/docker-filter): the bot's own calls pass,
// the escalations a compromised bot would try are refused with the reason.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkBody, checkTarget, type CheckContext } from '../../../src/docker-filter/body-checks.js';
import { matchRequest } from '../../../src/docker-filter/rules.js';
import { CANDIDATE_SERVICE } from '../../../src/pool.js';

const POOL = { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'app_blue' };
const NGINX = { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'nginx' };
const BOT = { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'bot' };
/** Someone else's container on the same host (another compose project). */
const THEIRS = { 'com.docker.compose.project': 'theirs', 'com.docker.compose.service': 'db' };
const HELPER = { 'com.bluegreen.chaos': 'blue' };
const SERVICE_SPEC = {
  Name: 'shop_app_blue',
  Labels: { 'com.docker.stack.namespace': 'shop' },
  TaskTemplate: { ContainerSpec: { Image: 'app:v1', Env: ['A=1'] }, Placement: {} },
  Mode: { Replicated: { Replicas: 2 } },
};
const NETWORKS: Record<string, { labels: Record<string, string>; containers: string[] }> = {
  shop_default: { labels: { 'com.docker.compose.project': 'shop' }, containers: ['nginx1'] },
  external_net: { labels: {}, containers: ['pool1', 'theirs1'] },
  their_db: { labels: { 'com.docker.compose.project': 'theirs' }, containers: ['theirs1'] },
};
const ctx: CheckContext = {
  project: 'shop',
  mode: 'compose',
  chaosNetImage: 'bluegreen-chaos-net:local',
  containerLabels: async (id) => ({ pool1: POOL, nginx1: NGINX, bot1: BOT, theirs1: THEIRS, helper1: HELPER })[id],
  network: async (id) => NETWORKS[id],
  service: async (id) => (id === 'svc-blue' ? { name: 'shop_app_blue', spec: SERVICE_SPEC } : id === 'svc-bot' ? { name: 'shop_bot', spec: { Name: 'shop_bot' } } : undefined),
};
const swarmCtx: CheckContext = {
  ...ctx,
  mode: 'swarm',
  containerLabels: async (id) => (id === 'pool1' ? { 'com.docker.swarm.service.name': 'shop_app_blue' } : undefined),
};
const check = (kind: Parameters<typeof checkBody>[0], body: unknown, params: string[] = [], query = '') =>
  checkBody(kind, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), ctx, params, new URLSearchParams(query));

describe('docker filter: the allowlist', () => {
  it("lets the bot's own calls through, with or without the /v1.NN prefix", () => {
    for (const [method, target] of [
      ['GET', '/containers/json?all=1&filters=%7B%22label%22%3A%5B%5D%7D'],
      ['GET', '/v1.41/containers/abc123/json'],
      ['POST', '/containers/create?name=shop-app_blue-1-new'],
      ['POST', '/v1.43/containers/abc/exec'],
      ['POST', '/exec/e1/start'],
      ['GET', '/images/registry.example:5000/team/app:v2/json'],
      ['POST', '/images/create?fromImage=app&tag=v2'],
      ['DELETE', '/containers/abc?force=true'],
    ] as const) {
      const m = matchRequest(method, target, 'compose');
      assert.ok(!('refused' in m), `${method} ${target}: ${'refused' in m ? m.refused : ''}`);
    }
    assert.ok(!('refused' in matchRequest('POST', '/services/svc-blue/update?version=12', 'swarm')));
  });

  it('refuses every call the bot does not make, and every odd spelling of one it does', () => {
    const refused = (method: string, target: string, mode: 'compose' | 'swarm' = 'swarm') => {
      const m = matchRequest(method, target, mode);
      assert.ok('refused' in m, `${method} ${target} should be refused`);
      return m.refused;
    };
    for (const t of ['/swarm', '/secrets', '/configs', '/nodes/n1/update', '/services/create', '/volumes/create', '/build', '/plugins/pull', '/containers/abc/archive', '/containers/abc/attach', '/session', '/grpc']) {
      assert.match(refused(t === '/swarm' || t === '/secrets' || t === '/configs' ? 'GET' : 'POST', t), /is not a call the bot makes/);
    }
    assert.match(refused('GET', '/containers/abc/archive?path=/etc'), /is not a call the bot makes/);
    assert.match(refused('PUT', '/containers/abc/archive'), /is not a call the bot makes/);
    assert.match(refused('POST', '/containers%2Fcreate'), /encoded/);
    assert.match(refused('GET', '/containers/abc/../../swarm'), /dot segment/);
    assert.match(refused('GET', '/v1.41//swarm'), /empty or dot segment/);
    assert.match(refused('POST', '/containers/abc\\/exec'), /backslash/);
    assert.match(refused('GET', '/images/../../swarm/json', 'compose'), /dot segment/);
    assert.match(refused('POST', '/images/create?fromSrc=-&repo=x', 'compose'), /query parameter "fromSrc" is not allowed/);
    assert.match(refused('POST', '/images/create?fromImage=app', 'swarm'), /not a call the bot makes in swarm mode/);
    assert.match(refused('GET', 'http://docker/containers/json'), /is not a path/);
  });
});

describe('docker filter: bodies', () => {
  it("a pool container's shape passes (what deploy's replacement sends)", async () => {
    const body = {
      Image: 'app:v2',
      Env: ['APP_POOL=blue'],
      Labels: { ...POOL, 'com.bluegreen.image': 'app:v2' },
      HostConfig: { NetworkMode: 'shop_default', IpcMode: 'private', CgroupnsMode: 'private', RestartPolicy: { Name: 'unless-stopped' }, PortBindings: { '3001/tcp': [{ HostIp: '127.0.0.1', HostPort: '8081' }] }, Binds: null, CapAdd: null, Privileged: false, SecurityOpt: null },
      NetworkingConfig: { EndpointsConfig: { shop_default: { Aliases: ['app_blue'] } } },
    };
    assert.equal(await check('containerCreate', body), undefined);
    // dockerode's createContainer also sends the name in the body (found running the suites through the filter).
    assert.equal(await check('containerCreate', { ...body, name: 'shop-app_blue-1-next' }), undefined);
  });

  it('refuses the escalations: privileged, host mounts, capabilities, host namespaces, devices, nginx impersonation', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ Image: 'x', HostConfig: { Privileged: true } }, /Privileged is not allowed/],
      [{ Image: 'x', HostConfig: { Binds: ['/:/host'] } }, /Binds is not allowed/],
      [{ Image: 'x', HostConfig: { Mounts: [{ Type: 'bind', Source: '/', Target: '/host' }] } }, /Mounts is not allowed/],
      [{ Image: 'x', HostConfig: { Mounts: [{ Type: 'volume', Source: 'v', Target: '/v' }] } }, /Mounts is not allowed/],
      [{ Image: 'x', HostConfig: { CapAdd: ['SYS_ADMIN'] } }, /CapAdd is not allowed/],
      [{ Image: 'x', HostConfig: { PidMode: 'host' } }, /PidMode is not allowed/],
      [{ Image: 'x', HostConfig: { IpcMode: 'host' } }, /IpcMode "host" is not allowed/],
      [{ Image: 'x', HostConfig: { IpcMode: 'container:nginx1' } }, /IpcMode "container:nginx1" is not allowed/],
      [{ Image: 'x', HostConfig: { MaskedPaths: [] } }, /HostConfig\.MaskedPaths is not a field/],
      [{ Image: 'x', HostConfig: { NetworkMode: 'host' } }, /NetworkMode host/],
      [{ Image: 'x', HostConfig: { UsernsMode: 'host' } }, /UsernsMode is not allowed/],
      [{ Image: 'x', HostConfig: { Devices: [{ PathOnHost: '/dev/sda' }] } }, /Devices is not allowed/],
      [{ Image: 'x', HostConfig: { SecurityOpt: ['seccomp=unconfined'] } }, /SecurityOpt/],
      [{ Image: 'x', HostConfig: { Sysctls: { 'kernel.x': '1' } } }, /Sysctls is not allowed/],
      [{ Image: 'x', HostConfig: { Runtime: 'sysbox' } }, /Runtime/],
      [{ Image: 'x', HostConfig: { PortBindings: { '22/tcp': [{ HostIp: '0.0.0.0', HostPort: '22' }] } } }, /only 127\.0\.0\.1/],
      [{ Image: 'x', HostConfig: { VolumeDriver: 'local', Binds: [] } }, /VolumeDriver is not allowed/],
      [{ Image: 'x', Volumes: { '/data': {} } }, /Volumes is not allowed/],
      [{ Image: 'x', HostConfig: { OomKillDisable: false, Something: 1 } }, /HostConfig\.Something is not a field/],
      // A new container names itself a pool's, over whatever its image carries (an image's own
      // com.docker.compose.service=nginx label would otherwise make it nginx to the bot).
      [{ Image: 'x', Labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'nginx' } }, /must be labelled as a pool's .*not "nginx"/],
      [{ Image: 'x', Labels: { 'com.docker.compose.project': 'shop' } }, /must be labelled as a pool's .*not null/],
      [{ Image: 'x', Labels: { 'com.docker.compose.project': 'other', 'com.docker.compose.service': 'app_blue' } }, /com\.docker\.compose\.project=shop/],
      [{ Image: 'x', Labels: {} }, /com\.docker\.compose\.project=shop/],
      // Docker matches keys without regard to case: a lower-case spelling must not slip past.
      [{ Image: 'x', hostconfig: { Privileged: true } }, /hostconfig is not a field of a container create/],
      [{ Image: 'x', HostConfig: { privileged: true } }, /HostConfig\.privileged is not a field/],
      // The chaos helper's shape, anywhere but a pool, or with more than NET_ADMIN.
      [{ Image: 'bluegreen-chaos-net:local', HostConfig: { NetworkMode: 'container:nginx1', CapAdd: ['NET_ADMIN'], CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'] } }, /only join a pool container's network namespace/],
      [{ Image: 'bluegreen-chaos-net:local', HostConfig: { NetworkMode: 'container:pool1', CapAdd: ['NET_ADMIN', 'SYS_ADMIN'], CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'] } }, /NET_ADMIN only/],
      [{ Image: 'evil:1', HostConfig: { NetworkMode: 'container:pool1', CapAdd: ['NET_ADMIN'], CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'] } }, /only the chaos helper/],
    ];
    const helperShape = (b: Record<string, unknown>) => String((b.HostConfig as { NetworkMode?: string } | undefined)?.NetworkMode ?? '').startsWith('container:');
    for (const [body, re] of cases) {
      const sent = 'Labels' in body || helperShape(body) ? body : { Labels: POOL, ...body };
      assert.match(String(await check('containerCreate', sent)), re, JSON.stringify(sent));
    }
    assert.match(String(await check('containerCreate', '{"Image": ')), /not JSON/);
    assert.match(String(await check('containerCreate', '[1]')), /JSON object/);
  });

  it("the chaos helper's exact shape into a pool's network namespace passes", async () => {
    const helper = { Image: 'bluegreen-chaos-net:local', Cmd: ['loss', '30', '60'], Labels: { 'com.bluegreen.chaos': 'blue' }, HostConfig: { NetworkMode: 'container:pool1', CapDrop: ['ALL'], CapAdd: ['NET_ADMIN'], SecurityOpt: ['no-new-privileges'] } };
    assert.equal(await check('containerCreate', helper), undefined);
    assert.match(String(await check('containerCreate', { ...helper, Labels: POOL })), /carries no com\.docker\.compose\.project label/);
    // Under Swarm the helper is the only container the bot creates.
    assert.equal(await checkBody('containerCreate', Buffer.from(JSON.stringify(helper)), swarmCtx, [], new URLSearchParams()), undefined);
    const pool = { Image: 'app:v2', Labels: POOL, HostConfig: { NetworkMode: 'shop_default' } };
    assert.match(String(await checkBody('containerCreate', Buffer.from(JSON.stringify(pool)), swarmCtx, [], new URLSearchParams())), /under Swarm the bot creates no container but the chaos helper/);
  });

  it("deploy's candidate container passes as itself, labelled over its image's labels", async () => {
    const candidate = { Image: 'app:v2', Labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': CANDIDATE_SERVICE }, HostConfig: { NetworkMode: 'shop_default' } };
    assert.equal(await check('containerCreate', candidate), undefined);
  });

  it("judges containers by the mode's own labels: a Swarm task of a compose-built image carries compose's labels too", async () => {
    // The stack's nginx image, built by `docker compose build` in project "main", deployed as stack "shop".
    const swarmNginx = { 'com.docker.compose.project': 'main', 'com.docker.compose.service': 'nginx', 'com.docker.swarm.service.name': 'shop_nginx' };
    // A pool task whose image was built by compose with a service named nginx.
    const swarmPoolAsNginx = { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'nginx', 'com.docker.swarm.service.name': 'shop_app_blue' };
    const labels: Record<string, Record<string, string>> = { n: swarmNginx, p: swarmPoolAsNginx };
    const sctx: CheckContext = { ...swarmCtx, containerLabels: async (id) => labels[id] };
    const exec = Buffer.from(JSON.stringify({ Cmd: ['nginx', '-t'], AttachStdout: true, AttachStderr: true, Tty: false }));
    assert.equal(await checkBody('execCreate', exec, sctx, ['n'], new URLSearchParams()), undefined);
    assert.match(String(await checkBody('execCreate', exec, sctx, ['p'], new URLSearchParams())), /only in the stack's nginx container/);
    // And in Compose mode a Swarm label means nothing.
    const ctxSwarmLabelOnly: CheckContext = { ...ctx, containerLabels: async () => ({ 'com.docker.swarm.service.name': 'shop_nginx' }) };
    assert.match(String(await checkBody('execCreate', exec, ctxSwarmLabelOnly, ['x'], new URLSearchParams())), /only in the stack's nginx container/);
  });

  it("exec: only the bot's nginx commands, only in nginx, no stdin, user or privilege", async () => {
    const ok = { Cmd: ['bluegreen-nginx-members', 'apply'], AttachStdout: true, AttachStderr: true, Tty: false };
    assert.equal(await check('execCreate', ok, ['nginx1']), undefined);
    assert.match(String(await check('execCreate', { ...ok, Cmd: ['sh', '-c', 'id'] }, ['nginx1'])), /not one of the bot's nginx commands/);
    assert.match(String(await check('execCreate', ok, ['bot1'])), /only in the stack's nginx container/);
    assert.match(String(await check('execCreate', ok, ['pool1'])), /only in the stack's nginx container/);
    assert.match(String(await check('execCreate', { ...ok, Privileged: true }, ['nginx1'])), /no Privileged/);
    assert.match(String(await check('execCreate', { ...ok, User: 'root' }, ['nginx1'])), /no Privileged, User/);
    assert.match(String(await check('execCreate', { ...ok, cmd: ['sh'] }, ['nginx1'])), /exec field cmd is not allowed/);
    assert.equal(await check('execStart', { Detach: false, Tty: false }), undefined);
    // What dockerode's exec.start({ hijack: true, stdin: false }) sends (the bot's nginx commands).
    assert.equal(await check('execStart', { hijack: true, stdin: false }), undefined);
    assert.match(String(await check('execStart', { hijack: true, Privileged: true })), /exec start field Privileged is not allowed/);
    assert.match(String(await check('execStart', { Tty: true })), /TTY/);
  });

  it("calls on one container name the stack's: inspect any of it; stop, kill, pause, remove, logs only a pool's or a chaos helper", async () => {
    assert.equal(await checkTarget('stack', ctx, 'nginx1'), undefined);
    assert.equal(await checkTarget('stack', ctx, 'bot1'), undefined);
    assert.equal(await checkTarget('pool', ctx, 'pool1'), undefined);
    assert.equal(await checkTarget('pool', ctx, 'helper1'), undefined);
    assert.match(String(await checkTarget('stack', ctx, 'theirs1')), /is not one of the stack's/);
    assert.match(String(await checkTarget('pool', ctx, 'theirs1')), /is not a pool's container/);
    assert.match(String(await checkTarget('pool', ctx, 'nginx1')), /is not a pool's container/);
    assert.match(String(await checkTarget('pool', ctx, 'bot1')), /is not a pool's container/);
    assert.match(String(await checkTarget('pool', ctx, 'gone')), /no container "gone"/);
    for (const [method, path] of [['POST', '/containers/x/stop'], ['POST', '/containers/x/kill'], ['DELETE', '/containers/x'], ['GET', '/containers/x/logs'], ['POST', '/containers/x/pause']] as const) {
      const m = matchRequest(method, path, 'compose');
      assert.ok(!('refused' in m) && m.rule.target === 'pool', `${method} ${path} names a pool's container`);
    }
    const inspect = matchRequest('GET', '/containers/x/json', 'compose');
    assert.ok(!('refused' in inspect) && inspect.rule.target === 'stack');
  });

  it('network changes carry aliases only; service updates touch only a pool and only what deploy and scale change', async () => {
    assert.equal(await check('networkConnect', { Container: 'pool1', EndpointConfig: { Aliases: ['app_blue'] } }, ['shop_default']), undefined);
    // A network of the user's own that a pool is already on (an external one in their compose file).
    assert.equal(await check('networkConnect', { Container: 'pool1' }, ['external_net']), undefined);
    assert.match(String(await check('networkConnect', { Container: 'pool1', EndpointConfig: { IPAddress: '10.0.0.9' } }, ['shop_default'])), /EndpointConfig\.IPAddress is not allowed/);
    // Someone else's container into the stack's network, a pool into someone else's, nginx moved.
    assert.match(String(await check('networkConnect', { Container: 'theirs1' }, ['shop_default'])), /is not a pool's container/);
    assert.match(String(await check('networkConnect', { Container: 'pool1' }, ['their_db'])), /neither the stack's nor one a pool is on/);
    assert.match(String(await check('networkConnect', { Container: 'nginx1' }, ['shop_default'])), /is not a pool's container/);
    const deploy = structuredClone(SERVICE_SPEC);
    deploy.TaskTemplate.ContainerSpec.Image = 'app:v2';
    deploy.TaskTemplate.ContainerSpec.Env = ['A=1', 'RELEASE_ID=v2'];
    deploy.Mode.Replicated.Replicas = 3;
    assert.equal(await check('serviceUpdate', deploy, ['svc-blue'], 'version=5'), undefined);
    assert.equal(await check('serviceUpdate', SERVICE_SPEC, ['svc-blue'], 'version=5&rollback=previous'), undefined);
    const mounts = structuredClone(SERVICE_SPEC) as Record<string, unknown> & typeof SERVICE_SPEC;
    (mounts.TaskTemplate.ContainerSpec as Record<string, unknown>).Mounts = [{ Type: 'bind', Source: '/', Target: '/host' }];
    assert.match(String(await check('serviceUpdate', mounts, ['svc-blue'], 'version=5')), /not TaskTemplate\.ContainerSpec\.Mounts/);
    const cap = structuredClone(SERVICE_SPEC) as Record<string, unknown> & typeof SERVICE_SPEC;
    (cap.TaskTemplate.ContainerSpec as Record<string, unknown>).CapabilityAdd = ['SYS_ADMIN'];
    assert.match(String(await check('serviceUpdate', cap, ['svc-blue'], 'version=5')), /CapabilityAdd/);
    assert.match(String(await check('serviceUpdate', { Name: 'shop_bot' }, ['svc-bot'], 'version=5')), /only the pool services may be updated/);
    assert.match(String(await check('serviceUpdate', SERVICE_SPEC, ['svc-blue'], 'rollback=other')), /rollback=previous only/);
    assert.match(String(await check('none', '{"x":1}')), /takes no body/);
    // dockerode sends kill's options in the query and again as a body: the same keys pass.
    assert.equal(await check('none', '{"signal":"SIGKILL"}', [], 'signal=SIGKILL'), undefined);
    assert.match(String(await check('none', '{"signal":"SIGKILL","x":1}', [], 'signal=SIGKILL')), /takes no body/);
  });
});
