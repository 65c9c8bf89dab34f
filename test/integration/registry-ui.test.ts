// The web console in a real browser (Debian's chromium, headless, driven by puppeteer-core):
// sign in, the repositories page, a repository's tags with digests and sizes cross-checked
// against `skopeo inspect`, an image's config and history, a two-platform index pushed with
// `skopeo copy --all`, referrers, deleting a tag as a user with the grant and failing to as one
// without, an admin adding a user who then signs in, the GC and storage pages. Screenshots of
// each page at 390 and 1280 px go to .work/ui-screenshots/. Also: CSP, `/` -> `/ui/`, and
// `ui.enabled: false`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
import { launchChromium, type HeadlessBrowser } from '../helpers/browser.js';
import { missingReason, requirePeer } from '../helpers/peers.js';
import { describedImage, tagMany, writeLayout } from '../helpers/ui-images.js';
import {
  basic,
  makeImage,
  pushImage,
  run,
  sha256 as sha,
  startRegistry,
  type TestRegistry,
} from '../helpers/registry-server.js';

const SHOTS = join(process.cwd(), '.work', 'ui-screenshots');
const ADMIN = { user: 'admin', password: 'adminpw' };
const ALICE = { user: 'alice', password: 'alicepw' };
const BOB = { user: 'bob', password: 'bobpw' };

let reg: TestRegistry;
let chrome: HeadlessBrowser | undefined;
let dir: string;

const skopeo = (...args: string[]) => run('skopeo', args, { timeoutMs: 60_000 });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsreg-ui-'));
  mkdirSync(SHOTS, { recursive: true });
  reg = await startRegistry({
    auth: {
      users: {
        admin: { password: ADMIN.password },
        alice: {
          password: ALICE.password,
          access: ['repository:team-a/*:pull,push,delete', 'registry:catalog:*'],
        },
        bob: { password: BOB.password, access: ['repository:team-a/*:pull', 'registry:catalog:*'] },
      },
    },
    // GC from the console frees what was deleted a moment before.
    configure: (c) => (c.storage.maintenance.gc.grace = 0),
  });
  if (missingReason('chromium') === undefined) chrome = await launchChromium();
});

