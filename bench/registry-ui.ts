// Benchmark: how fast the web console shows its lists, measured in a real browser (Debian's
// chromium, headless, puppeteer-core). A tsregistry child process holds REPOS small
// repositories and one repository with TAGS tags (one manifest PUT under each tag, 16 at a
// time). Per round, after sign-in: a fresh navigation to the repositories page and to the big
// repository's tag page, each timed from navigation start to the list painted (the page's
// `list-painted` mark), and the registry requests each page view made (paginated: no full
// catalog or tag list fetched before painting). Beside it, the peer: `skopeo list-tags` of the
// same repository (all tags, no rendering). Prints medians and the ratio skopeo/console.
// Usage: node dist/bench/registry-ui.js [TAGS=5000] [REPOS=200] [ROUNDS=5]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
import { UsersFile } from '../registry/auth/users.js';
import { launchChromium } from '../test/helpers/browser.js';
import { basic, makeImage, pushImage, spawnRegistry } from '../test/helpers/registry-server.js';
import { tagMany } from '../test/helpers/ui-images.js';

const TAGS = Number(process.argv[2] ?? 5000);
const REPOS = Number(process.argv[3] ?? 200);
const ROUNDS = Number(process.argv[4] ?? 5);
const BIG = 'bench/big';
const USER = 'admin';
const PASSWORD = 'benchpw';

/** Per view: ms from navigation start until the console's script had run (page and bundle loaded). */
const shell: number[] = [];
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function adminHeaders(url: string, scope: string): Promise<Record<string, string>> {
  const res = await fetch(`${url}/token?service=tsregistry&scope=${encodeURIComponent(scope)}`, {
    headers: { Authorization: basic(USER, PASSWORD) },
  });
  const { token } = (await res.json()) as { token: string };
  return { Authorization: `Bearer ${token}` };
}

/**
 * Opens `hash` in a fresh navigation: ms from navigation start to `list-painted`, the registry
 * requests made by then, and the cumulative layout shift in the second after.
 */
async function timeView(
  page: Page,
  url: string,
  hash: string,
): Promise<[number, string[], number]> {
  await page.goto('about:blank');
  const requests: string[] = [];
  const onRequest = (r: { url(): string }): void => void requests.push(r.url());
  page.on('request', onRequest);
  await page.goto(`${url}/ui/${hash}`);
  await page.waitForFunction(`performance.getEntriesByName('list-painted').length > 0`, {
    timeout: 30_000,
  });
  const ms = (await page.evaluate(
    `performance.getEntriesByName('list-painted')[0].startTime`,
  )) as number;
  shell.push(
    (await page.evaluate(
      `performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd`,
    )) as number,
  );
  page.off('request', onRequest);
  // Layout shift while the rows' details and the later pages arrive (CLS, 1 s after paint).
  const cls = (await page.evaluate(`new Promise((resolve) => {
    let sum = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (!e.hadRecentInput) sum += e.value;
    }).observe({ type: 'layout-shift', buffered: true });
    setTimeout(() => resolve(sum), 1000);
  })`)) as number;
  return [ms, requests.filter((u) => /\/(v2|ui\/api|token)\b/.test(u)), cls];
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'tsreg-uibench-'));
  new UsersFile(join(root, 'auth', 'users.json')).add(USER, PASSWORD);
  const reg = await spawnRegistry(root, 'auth:\n  token:\n    service: tsregistry\n');
  const chrome = await launchChromium();
  try {
    let t = Date.now();
    const base = makeImage([4096, 8192]);
    for (let i = 0; i < REPOS; i++) {
      const repo = `team-${i % 10}/app-${String(i).padStart(3, '0')}`;
      await pushImage(
        reg.url,
        repo,
        'v1',
        base,
        await adminHeaders(reg.url, `repository:${repo}:pull,push`),
      );
    }
    const fill = (Date.now() - t) / 1000;
    const headers = await adminHeaders(reg.url, `repository:${BIG}:pull,push`);
    await pushImage(reg.url, BIG, 'seed', base, headers);
    t = Date.now();
    await tagMany(reg.url, BIG, base.manifest, TAGS, headers);
    const tagging = (Date.now() - t) / 1000;

    const page = await chrome.page(1280, 800);
    await page.goto(`${reg.url}/ui/`);
    await page.waitForSelector('input[name=user]');
    await page.type('input[name=user]', USER);
    await page.type('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('tr[data-repo]');

    const repoTimes: number[] = [];
    const tagTimes: number[] = [];
    let repoRequests: string[] = [];
    let tagRequests: string[] = [];
    let repoShift = 0;
    let tagShift = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const [a, ra, ca] = await timeView(page, reg.url, '#/');
      const [b, rb, cb] = await timeView(page, reg.url, `#/r/${BIG}`);
      repoShift = Math.max(repoShift, ca);
      tagShift = Math.max(tagShift, cb);
      repoTimes.push(a);
      tagTimes.push(b);
      repoRequests = ra;
      tagRequests = rb;
    }
    await page.waitForFunction(`!document.querySelector('.count').textContent.endsWith('…')`);
    const shownTags = (await page.$eval('[data-tag-count]', (el) =>
      Number(el.getAttribute('data-tag-count')),
    )) as number;

    const skopeo: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const s = Date.now();
      const r = spawnSync('skopeo', [
        'list-tags',
        '--tls-verify=false',
        '--creds',
        `${USER}:${PASSWORD}`,
        `docker://${reg.host}/${BIG}`,
      ]);
      if (r.status !== 0) throw new Error(`skopeo list-tags: ${r.stderr.toString()}`);
      skopeo.push(Date.now() - s);
    }
    const count = (reqs: string[], re: RegExp): number => reqs.filter((u) => re.test(u)).length;
    const rows = [
      ['repositories page, list painted', median(repoTimes)],
      [`${TAGS}-tag repository page, first rows painted`, median(tagTimes)],
      ['of which: page and script loaded and run (DOMContentLoaded)', median(shell)],
      [`skopeo list-tags of the same ${TAGS} tags (peer, no rendering)`, median(skopeo)],
    ] as const;
    console.log(`| what (${REPOS + 1} repositories, median of ${ROUNDS}) | ms |`);
    console.log('|---|---|');
    for (const [what, ms] of rows) console.log(`| ${what} | ${ms.toFixed(0)} |`);
    console.log('');
    console.log(
      `ratio skopeo list-tags / console tag page: ${(median(skopeo) / median(tagTimes)).toFixed(2)}x` +
        ` (>1: the console shows the first rows sooner than skopeo lists the tags)`,
    );
    console.log(
      `requests per repositories page view: ${count(repoRequests, /\/ui\/api\/repositories\?n=50\b/)} page of 50 names,` +
        ` ${count(repoRequests, /\/v2\/_catalog/)} catalog fetches;` +
        ` tag page, by the time it painted: ${count(tagRequests, /\/tags\/list\?n=1000/)} pages of 1000 tag names` +
        ` (the rest follow; ${shownTags} listed in the end), ${count(tagRequests, /\/manifests\//)} manifests for the rows in view`,
    );
    console.log(
      `layout shift (CLS, worst of ${ROUNDS}) while details load: repositories ${repoShift.toFixed(3)}, tag page ${tagShift.toFixed(3)}`,
    );
    console.log(
      `setup: ${REPOS} repositories pushed in ${fill.toFixed(1)} s; ${TAGS} tags PUT (16 at a time) in ${tagging.toFixed(1)} s`,
    );
  } finally {
    await chrome.close();
    await reg.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
