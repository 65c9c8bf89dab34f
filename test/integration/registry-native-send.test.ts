// Blob bodies sent by the blobsend helper (sendfile(2), registry/native/blobsend.c): a stored
// blob and ranges of it come out byte for byte (and skopeo, which verifies digests, pulls it);
// the connection stays usable for the next request (keep-alive); a client that hangs up mid-blob
// leaves no helper behind and the server serving; the helper follows a file that is still
// growing; and a proxied blob whose upstream bytes do not match the digest reaches no client
// whole (the helper stops one byte short, then the connection is cut).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  makeImage,
  pushImage,
  run,
  sha256,
  startRegistry,
  type TestRegistry,
} from '../helpers/registry-server.js';
import {
  NATIVE_MIN,
  nativeSendStats,
} from '../../registry/storage/drivers/filesystem/native-send.js';

/** Above the helper's threshold (NATIVE_MIN), with room for a range of that size. */
const BLOB = NATIVE_MIN + 8 * 1024 * 1024;
const helperBin = fileURLToPath(new URL('../../native/blobsend', import.meta.url));
let registry: TestRegistry;
let liar: http.Server;
let proxy: TestRegistry;
let blob: Buffer;
let blobUrl: string;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'tsdock-native-send-'));
  registry = await startRegistry();
  const image = makeImage([BLOB]);
  blob = image.layers[0]!;
  await pushImage(registry.url, 'library/big', 'v1', image);
  blobUrl = `${registry.url}/v2/library/big/blobs/${sha256(blob)}`;
  // an upstream whose bytes never match the digest asked for
  liar = http.createServer((req, res) => {
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    if (req.url === '/v2/') return void res.end('{}');
    const body = randomBytes(BLOB);
    res.writeHead(200, { 'content-length': String(body.length) }).end(body);
  });
  await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve));
  const remoteurl = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;
  proxy = await startRegistry({
    configure: (c) => {
      c.proxy = {
        maxsize: 0,
        upstreams: [
          { prefix: 'liar', remoteurl, ttl: 60, tls: { insecureskipverify: false }, local: [] },
        ],
      };
    },
  });
});

after(async () => {
  await proxy?.close();
  await registry?.close();
  liar?.closeAllConnections();
  await new Promise<void>((resolve) => (liar ? liar.close(() => resolve()) : resolve()));
  rmSync(work, { recursive: true, force: true });
});

/** GETs over one kept-alive connection, returning the status and the body of each. */
async function getAll(
  requests: Array<{ url: string; headers?: Record<string, string> }>,
): Promise<Array<{ status: number; body: Buffer }>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const out: Array<{ status: number; body: Buffer }> = [];
  try {
    for (const r of requests) {
      out.push(
        await new Promise((resolve, reject) => {
          const req = http.get(r.url, { agent, headers: r.headers }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
            res.on('error', reject);
          });
          req.setTimeout(20_000, () => req.destroy(new Error(`no answer from ${r.url}`)));
          req.on('error', reject);
        }),
      );
    }
  } finally {
    agent.destroy();
  }
  return out;
}

/** blobsend processes whose parent is this test process. */
function ourHelpers(): number[] {
  const r = spawnSync('pgrep', ['-P', String(process.pid), '-x', 'blobsend'], { encoding: 'utf8' });
  return r.stdout.trim() ? r.stdout.trim().split('\n').map(Number) : [];
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + 10_000; !check();) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a stored blob and a range of it go out through the helper, on one kept-alive connection', async () => {
  const started = nativeSendStats.started;
  const [whole, range, again] = await getAll([
    { url: blobUrl },
    { url: blobUrl, headers: { range: `bytes=1000-${1000 + NATIVE_MIN - 1}` } },
    { url: blobUrl },
  ]);
  assert.equal(whole!.status, 200);
  assert.ok(whole!.body.equals(blob), 'the whole blob, byte for byte');
  assert.equal(range!.status, 206);
  assert.ok(range!.body.equals(blob.subarray(1000, 1000 + NATIVE_MIN)), 'the range, byte for byte');
  assert.ok(again!.body.equals(blob), 'the connection still serves the next request');
  assert.equal(nativeSendStats.started - started, 3, 'every body went through blobsend');
});