after(async () => {
  await chrome?.close();
  await reg?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function push(layout: string, ref: string, all = false): Promise<void> {
  const r = await skopeo(
    'copy',
    ...(all ? ['--all'] : []),
    '--dest-tls-verify=false',
    '--dest-creds',
    `${ADMIN.user}:${ADMIN.password}`,
    `oci:${layout}:x`,
    `docker://${reg.host}/${ref}`,
  );
  assert.equal(r.status, 0, r.stderr);
}

async function inspect(ref: string, raw = false): Promise<{ status: number | null; out: string }> {
  const r = await skopeo(
    'inspect',
    ...(raw ? ['--raw'] : []),
    '--tls-verify=false',
    '--creds',
    `${ADMIN.user}:${ADMIN.password}`,
    `docker://${reg.host}/${ref}`,
  );
  return { status: r.status, out: r.stdout + r.stderr };
}

/** Screenshots the page as it is at 390 px (a phone) and 1280 px wide. */
async function shoot(page: Page, name: string): Promise<void> {
  for (const width of [390, 1280]) {
    await page.setViewport({ width, height: width === 390 ? 844 : 800 });
    await new Promise((r) => setTimeout(r, 150));
    await page.screenshot({ path: join(SHOTS, `${name}-${width}.png`) as `${string}.png` });
  }
}

async function adminToken(scope: string): Promise<string> {
  const res = await fetch(
    `${reg.url}/token?service=tsregistry&scope=${encodeURIComponent(scope)}`,
    {
      headers: { Authorization: basic(ADMIN.user, ADMIN.password) },
    },
  );
  assert.equal(res.status, 200);
  return ((await res.json()) as { token: string }).token;
}

async function signIn(page: Page, who: { user: string; password: string }): Promise<void> {
  await page.goto(`${reg.url}/`);
  assert.match(page.url(), /\/ui\/$/);
  await page.waitForSelector('form[aria-label="Sign in"]');
  await page.type('input[name=user]', who.user);
  await page.type('input[name=password]', who.password);
  await page.click('form[aria-label="Sign in"] button[type=submit]');
  await page.waitForSelector(`.who [data-user="${who.user}"]`);
}

async function signOut(page: Page): Promise<void> {
  await page.click('.who button');
  await page.waitForSelector('form[aria-label="Sign in"]');
}

async function openHash(page: Page, hash: string): Promise<void> {
  await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
}

test('the console: sign in, repositories, tags, manifest, index, referrers, delete, admin', async (t) => {
  if (!requirePeer(t, 'skopeo', 'chromium') || !chrome) return;
  // Content: team-a/app:v1 and :v2 (images with config and history), team-a/multi (an index
  // of linux/amd64 and linux/arm64), other/tool.
  const v1 = describedImage('amd64', [3000, 5000]);
  const v2 = describedImage('amd64', [7000]);
  const arm = describedImage('arm64', [4000]);
  writeLayout(join(dir, 'v1'), 'x', [v1], ['amd64']);
  writeLayout(join(dir, 'v2'), 'x', [v2], ['amd64']);
  writeLayout(join(dir, 'multi'), 'x', [v1, arm], ['amd64', 'arm64']);
  await push(join(dir, 'v1'), 'team-a/app:v1');
  await push(join(dir, 'v2'), 'team-a/app:v2');
  await push(join(dir, 'multi'), 'team-a/multi:latest', true);
  await push(join(dir, 'v2'), 'other/tool:1.0');
  // What skopeo says about v1: its digest and the bytes of its config and layers.
  const seen = JSON.parse((await inspect('team-a/app:v1')).out) as { Digest: string };
  const rawText = (await inspect('team-a/app:v1', true)).out;
  const raw = JSON.parse(rawText) as {
    config: { size: number };
    layers: Array<{ size: number }>;
  };
  const v1Size = raw.config.size + raw.layers.reduce((n, l) => n + l.size, 0);

  // A referrer of v1: an SBOM artifact whose subject is v1.
  const token = await adminToken('repository:team-a/app:pull,push');
  const empty = Buffer.from('{}');
  await fetch(`${reg.url}/v2/team-a/app/blobs/uploads/?digest=${sha(empty)}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream' },
    body: empty,
  });
  const sbom = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/spdx+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha(empty), size: 2 },
      layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest: sha(empty), size: 2 }],
      subject: {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: seen.Digest,
        size: Buffer.byteLength(rawText),
      },
    }),
  );
  const put = await fetch(`${reg.url}/v2/team-a/app/manifests/${sha(sbom)}`, {
    method: 'PUT',
    headers: {
      Authorization: `Bearer ${token}`,
      'Content-Type': 'application/vnd.oci.image.manifest.v1+json',
    },
    body: sbom,
  });
  assert.equal(put.status, 201, await put.text());

  // alice: sign in, the repositories page.
  const page = await chrome.page();
  await page.goto(`${reg.url}/`);
  await page.waitForSelector('form[aria-label="Sign in"]');
  await shoot(page, 'login');
  await signIn(page, ALICE);
  await page.waitForSelector('tr[data-repo="team-a/app"]');
  const repos = await page.$$eval('tr[data-repo]', (rows) =>
    rows.map((r) => [
      r.getAttribute('data-repo'),
      Number(r.querySelector('[data-bytes]')!.getAttribute('data-bytes')),
    ]),
  );
  assert.deepEqual(
    repos.map(([name]) => name),
    ['other/tool', 'team-a/app', 'team-a/multi'],
  );
  assert.ok(
    repos.every(([, bytes]) => (bytes as number) > 0),
    JSON.stringify(repos),
  );
  await page.type('input[type=search]', 'multi');
  await page.waitForFunction(`document.querySelectorAll('tr[data-repo]').length === 1`);
  await shoot(page, 'repositories');

  // The tags of team-a/app, with the digest and size skopeo reports.
  await openHash(page, '#/r/team-a/app');
  await page.waitForSelector('[data-tag="v1"][data-digest]');
  const row = await page.$eval('[data-tag="v1"]', (el) => ({
    digest: el.getAttribute('data-digest'),
    size: Number(el.getAttribute('data-size')),
    text: el.textContent,
  }));
  assert.equal(row.digest, seen.Digest);
  assert.equal(row.size, v1Size);
  assert.match(row.text!, /linux\/amd64/);
  const copy = await page.$eval('[data-tag="v1"] [data-copy^="docker pull"]', (el) =>
    el.getAttribute('data-copy'),
  );
  assert.equal(copy, `docker pull ${reg.host}/team-a/app:v1`);
  await shoot(page, 'tags');

  // v1's manifest page: config, history lines, layers, the SBOM referrer.
  await openHash(page, `#/r/team-a/app/m/v1`);
  await page.waitForSelector('[data-artifact-type="application/spdx+json"]');
  const text = await page.$eval('main', (el) => el.textContent ?? '');
  for (const expected of [
    'NAME=World',
    '["/entry.sh"]',
    'ADD file:layer1 in /app',
    'CMD ["python" "app.py"]',
    'org.opencontainers.image.title=ui-test',
  ])
    assert.ok(text.includes(expected), `manifest page lacks ${expected}`);
  const layerSizes = await page.$$eval('[data-layer-size]', (rows) =>
    rows.map((r) => Number(r.getAttribute('data-layer-size'))),
  );
  assert.deepEqual(
    layerSizes,
    raw.layers.map((l) => l.size),
  );
  await shoot(page, 'manifest');

  // The index: both platforms.
  await openHash(page, '#/r/team-a/multi/m/latest');
  await page.waitForSelector('[data-platform="linux/arm64"]');
  const platforms = await page.$$eval('[data-platform]', (rows) =>
    rows.map((r) => r.getAttribute('data-platform')),
  );
  assert.deepEqual(platforms, ['linux/amd64', 'linux/arm64']);
  // Each platform's bytes, as skopeo reads them.
  const index = JSON.parse((await inspect('team-a/multi:latest', true)).out) as {
    manifests: Array<{ digest: string; platform: { architecture: string } }>;
  };
  for (const child of index.manifests) {
    const m = JSON.parse((await inspect(`team-a/multi@${child.digest}`, true)).out) as {
      config: { size: number };
      layers: Array<{ size: number }>;
    };
    const bytes = m.config.size + m.layers.reduce((n, l) => n + l.size, 0);
    const shown = await page.waitForSelector(
      `[data-platform="linux/${child.platform.architecture}"] [data-size="${bytes}"]`,
    );
    assert.ok(shown);
  }
  await shoot(page, 'index');

  // 300 tags: the list is virtualized (few rows in the DOM), and works with the keyboard.
  await push(join(dir, 'v1'), 'team-a/many:seed');
  const pushToken = await adminToken('repository:team-a/many:pull,push');
  await tagMany(reg.url, 'team-a/many', Buffer.from(rawText), 300, {
    Authorization: `Bearer ${pushToken}`,
  });
  await openHash(page, '#/r/team-a/many');
  await page.waitForSelector('[data-tag-count="301"]');
  const domRows = await page.$$eval('[data-row]', (rows) => rows.length);
  assert.ok(domRows > 5 && domRows < 80, `${domRows} rows in the DOM for 301 tags`);
  await page.focus('.vlist');
  for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.waitForFunction(`location.hash === '#/r/team-a/many/m/t00002'`);
  await page.waitForSelector('[data-digest]');
  // Dark mode (prefers-color-scheme): the page background turns dark.
  await openHash(page, '#/r/team-a/app');
  await page.waitForSelector('[data-tag="v1"][data-digest]');
  await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'dark' }]);
  const background = await page.evaluate(`getComputedStyle(document.body).backgroundColor`);
  assert.equal(background, 'rgb(17, 20, 24)');
  await shoot(page, 'tags-dark');
  await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'light' }]);

  // bob may pull but not delete: no Delete button, and the registry refuses his session's token.
  await signOut(page);
  await signIn(page, BOB);
  await openHash(page, '#/r/team-a/app');
  await page.waitForSelector('[data-tag="v2"][data-digest]');
  assert.equal(await page.$('[aria-label="Delete tag v2"]'), null);
  const status = await page.evaluate(`(async () => {
    const s = JSON.parse(sessionStorage.getItem('tsregistry-ui-session'));
    const body = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: s.refreshToken,
      client_id: 'tsregistry-ui',
      scope: 'repository:team-a/app:delete',
    });
    const t = await (await fetch('/token', { method: 'POST', body })).json();
    const res = await fetch('/v2/team-a/app/manifests/v2', {
      method: 'DELETE',
      headers: { Authorization: 'Bearer ' + t.access_token },
    });
    return res.status;
  })()`);
  assert.equal(status, 401);
  assert.equal((await inspect('team-a/app:v2')).status, 0);

  // alice deletes v2 after confirming; skopeo no longer finds it, v1 stays.
  await signOut(page);
  await signIn(page, ALICE);
  await openHash(page, '#/r/team-a/app');
  await page.waitForSelector('[aria-label="Delete tag v2"]');
  await page.click('[aria-label="Delete tag v2"]');
  await page.waitForSelector('dialog.confirm[open]');
  await shoot(page, 'delete-confirm');
  await page.click('dialog.confirm button.danger');
  await page.waitForFunction(`!document.querySelector('[data-tag="v2"]')`);
  await page.waitForSelector('[data-tag="v1"]');
  const gone = await inspect('team-a/app:v2');
  assert.notEqual(gone.status, 0);
  assert.match(gone.out, /manifest unknown|not found|MANIFEST_UNKNOWN/i);
  assert.equal((await inspect('team-a/app:v1')).status, 0);
  // alice deletes the SBOM manifest by digest from its page; v1 then has no referrer.
  await openHash(page, `#/r/team-a/app/m/${sha(sbom)}`);
  await page.waitForSelector(`[data-digest="${sha(sbom)}"]`);
  await page.click('.manifest .rowactions button.danger');
  await page.waitForSelector('dialog.confirm[open]');
  await page.click('dialog.confirm button.danger');
  await page.waitForFunction(`location.hash === '#/r/team-a/app'`);
  assert.notEqual((await inspect(`team-a/app@${sha(sbom)}`)).status, 0);
  await openHash(page, '#/r/team-a/app/m/v1');
  await page.waitForSelector('.referrers');
  assert.equal(await page.$('[data-artifact-type]'), null);
  // alice is no admin: no admin pages in the navigation.
  assert.equal(await page.$('a[href="#/admin/users"]'), null);

  // admin: storage, GC, mirror cache, then users: adds carol, who signs in, edits her grants
  // and password, removes bob.
  await signOut(page);
  await signIn(page, ADMIN);
  await openHash(page, '#/admin/storage');
  await page.waitForSelector('[data-bar="team-a/app"]');
  const total = await page.$eval('[data-total]', (el) => Number(el.getAttribute('data-total')));
  assert.ok(total > v1Size, `total ${total}`);
  await shoot(page, 'storage');
  await openHash(page, '#/admin/gc');
  await page.waitForSelector('main .actions button');
  await page.click('main .actions button');
  await page.waitForSelector('[data-gc-report="dry"]');
  const wouldFree = await page.$eval('[data-gc-report]', (el) => el.getAttribute('data-bytes'));
  // Start a collection (confirmed): it frees what the dry run said (the SBOM deleted above).
  await page.click('main .actions button.danger');
  await page.waitForSelector('dialog.confirm[open]');
  await page.click('dialog.confirm button.danger');
  await page.waitForSelector('[data-gc-report="run"]');
  const freed = await page.$eval('[data-gc-report]', (el) => el.getAttribute('data-bytes'));
  assert.equal(freed, wouldFree);
  assert.ok(Number(freed) > 0, `freed ${freed}`);
  await page.waitForFunction(`document.querySelectorAll('tr[data-run]').length === 2`);
  await shoot(page, 'gc');
  await openHash(page, '#/admin/cache');
  await page.waitForFunction(`/proxy mode is not configured/.test(document.body.textContent)`);
  await openHash(page, '#/admin/users');
  await page.waitForSelector('[data-user="alice"]');
  await page.type('form[aria-label="Add a user"] input[name=name]', 'carol');
  await page.type('form[aria-label="Add a user"] input[name=password]', 'carolpw');
  await page.type('form[aria-label="Add a user"] textarea', 'repository:team-a/*:pull');
  await page.click('form[aria-label="Add a user"] button[type=submit]');
  await page.waitForSelector('section[data-user="carol"]');
  await shoot(page, 'users');
  // carol may pull team-a/* but not list the catalog: she opens the repository by name.
  await signOut(page);
  await signIn(page, { user: 'carol', password: 'carolpw' });
  await page.waitForSelector('input[aria-label="Repository name"]');
  await page.type('input[aria-label="Repository name"]', 'team-a/app');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-tag="v1"][data-digest]');
  assert.equal(await page.$('[aria-label="Delete tag v1"]'), null);
  // The admin gives her the catalog and delete, and a new password, in her card.
  await signOut(page);
  await signIn(page, ADMIN);
  await openHash(page, '#/admin/users');
  const card = 'section[data-user="carol"]';
  await page.waitForSelector(card);
  await page.$eval(`${card} textarea`, (el) => ((el as unknown as { value: string }).value = ''));
  await page.type(`${card} textarea`, 'repository:team-a/*:pull,delete\nregistry:catalog:*');
  await page.click(`${card} button`); // Save grants
  await page.waitForFunction(`/Saved the grants of carol/.test(document.body.textContent)`);
  await page.type(`${card} input[type=password]`, 'carolpw2');
  await page.click(`${card} .actions button:not(.danger)`); // Reset password
  await page.waitForFunction(`/Reset the password of carol/.test(document.body.textContent)`);
  await signOut(page);
  await signIn(page, { user: 'carol', password: 'carolpw2' });
  await page.waitForSelector('tr[data-repo="team-a/app"]');
  await openHash(page, '#/r/team-a/app');
  await page.waitForSelector('[aria-label="Delete tag v1"]');
  // And removes bob, after confirming: his password no longer signs in.
  await signOut(page);
  await signIn(page, ADMIN);
  await openHash(page, '#/admin/users');
  await page.waitForSelector('section[data-user="bob"]');
  await page.click('section[data-user="bob"] .actions button.danger');
  await page.waitForSelector('dialog.confirm[open]');
  await page.click('dialog.confirm button.danger');
  await page.waitForFunction(`!document.querySelector('section[data-user="bob"]')`);
  await signOut(page);
  await page.type('input[name=user]', BOB.user);
  await page.type('input[name=password]', BOB.password);
  await page.click('form[aria-label="Sign in"] button[type=submit]');
  // The error shows in the form (no browser password dialog: the 401 has no Basic challenge).
  await page.waitForSelector('form[aria-label="Sign in"] .error');
  await page.close();
});

