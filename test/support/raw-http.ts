import { connect } from 'node:net';

// fetch() and node:http normalise the path they send; an attacker does not. These helpers write the
// request line byte for byte on a raw socket.

export interface RawAnswer {
  /** 0 when the connection closed without a status line. */
  status: number;
  /** Status line and headers as received. */
  head: string;
  body: string;
}

/** One request (`Connection: close`) on a fresh connection to 127.0.0.1; reads until the server closes, bounded. */
export function rawRequest(port: number, method: string, target: string, timeoutMs = 5000): Promise<RawAnswer> {
  return rawExchange(port, `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`, timeoutMs);
}

/** `request` written as it is (request line, headers, body) on a fresh connection to 127.0.0.1; reads until the server closes, bounded. */
export function rawExchange(port: number, request: string, timeoutMs = 5000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const split = data.indexOf('\r\n\r\n');
      const head = split < 0 ? data : data.slice(0, split);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve({ status: m ? Number(m[1]) : 0, head, body: split < 0 ? '' : data.slice(split + 4) });
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('connect', () => {
      socket.write(request);
    });
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    socket.on('error', done);
    socket.on('close', done);
  });
}
