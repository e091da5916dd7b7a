import { BluegreenError, describeError } from '../../errors.js';
import type { ContainerEngine, ContainerInfo } from '../docker/container-engine.js';
import type { NginxControl } from '../nginx/nginx-control.js';

// How deploy puts a new release into the idle pool without ever leaving nginx's backup without an
// answer. nginx resolves `app_green` when it loads its config (NOTES: a recreated container's new
// address is seen only after a reload), and host ports cannot be bound by two containers, so:
//
//   1. start a candidate from the new image beside the old container: temporary name, no alias, no
//      published port; wait until it is healthy. Nothing nginx sees has changed yet.
//   2. give the candidate the service's aliases; reload nginx: it now resolves old + candidate.
//   3. detach the old container from the networks; reload: nginx resolves the candidate only.
//   4. stop the old container (its host ports are free) and rename it aside; start the final
//      container (the service's name, aliases and published ports) and wait until it is healthy.
//   5. reload: candidate + final; detach the candidate; reload: final only.
//   6. remove the candidate and the old container.
//
// At every reload the names resolve to running, healthy containers only, so the backup answers
// throughout; the published port of the idle pool (drills only) is down between 4's stop and start.
// A failure at any step puts the old container back (same container, names, ports) and removes the
// new ones, reloading nginx so it resolves the old one again if it had been told otherwise.

export interface ReplaceOptions {
  engine: ContainerEngine;
  nginx: Pick<NginxControl, 'testAndReload'>;
  old: ContainerInfo;
  image: string;
  /** Wins over the compose file's and the image's env (RELEASE_ID). */
  env: Readonly<Record<string, string>>;
  healthTimeoutMs: number;
  /**
   * The bot's own health probe of a container, by its name on the compose network (APP_HEALTH_PATH
   * on APP_PORT): a new container must pass it as well as Docker's health (the image's own
   * HEALTHCHECK, when it has one), so an image needs no tool inside for its health to be judged.
   * Undefined: this process is not on the compose network (a CLI on the host); Docker's health decides.
   */
  probe?: (containerName: string) => Promise<{ healthy: boolean; detail: string } | undefined>;
  say: (step: string) => void;
}

export type Replaced =
  | { ok: true; fresh: ContainerInfo; /** Clean-up left undone after success. */ leftovers: string[] }
  | { ok: false; step: string; error: unknown; /** Restore steps that failed too: empty when the old container serves as before. */ restoreProblems: string[] };

