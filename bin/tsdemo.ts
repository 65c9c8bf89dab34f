#!/usr/bin/env node
// tsdemo: walks the reference workflow (bin/demo/reference-workflow.ts) against $TSDOCK_ROOT:
// starts tsregistry on embedded defaults, builds, runs, commits, pushes and pulls the example app,
// printing each step. Ports: REGISTRY_HTTP_ADDR (default 127.0.0.1:5000), TSDEMO_PORT (8080).
import { join } from 'node:path';
import { runCommand } from '../shared/cli.js';
import { TsdockError } from '../shared/errors.js';
import { configDir, tsdockRoot } from '../shared/paths.js';
import { runReferenceWorkflow } from './demo/reference-workflow.js';
import { tsdemoCommand } from './commands/tsdemo.js';

function port(value: string | undefined, fallback: number, what: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value.split(':').at(-1));
  if (!Number.isInteger(n) || n <= 0 || n > 65535)
    throw new TsdockError(`${what}: bad port in "${value}"`);
  return n;
}

void runCommand(tsdemoCommand, async () => {
  if (process.getuid?.() !== 0)
    throw new TsdockError('tsdemo runs containers: run it as root (sudo make demo)');
  const root = tsdockRoot();
  console.log(`tsdemo: TSDOCK_ROOT=${root}`);
  await runReferenceWorkflow({
    root,
    configDir: configDir(),
    registryPort: port(process.env['REGISTRY_HTTP_ADDR'], 5000, 'REGISTRY_HTTP_ADDR'),
    hostPort: port(process.env['TSDEMO_PORT'], 8080, 'TSDEMO_PORT'),
    dataDir: join(root, 'demo'),
  });
  return 0;
});