test('the mirror cache page lists what a proxy cached', async (t) => {
  if (!requirePeer(t, 'skopeo', 'chromium') || !chrome) return;
  // A second tsregistry mirrors this one under the prefix `mirror/`.
  const proxy = await startRegistry({
    auth: { users: { admin: { password: ADMIN.password } } },
    configure: (c) => {
      c.proxy = {
        maxsize: 0,
        upstreams: [
          {
            prefix: 'mirror',
            remoteurl: reg.url,
            username: ADMIN.user,
            password: ADMIN.password,
            ttl: 3600,
            tls: { insecureskipverify: false },
            local: [],
          },
        ],
      };
    },
  });
  try {
    const r = await skopeo(
      'copy',
      '--src-tls-verify=false',
      '--src-creds',
      `${ADMIN.user}:${ADMIN.password}`,
      `docker://${proxy.host}/mirror/team-a/app:v1`,
      `dir:${join(dir, 'pulled')}`,
    );
    assert.equal(r.status, 0, r.stderr);
    const page = await chrome.page();
    await page.goto(`${proxy.url}/ui/`);
    await page.waitForSelector('input[name=user]');
    await page.type('input[name=user]', ADMIN.user);
    await page.type('input[name=password]', ADMIN.password);
    await page.click('button[type=submit]');
    await page.waitForSelector('.who [data-user="admin"]');
    await page.evaluate(`location.hash = '#/admin/cache'`);
    await page.waitForSelector('tr[data-cached="mirror/team-a/app"]');
    const kinds = await page.$$eval('tr[data-cached]', (rows) =>
      rows.map((row) => row.getAttribute('data-kind')),
    );
    assert.ok(kinds.includes('manifest') && kinds.includes('blob'), kinds.join());
    await shoot(page, 'mirror-cache');
    await page.close();
  } finally {
    await proxy.close();
  }
});

