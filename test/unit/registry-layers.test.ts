// The registry's layers (registry/services/registry.ts): handlers speak to the services, never
// to the metadata store. Checked on the sources, so a handler that reaches into
// `registry.meta` again fails here rather than in review.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const handlers = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'registry',
  'handlers',
);

test('handlers use the services, not the metadata store', () => {
  const files = readdirSync(handlers).filter((f) => f.endsWith('.ts'));
  assert.ok(files.includes('catalog.ts') && files.includes('tags.ts'), `sources in ${handlers}`);
  const offenders = files.flatMap((f) => {
    const text = readFileSync(join(handlers, f), 'utf8');
    return text
      .split('\n')
      .map((line, i) => ({ line, at: `${f}:${i + 1}` }))
      .filter(({ line }) => /\.meta\b/.test(line) || /from '\.\.\/metadata\//.test(line))
      .map(({ at, line }) => `${at}: ${line.trim()}`);
  });
  assert.deepEqual(offenders, []);
});