/** Docker's health, then the bot's probe, both within the one deadline. */
async function untilHealthy(o: ReplaceOptions, id: string, name: string): Promise<ContainerInfo> {
  const deadline = Date.now() + o.healthTimeoutMs;
  const info = await o.engine.waitHealthy(id, o.healthTimeoutMs);
  if (!o.probe) return info;
  for (;;) {
    const p = await o.probe(name);
    if (p === undefined) {
      o.say(`the bot is not on the compose network here: Docker's health of ${name} decides`);
      return info;
    }
    if (p.healthy) return info;
    if (Date.now() >= deadline) throw new BluegreenError('POOL_UNHEALTHY', `container ${name} not healthy after ${o.healthTimeoutMs} ms (${p.detail})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function replacePoolContainer(o: ReplaceOptions): Promise<Replaced> {
  const { engine, nginx, old, say } = o;
  const oldName = old.name;
  const names = old.networks;
  const nets = Object.keys(names);
  const noNames = Object.fromEntries(nets.map((n) => [n, [] as string[]]));
  const stamp = Date.now().toString(36);
  const aliasText = [...new Set(Object.values(names).flat())].join(', ') || 'its aliases';
  const secs = Math.round(o.healthTimeoutMs / 1000);

  // What has been done so far, for the restore.
  let candidate: string | undefined;
  let final: string | undefined;
  let oldDetached = false;
  let oldStopped = false;
  let oldRenamed = false;
  let candidateDetached = false;
  /** nginx has been reloaded while a new container answered to the service's names. */
  let nginxToldNew = false;
  /** nginx has been reloaded while the final container answered to them. */
  let nginxToldFinal = false;

  let step = '';
  try {
    step = 'start the new container';
    const next = `${oldName}-next-${stamp}`;
    say(`starting ${o.image} beside ${oldName} as ${next} (no traffic yet)`);
    candidate = (await engine.startReplacement(old.id, { image: o.image, env: o.env, name: next, temporary: true, networks: noNames })).id;

    step = 'wait for the new container to be healthy';
    say(`${next} started; waiting for it to be healthy (up to ${secs} s)`);
    await untilHealthy(o, candidate, next);

    step = `give the new container the name ${aliasText}`;
    say(`${next} is healthy; it answers to ${aliasText} beside ${oldName}`);
    await engine.connect(candidate, names);
    step = 'reload nginx (old and new)';
    nginxToldNew = true;
    await nginx.testAndReload();

    step = `take ${aliasText} from ${oldName}`;
    say(`nginx resolves ${aliasText} to both; taking the name from ${oldName}`);
    await engine.disconnect(old.id, nets);
    oldDetached = true;
    step = 'reload nginx (new only)';
    await nginx.testAndReload();

    step = `stop ${oldName}`;
    say(`nginx resolves ${aliasText} to ${next} only; stopping ${oldName} to free its name and ports`);
    await engine.stop(old.id);
    oldStopped = true;
    await engine.rename(old.id, `${oldName}-old-${stamp}`);
    oldRenamed = true;

    step = 'start the final container';
    final = (await engine.startReplacement(old.id, { image: o.image, env: o.env, name: oldName, temporary: false, networks: names })).id;
    step = 'wait for the final container to be healthy';
    say(`${oldName} started from ${o.image} with its ports; waiting for it to be healthy`);
    const fresh = await untilHealthy(o, final, oldName);

    step = 'reload nginx (temporary and final)';
    say(`${oldName} is healthy; moving nginx from ${next} to it`);
    nginxToldFinal = true;
    await nginx.testAndReload();
    step = `take ${aliasText} from ${next}`;
    await engine.disconnect(candidate, nets);
    candidateDetached = true;
    step = 'reload nginx (final only)';
    await nginx.testAndReload();

    const leftovers: string[] = [];
    for (const [what, id] of [[next, candidate], ['the old container', old.id]] as const) {
      await engine.remove(id).catch((err: unknown) => leftovers.push(`remove ${what}: ${describeError(err)}`));
    }
    return { ok: true, fresh, leftovers };
  } catch (error) {
    say(`${step} failed: ${describeError(error)}; putting ${oldName} back`);
    return { ok: false, step, error, restoreProblems: await restore() };
  }

  async function restore(): Promise<string[]> {
    const problems: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        problems.push(`${what}: ${describeError(err)}`);
      }
    };
    // Each container leaves nginx's view only after a reload that resolves another running one.
    if (candidateDetached) {
      await attempt(`give the temporary container ${aliasText} again`, () => engine.connect(candidate!, names));
      await attempt('reload nginx (temporary and final)', () => nginx.testAndReload());
    }
    // The final container holds the service's name and ports: it goes before the old one comes back.
    if (final) {
      if (nginxToldFinal) {
        await attempt(`take ${aliasText} from the final container`, () => engine.disconnect(final!, nets));
        await attempt('reload nginx (temporary only)', () => nginx.testAndReload());
      }
      await attempt('remove the final container', () => engine.remove(final!));
    }
    if (oldRenamed) await attempt(`rename ${oldName} back`, () => engine.rename(old.id, oldName));
    if (oldDetached) await attempt(`give ${oldName} its names back`, () => engine.connect(old.id, names));
    if (oldStopped) {
      await attempt(`start ${oldName}`, () => engine.start(old.id));
      await attempt(`wait for ${oldName} to be healthy`, () => engine.waitHealthy(old.id, o.healthTimeoutMs));
    }
    // nginx may resolve the names to the candidate only: tell it about the old container (both
    // answer) before the candidate goes, then reload once more so it resolves the old one alone.
    if (nginxToldNew && candidate) await attempt('reload nginx (old and temporary)', () => nginx.testAndReload());
    if (candidate) await attempt('remove the temporary container', () => engine.remove(candidate!));
    if (nginxToldNew) await attempt('reload nginx (old only)', () => nginx.testAndReload());
    return problems;
  }
}
