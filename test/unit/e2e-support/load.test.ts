// The end-to-end suites' load generator is what their "0 failed" rests on: it must count every
// request it sent, including one whose connection the server closed without an answer.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { runLoad } from '../../e2e/support/load.js';

describe('runLoad: the e2e load counts every request it sent', () => {
  it('a connection closed without an answer is a failure, a 500 is a failure, and each pool answered is counted', async () => {
    let n = 0;
    const server = createServer((req, res) => {
      n += 1;
      if (n % 10 === 0) {
        req.socket.destroy();
        return;
      }
      if (n % 10 === 5) {
        res.writeHead(500).end();
        return;
      }
      res.writeHead(200, { 'x-app-pool': n % 2 === 0 ? 'blue' : 'green', 'x-release-id': 'r1' }).end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    let duringRan = false;
    try {
      const r = await runLoad({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
        rate: 400,
        amount: 200,
        maxSeconds: 10,
        connections: 4,
        during: async () => {
          duringRan = true;
        },
      });
      assert.ok(duringRan);
      // Runs to `amount` although `during` returned at once.
      assert.equal(r.requests, 200);
      assert.equal(n, 200, 'the server saw each request once: none sent again');
      assert.equal(r.errors, 20, JSON.stringify(r));
      assert.equal(r.non2xx, 20);
      assert.equal(r.failed, 40);
      assert.equal((r.byPool.blue ?? 0) + (r.byPool.green ?? 0), 160);
      assert.equal(r.byRelease.r1, 160);
      assert.equal(Object.values(r.errorCodes).reduce((a, b) => a + b, 0), 20);
    } finally {
      server.close();
    }
  });
});
