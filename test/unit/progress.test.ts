// Progress display: plain lines (start and finish only) off a TTY; in-place redraws on a TTY,
// throttled, with finished items leaving the live block.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProgress, formatBytes } from '../../shared/progress.js';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = {
    isTTY,
    columns: 60,
    write(s: string) {
      chunks.push(s);
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  return { stream, text: () => chunks.join(''), chunks };
}

const ESC = '\u001b';
/** The cursor-up-and-erase sequences written, as line counts. */
function moves(text: string): number[] {
  return [...text.matchAll(new RegExp(`${ESC}\\[(\\d+)F${ESC}\\[J`, 'g'))].map((m) => Number(m[1]));
}

test('plain mode prints start and finish lines only', () => {
  const s = sink(false);
  const p = createProgress(s.stream);
  const a = p.item('a3ed95caeb02', 'Pulling fs layer');
  const b = p.item('b0c1', 'Pulling fs layer');
  for (let i = 0; i < 1000; i++) a.update(i, 1000);
  a.done('Pull complete');
  a.done('again');
  b.fail('connection reset');
  p.line('Digest: sha256:abc');
  p.end();
  assert.equal(
    s.text(),
    [
      'a3ed95caeb02: Pulling fs layer',
      'b0c1: Pulling fs layer',
      'a3ed95caeb02: Pull complete',
      'b0c1: failed: connection reset',
      'Digest: sha256:abc',
      '',
    ].join('\n'),
  );
  assert.ok(!s.text().includes(ESC));
});

test('tty mode redraws in place, throttled, and lets finished items scroll out', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const s = sink(true);
  const p = createProgress(s.stream);
  const a = p.item('aaa', 'Downloading');
  const b = p.item('bbb', 'Downloading');
  const writes = s.chunks.length;
  for (let i = 1; i <= 100; i++) a.update(i * 10_000, 1_000_000);
  assert.equal(s.chunks.length, writes, 'updates are batched');
  t.mock.timers.tick(99);
  assert.equal(s.chunks.length, writes, 'no redraw before the throttle interval');
  t.mock.timers.tick(1);
  assert.equal(s.chunks.length, writes + 1, 'one redraw for all the batched updates');
  const last = s.chunks.at(-1)!;
  assert.ok(last.startsWith(`${ESC}[2F${ESC}[J`), 'moves up over the 2-line block');
  assert.match(last, /aaa: Downloading \[=+>? *\] 1\.00MB\/1\.00MB/);
  assert.match(last, /bbb: Downloading\n$/);
  a.done('Download complete');
  // `aaa` was the top item: printed one last time, then the block holds only `bbb`.
  assert.match(s.chunks.at(-1)!, /aaa: Download complete\nbbb: Downloading\n$/);
  p.line('a log line');
  const afterLine = s.text().slice(s.text().lastIndexOf('a log line'));
  assert.match(afterLine, /^a log line\nbbb: Downloading\n/);
  b.done();
  p.end();
  const m = moves(s.text());
  assert.ok(m.length > 0 && m.every((n) => n <= 2), `cursor stays within the block: ${m}`);
  assert.match(s.text(), /bbb: done\n$/);
});

test('a block taller than the screen is summarised', () => {
  const s = sink(true);
  (s.stream as unknown as { rows: number }).rows = 6;
  const p = createProgress(s.stream);
  const items = Array.from({ length: 10 }, (_, i) => p.item(`l${i}`, 'Waiting'));
  const last = s.chunks.at(-1)!;
  assert.ok(last.startsWith(`${ESC}[4F`), 'moves up over the 4 lines drawn');
  assert.match(last, /l0: Waiting\nl1: Waiting\nl2: Waiting\n\.\.\. and 7 more\n$/);
  items[0]!.done();
  assert.match(
    s.chunks.at(-1)!,
    /l0: done\nl1: Waiting\nl2: Waiting\nl3: Waiting\n\.\.\. and 6 more\n$/,
  );
  assert.ok(moves(s.text()).every((n) => n <= 4));
  p.end();
});

test('tty lines are cut to the terminal width', () => {
  const s = sink(true);
  const p = createProgress(s.stream);
  p.item('x', 'y'.repeat(200));
  assert.ok(
    s
      .text()
      .split('\n')
      .every((l) => l.length <= 59),
  );
  p.end();
});

test('quiet mode and byte formatting', () => {
  const s = sink(true);
  const p = createProgress(s.stream, { mode: 'quiet' });
  p.item('a', 'b').done();
  p.line('x');
  assert.equal(s.text(), '');
  assert.equal(formatBytes(512), '512B');
  assert.equal(formatBytes(1500), '1.50kB');
  assert.equal(formatBytes(12_345_678), '12.3MB');
  assert.equal(formatBytes(268_435_456), '268MB');
});