test('console responses carry a strict CSP; / redirects to /ui/', async () => {
  const res = await fetch(`${reg.url}/`, { redirect: 'manual' });
  assert.equal(res.status, 302);
  assert.equal(res.headers.get('location'), '/ui/');
  const page = await fetch(`${reg.url}/ui/`);
  assert.equal(page.status, 200);
  const csp = page.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  const html = await page.text();
  const js = /src="(assets\/app\.js\?v=[0-9a-f]+)"/.exec(html);
  assert.ok(js, html);
  const asset = await fetch(`${reg.url}/ui/${js[1]}`);
  assert.equal(asset.status, 200);
  assert.match(asset.headers.get('content-type') ?? '', /javascript/);
  // The repositories endpoint needs the catalog grant, like /v2/_catalog.
  const anon = await fetch(`${reg.url}/ui/api/repositories`);
  assert.equal(anon.status, 401);
});

test('a registry without auth: the console needs no sign-in', async (t) => {
  if (!requirePeer(t, 'chromium') || !chrome) return;
  const open = await startRegistry();
  try {
    await pushImage(open.url, 'ci/app', 'v1', makeImage([2000]));
    const page = await chrome.page();
    await page.goto(`${open.url}/`);
    await page.waitForSelector('tr[data-repo="ci/app"]');
    assert.equal(await page.$('form[aria-label="Sign in"]'), null);
    await page.evaluate(`location.hash = '#/r/ci/app'`);
    await page.waitForSelector('[data-tag="v1"][data-digest]');
    await page.waitForSelector('[aria-label="Delete tag v1"]');
    await page.close();
  } finally {
    await open.close();
  }
});

test('ui.enabled: false serves no console', async () => {
  const off = await startRegistry({ configure: (c) => (c.ui.enabled = false) });
  try {
    assert.equal((await fetch(`${off.url}/ui/`)).status, 404);
    assert.equal((await fetch(`${off.url}/`, { redirect: 'manual' })).status, 404);
  } finally {
    await off.close();
  }
});