test('skopeo pulls an image whose layer goes out through the helper', async () => {
  const dest = join(work, 'pulled');
  const started = nativeSendStats.started;
  // asynchronously: the registry serves from this process
  const r = await run(
    'skopeo',
    ['copy', '--src-tls-verify=false', `docker://${registry.host}/library/big:v1`, `dir:${dest}`],
    { timeoutMs: 120_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const hex = sha256(blob).slice('sha256:'.length);
  const pulled = spawnSync('sha256sum', [join(dest, hex)], { encoding: 'utf8' });
  assert.equal(pulled.stdout.split(' ')[0], hex);
  assert.equal(nativeSendStats.started - started, 1, 'the layer went through blobsend');
});

test('a client hanging up mid-blob leaves no helper running, and the server serves on', async () => {
  const { port } = new URL(registry.url);
  const path = new URL(blobUrl).pathname;
  await new Promise<void>((resolve, reject) => {
    const s = net.connect(Number(port), '127.0.0.1', () =>
      s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`),
    );
    let got = 0;
    s.on('data', (c: Buffer) => {
      got += c.length;
      if (got > 64 * 1024) {
        s.pause(); // the helper blocks on a full socket, then the client goes
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 100);
      }
    });
    s.on('error', reject);
  });
  await eventually(() => ourHelpers().length === 0, 'the helper to go');
  const [next] = await getAll([{ url: blobUrl }]);
  assert.ok(next!.body.equals(blob));
});

test('the helper follows a file that is still being written', async () => {
  const file = join(work, 'growing');
  const first = randomBytes(300_000);
  const rest = randomBytes(700_000);
  writeFileSync(file, first);
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const received = new Promise<Buffer>((resolve) =>
      server.once('connection', (c) => {
        const chunks: Buffer[] = [];
        c.on('data', (d: Buffer) => chunks.push(d));
        c.on('end', () => resolve(Buffer.concat(chunks)));
      }),
    );
    const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
    await new Promise((r) => client.once('connect', r));
    const fd = openSync(file, 'r');
    const total = first.length + rest.length;
    const child = spawn(helperBin, ['0', String(total - 1), 'follow'], {
      stdio: [fd, (client as unknown as { _handle: { fd: number } })._handle.fd, 'pipe'],
    });
    closeSync(fd);
    const exited = new Promise<number | null>((r) => child.once('close', r));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(child.exitCode, null, 'it waits for the rest');
    appendFileSync(file, rest);
    assert.equal(await exited, 0);
    client.end();
    const got = await received;
    assert.equal(
      createHash('sha256').update(got).digest('hex'),
      createHash('sha256')
        .update(Buffer.concat([first, rest]))
        .digest('hex'),
    );
    // without follow, a file shorter than the range is an error (exit 4), not a wait
    const shortFd = openSync(file, 'r');
    try {
      const short = spawnSync(helperBin, ['0', String(total + 10)], {
        stdio: [shortFd, 'ignore', 'pipe'],
      });
      assert.equal(short.status, 4);
    } finally {
      closeSync(shortFd);
    }
  } finally {
    server.close();
  }
});

test('a proxied blob whose upstream bytes do not match reaches no client whole', async () => {
  const started = nativeSendStats.started;
  const url = `${proxy.url}/v2/liar/library/x/blobs/${sha256('not what the liar sends')}`;
  const results = await Promise.all(
    [1, 2].map(
      () =>
        new Promise<{ status: number; bytes: number; complete: boolean }>((resolve) => {
          http
            .get(url, (res) => {
              let bytes = 0;
              res.on('data', (c: Buffer) => (bytes += c.length));
              res.on('end', () =>
                resolve({ status: res.statusCode!, bytes, complete: res.complete }),
              );
              res.on('error', () => resolve({ status: res.statusCode!, bytes, complete: false }));
            })
            .on('error', () => resolve({ status: -1, bytes: 0, complete: false }));
        }),
    ),
  );
  for (const r of results) {
    assert.ok(r.bytes < BLOB, `a client got ${r.bytes} of ${BLOB} bytes`);
    assert.ok(r.status !== 200 || !r.complete, 'cut off or refused');
  }
  assert.ok(nativeSendStats.started - started >= 1, 'the clients were fed by blobsend');
  await eventually(() => ourHelpers().length === 0, 'the helpers to go');
});
