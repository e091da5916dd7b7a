import type Docker from 'dockerode';
import { BluegreenError } from '../../errors.js';
import type { HelperSpec } from './container-engine.js';

// Short-lived helper containers (the network faults of `chaos start <pool> loss|delay`): one joins
// a pool container's network namespace with only the capabilities it needs, and what it prints is
// how it answers.

export async function runHelper(docker: Docker, spec: HelperSpec): Promise<string> {
  const created = await docker
    .createContainer({
      Image: spec.image,
      Cmd: [...spec.args],
      Labels: { ...spec.labels },
      HostConfig: {
        NetworkMode: `container:${spec.joinNetworkOf}`,
        CapDrop: ['ALL'],
        CapAdd: [...spec.capAdd],
        SecurityOpt: ['no-new-privileges'],
      },
    })
    .catch((err: { statusCode?: number; message?: string }) => {
      if (err.statusCode === 404 && /image/i.test(String(err.message))) {
        throw new BluegreenError('CHAOS_UNAVAILABLE', `the helper image ${spec.image} is not on this host`, {
          hint: 'npm run stack:up builds it (scripts/build-base-images.sh chaos-net)',
        });
      }
      throw err;
    });
  try {
    await created.start();
  } catch (err) {
    await created.remove({ force: true }).catch(() => undefined);
    throw err;
  }
  return created.id;
}

/** What a container printed, stdout and stderr together: its last 64 KiB. */
export async function containerLogs(docker: Docker, id: string): Promise<string> {
  const raw: unknown = await docker.getContainer(id).logs({ stdout: true, stderr: true, tail: 200, follow: false });
  return demux(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)));
}

/** Docker's multiplexed log stream (no TTY): 8-byte frame headers [stream, 0, 0, 0, size BE], then the bytes. */
export function demux(buf: Buffer): string {
  const parts: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length && buf[i + 1] === 0 && buf[i + 2] === 0 && buf[i + 3] === 0 && (buf[i] === 1 || buf[i] === 2)) {
    const size = buf.readUInt32BE(i + 4);
    parts.push(buf.subarray(i + 8, i + 8 + size));
    i += 8 + size;
  }
  return (parts.length ? Buffer.concat(parts) : buf).toString('utf8').slice(-65536);
}
