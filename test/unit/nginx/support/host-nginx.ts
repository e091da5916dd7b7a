// What the nginx unit tests share: the host's real nginx (Debian's nginx-light, no Docker), commands
// run to their end, and small HTTP servers standing in for the pools.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type RequestListener, type Server } from 'node:http';
import { delimiter, join } from 'node:path';

/** The host's nginx: on PATH, or where Debian puts it (/usr/sbin is not on every user's PATH). */
function findNginx(): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin']) {
    const path = join(dir, 'nginx');
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

export const NGINX = findNginx();
if (!NGINX && process.env.CI === 'true') throw new Error('CI=true but no nginx on this machine (npm test installs nginx-light: scripts/test-host.sh)');
/** For describe(…, { skip }): why these tests cannot run here, or false. */
export const skipWithoutNginx = !NGINX && 'no nginx on PATH (apt-get install nginx-light)';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `file args` to its end; never rejects (a failure is its exit code and stderr). */
export function runFile(file: string, args: string[], env?: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** An HTTP server on 127.0.0.1 and a free port, with its `address:port`. */
export async function listen(handler: RequestListener): Promise<{ server: Server; address: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return { server, address: `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` };
}

export async function freePort(): Promise<number> {
  const { server, address } = await listen(() => undefined);
  await new Promise((r) => server.close(r));
  return Number(address.split(':')[1]);
}

export async function closeServers(servers: Server[]): Promise<void> {
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
}

/** `nginx … -s quit` for the master of `pidFile`, then waits (5 s at most) until it removed its pid file on exit. */
export async function quitNginx(nginxArgs: string[], pidFile: string): Promise<void> {
  await runFile(NGINX!, [...nginxArgs, '-s', 'quit']);
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && (await readFile(pidFile, 'utf8').catch(() => ''))) await new Promise((r) => setTimeout(r, 50));
}
