// A headless Chromium for console tests and benchmarks: Debian's /usr/bin/chromium driven by
// puppeteer-core (no browser download), killed by its PID when closed, even when it hangs.
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

export interface HeadlessBrowser {
  browser: Browser;
  pid: number | undefined;
  /** A new page (tab) at `width` x `height` CSS pixels. */
  page(width?: number, height?: number): Promise<Page>;
  close(): Promise<void>;
}

export function chromiumInstalled(): boolean {
  return existsSync(CHROMIUM);
}

export async function launchChromium(): Promise<HeadlessBrowser> {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // --no-sandbox: tests run as root, where Chromium's sandbox refuses to start.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
    timeout: 30_000,
    protocolTimeout: 60_000,
  });
  const pid = browser.process()?.pid;
  return {
    browser,
    pid,
    async page(width = 1280, height = 800) {
      const page = await browser.newPage();
      page.setDefaultTimeout(20_000);
      await page.setViewport({ width, height });
      return page;
    },
    async close() {
      await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 5000))]).catch(
        () => {},
      );
      if (pid !== undefined)
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
    },
  };
}
