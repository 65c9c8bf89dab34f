// Resource limits against idle and abandoned clients: request bodies that stall or trickle are
// cut (an unauthenticated POST /token sending a byte every 5 s), a slow client that keeps
// sending is not; abandoned upload sessions expire in the background; a client cannot hold
// more than its cap of open sessions; /metrics costs O(1) and can move to its own address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  expectOciError,
  makeImage,
  run,
  sha256,
  startRegistry,
  writeOciLayout,
  type TestRegistry,
} from '../helpers/registry-server.js';

/** Sends headers, then `bodyLength` bytes one at a time every `everyMs`; resolves how the
 * connection ended: the status line received (if any) and after how many body bytes. */
function trickle(
  reg: TestRegistry,
  head: string,
  bodyLength: number,
  everyMs: number,
  limitMs: number,
): Promise<{ status?: string; sent: number; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(reg.port, '127.0.0.1');
    let sent = 0;
    let reply = '';
    let timer: NodeJS.Timeout | undefined;
    const finish = (closed: boolean): void => {
      clearInterval(timer);
      clearTimeout(limit);
      socket.destroy();
      resolve({ status: reply.split('\r\n')[0] || undefined, sent, closed });
    };
    const limit = setTimeout(() => finish(false), limitMs);
    socket.on('connect', () => {
      socket.write(`${head}Content-Length: ${bodyLength}\r\n\r\n`);
      timer = setInterval(() => {
        if (sent < bodyLength && socket.writable) {
          socket.write('a');
          sent++;
        }
      }, everyMs);
    });
    socket.on('data', (d: Buffer) => (reply += d.toString()));
    socket.on('close', () => finish(true));
    socket.on('error', () => {});
  });
}

test(
  'an unauthenticated POST /token trickling a byte every 5 s is cut',
  { timeout: 60_000 },
  async () => {
    const reg = await startRegistry({
      auth: { users: { admin: { password: 'pw' } } },
      configure: (c) => {
        c.http.timeouts.bodyidle = 3;
      },
    });
    try {
      const r = await trickle(
        reg,
        `POST /token HTTP/1.1\r\nHost: ${reg.host}\r\nContent-Type: application/x-www-form-urlencoded\r\n`,
        100_000,
        5000,
        30_000,
      );
      assert.ok(r.closed, 'the server must close the connection');
      assert.match(r.status ?? '', /^HTTP\/1\.1 408/);
      // The server still serves.
      assert.equal((await fetch(`${reg.url}/healthz`)).status, 200);
    } finally {
      await reg.close();
    }
  },
);

test(
  'a body that keeps trickling under the minimum rate is cut; a slow steady upload is not',
  { timeout: 60_000 },
  async () => {
    const reg = await startRegistry({
      configure: (c) => {
        c.http.timeouts.bodyidle = 2;
        c.http.timeouts.bodyminrate = 1000;
      },
    });
    try {
      // 1 byte every 200 ms: never idle for 2 s, but ~5 B/s, far under 1000 B/s.
      const session = await openSession(reg.url, 'trickle/app');
      assert.equal(session.status, 202);
      const r = await trickle(
        reg,
        `PATCH ${session.headers.get('location')} HTTP/1.1\r\nHost: ${reg.host}\r\n`,
        100_000,
        200,
        30_000,
      );
      assert.ok(r.closed);
      assert.match(r.status ?? '', /^HTTP\/1\.1 408/);
      assert.ok(r.sent < 100, `cut after ${r.sent} bytes`);
      // A client sending 16 KiB every 500 ms for ~4 s (twice the idle timeout) finishes.
      const start = await fetch(`${reg.url}/v2/slow/app/blobs/uploads/`, { method: 'POST' });
      assert.equal(start.status, 202);
      const location = start.headers.get('location')!;
      const chunks = Array.from({ length: 8 }, () => randomBytes(16 * 1024));
      const all = Buffer.concat(chunks);
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const next = chunks.shift();
          if (!next) return controller.close();
          await new Promise((r) => setTimeout(r, 500));
          controller.enqueue(next);
        },
      });
      const put = await fetch(`${reg.url}${location}?digest=${sha256(all)}`, {
        method: 'PUT',
        body,
        duplex: 'half',
      } as RequestInit);
      assert.equal(put.status, 201, await put.text());
    } finally {
      await reg.close();
    }
  },
);

async function openSession(url: string, repo: string): Promise<Response> {
  return await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
}

