// Locates the repository's fixtures/ folder from compiled tests (dist*/test/...) or sources.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function fixturesDir(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(d, 'fixtures', 'dockerfiles'))) return join(d, 'fixtures');
    d = dirname(d);
  }
  throw new Error('fixtures/dockerfiles not found above the test file');
}
