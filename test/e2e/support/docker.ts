import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command, never throws on a non-zero exit: callers assert on the result. */
export async function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  try {
    const { stdout, stderr } = await exec(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      timeout: opts.timeoutMs ?? 300_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}

let composeCmd: string[] | undefined;

/**
 * `docker compose` (v2) when present, else Debian's docker-compose 1.29. BLUEGREEN_COMPOSE=v1 or
 * v2 insists on one (the test runner runs the stack suite under each); scripts/stack.sh reads it too.
 */
export async function composeCommand(): Promise<string[]> {
  if (composeCmd) return composeCmd;
  const want = process.env.BLUEGREEN_COMPOSE;
  if (want === 'v1') composeCmd = ['docker-compose'];
  else if (want === 'v2') composeCmd = ['docker', 'compose'];
  else {
    const v2 = await run('docker', ['compose', 'version'], { timeoutMs: 20_000 });
    composeCmd = v2.code === 0 ? ['docker', 'compose'] : ['docker-compose'];
  }
  return composeCmd;
}

/**
 * Whether a Docker engine answers. With CI=true a missing engine is a failure, never a skip:
 * this throws so the suite goes red.
 */
export async function dockerAvailable(): Promise<boolean> {
  const info = await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 30_000 });
  if (info.code === 0) return true;
  if (process.env.CI === 'true') {
    throw new Error(`CI=true but no Docker engine answers: ${info.stderr.trim()}`);
  }
  return false;
}
