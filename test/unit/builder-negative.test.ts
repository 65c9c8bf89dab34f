// The negative Dockerfile set: each fixtures/dockerfiles/negative/<case>/ holds a Dockerfile,
// the exact error line expected, and optionally a `target` file; one test loops over them all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDockerfile } from '../../builder/instructions/dockerfile.js';
import { planBuild } from '../../builder/plan/plan.js';
import { dryRun } from '../../builder/plan/dry-run.js';
import { errorLine } from '../../shared/errors.js';
import { fixturesDir } from '../helpers/builder-fixtures.js';

const dir = join(fixturesDir(), 'dockerfiles', 'negative');

test('negative Dockerfiles fail with the expected line', () => {
  const cases = readdirSync(dir);
  assert.ok(cases.length >= 10);
  for (const name of cases) {
    const text = readFileSync(join(dir, name, 'Dockerfile'), 'utf8');
    const expected = readFileSync(join(dir, name, 'expected'), 'utf8').trimEnd();
    const targetFile = join(dir, name, 'target');
    const target = existsSync(targetFile) ? readFileSync(targetFile, 'utf8').trim() : undefined;
    let got = '(no error)';
    try {
      dryRun(planBuild(loadDockerfile(text), { target }));
    } catch (e) {
      got = errorLine(e);
    }
    assert.equal(got, expected, `case ${name}`);
  }
});
