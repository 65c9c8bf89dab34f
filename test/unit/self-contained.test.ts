// The repository stands alone: its code, docs and fixtures cite only files inside it, never
// notes kept outside (a PEERS.md, a DESIGN.md, a shared folder) or the numbers of issues a
// reader of the repository cannot see.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SKIP = new Set(['node_modules', 'dist', '.git', '.work', 'package-lock.json']);
const OUTSIDE = /\b(PEERS|DESIGN|STYLE)\.md\b|\/work\/shared|\(issue \d+|\bissue #?\d+\b/;

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (statSync(path).size < 1 << 20) yield path;
  }
}

test('no references to notes or issues outside the repository', () => {
  const found: string[] = [];
  let read = 0;
  for (const path of files(repo)) {
    const text = readFileSync(path, 'utf8');
    read++;
    text.split('\n').forEach((line, i) => {
      // this file names the patterns it looks for
      if (OUTSIDE.test(line) && !path.endsWith('self-contained.test.ts'))
        found.push(`${relative(repo, path)}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.ok(read > 100, `read the repository at ${repo}`);
  assert.deepEqual(found, []);
});