test(
  'abandoned upload sessions expire in the background (uploadpurging age/interval)',
  { timeout: 60_000 },
  async () => {
    const reg = await startRegistry({
      configure: (c) => {
        c.storage.maintenance.uploadpurging = { enabled: true, age: 1, interval: 1, dryrun: false };
      },
    });
    try {
      const locations: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await openSession(reg.url, 'abandoned/app');
        assert.equal(r.status, 202);
        locations.push(r.headers.get('location')!);
      }
      // a purge pass answers 404 for a session before its record is gone: wait for both
      let left = locations.length;
      let sessions = -1;
      for (let i = 0; i < 100 && (left > 0 || sessions !== 0); i++) {
        await new Promise((r) => setTimeout(r, 200));
        left = 0;
        for (const loc of locations) {
          const r = await fetch(`${reg.url}${loc}`);
          await r.arrayBuffer();
          if (r.status !== 404) left++;
        }
        sessions = 0;
        for await (const _ of reg.running.registry.meta.allSessions()) sessions++;
      }
      assert.equal(left, 0, 'every abandoned session expired');
      assert.equal(sessions, 0, 'no session record is left');
      const metrics = await (await fetch(`${reg.url}/metrics`)).text();
      assert.match(metrics, /^tsregistry_upload_sessions 0$/m);
    } finally {
      await reg.close();
    }
  },
);

test('a client cannot hold more open upload sessions than its cap', async () => {
  const reg = await startRegistry({
    configure: (c) => {
      c.storage.uploads.maxperclient = 3;
    },
  });
  try {
    const open: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await openSession(reg.url, `cap/app${i}`);
      assert.equal(r.status, 202);
      open.push(r.headers.get('location')!);
    }
    const refused = await openSession(reg.url, 'cap/app9');
    await expectOciError(refused, 'TOOMANYREQUESTS', 429);
    assert.ok(refused.headers.get('retry-after'));
    // Finishing or cancelling one frees a place.
    const del = await fetch(`${reg.url}${open[0]}`, { method: 'DELETE' });
    assert.equal(del.status, 204);
    const again = await openSession(reg.url, 'cap/app9');
    assert.equal(again.status, 202);
    const metrics = await (await fetch(`${reg.url}/metrics`)).text();
    assert.match(metrics, /^tsregistry_upload_sessions 3$/m);
  } finally {
    await reg.close();
  }
});

test('/metrics does not walk upload sessions per scrape, and can move to http.debug', async () => {
  const reg = await startRegistry();
  try {
    for (let i = 0; i < 5; i++) assert.equal((await openSession(reg.url, 'm/app')).status, 202);
    const meta = reg.running.registry.meta;
    const original = meta.allSessions.bind(meta);
    let walks = 0;
    meta.allSessions = () => {
      walks++;
      return original();
    };
    const text = await (await fetch(`${reg.url}/metrics`)).text();
    assert.match(text, /^tsregistry_upload_sessions 5$/m);
    assert.equal(walks, 0, 'a scrape must not walk the sessions');
  } finally {
    await reg.close();
  }
  const split = await startRegistry({
    configure: (c) => {
      c.http.debug = { addr: '127.0.0.1:0' };
    },
  });
  try {
    const main = await fetch(`${split.url}/metrics`);
    assert.equal(main.status, 404);
    await main.arrayBuffer();
    const debug = await fetch(`${split.running.debugUrl}/metrics`);
    assert.equal(debug.status, 200);
    assert.match(await debug.text(), /tsregistry_upload_sessions/);
  } finally {
    await split.close();
  }
});

test(
  'real clients: curl sending 1 B/s to /token is cut; skopeo --creds still pushes and pulls',
  { timeout: 120_000 },
  async () => {
    const reg = await startRegistry({
      auth: { users: { ci: { password: 'cipw', access: ['repository:ci/*:pull,push'] } } },
      configure: (c) => {
        c.http.timeouts.bodyidle = 2;
        c.storage.uploads.maxperclient = 8;
        c.storage.maintenance.uploadpurging = {
          enabled: true,
          age: 600,
          interval: 1,
          dryrun: false,
        };
      },
    });
    const dir = mkdtempSync(join(tmpdir(), 'tsreg-slow-'));
    try {
      writeFileSync(
        join(dir, 'form'),
        `grant_type=password&username=ci&password=${'x'.repeat(500)}`,
      );
      const curl = await run(
        'curl',
        [
          '-sS',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          '--limit-rate',
          '1',
          '--max-time',
          '60',
          '-H',
          'Content-Type: application/x-www-form-urlencoded',
          '--data-binary',
          `@${join(dir, 'form')}`,
          `${reg.url}/token`,
        ],
        { timeoutMs: 90_000 },
      );
      assert.ok(
        curl.stdout === '408' || curl.status !== 0,
        `curl: ${curl.status} ${curl.stdout} ${curl.stderr}`,
      );
      assert.notEqual(curl.status, 28, 'cut by the server, not by curl --max-time');
      writeOciLayout(join(dir, 'layout'), 'v1', makeImage([300_000, 200_000, 100_000]));
      const copy = (src: string, dst: string) =>
        run('skopeo', [
          'copy',
          '--src-tls-verify=false',
          '--dest-tls-verify=false',
          '--src-creds',
          'ci:cipw',
          '--dest-creds',
          'ci:cipw',
          src,
          dst,
        ]);
      let r = await copy(`oci:${join(dir, 'layout')}:v1`, `docker://${reg.host}/ci/app:v1`);
      assert.equal(r.status, 0, r.stderr);
      r = await copy(`docker://${reg.host}/ci/app:v1`, `oci:${join(dir, 'out')}:v1`);
      assert.equal(r.status, 0, r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await reg.close();
    }
  },
);
