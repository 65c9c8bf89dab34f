// Runs tsdock's compiled command-line tools for the reference workflow (bin/demo): each call is
// printed as the user would type it, and a non-zero exit becomes one clear error.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TsdockError } from '../../shared/errors.js';

/** The directory holding the compiled tools (dist/bin, or a helper's outDir/bin). */
export const BIN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The repository root (where fixtures/ is), found from this file's location. */
export function repoRoot(): string {
  let dir = BIN_DIR;
  while (!existsSync(join(dir, 'fixtures', 'example-app', 'Dockerfile'))) {
    const up = dirname(dir);
    if (up === dir) throw new TsdockError('cannot find fixtures/example-app above ' + BIN_DIR);
    dir = up;
  }
  return dir;
}

export interface ToolResult {
  status: number;
  stdout: string;
  stderr: string;
}

export class Tools {
  constructor(
    readonly env: NodeJS.ProcessEnv,
    readonly log: (line: string) => void,
  ) {}

  /** Runs `tool args...`; throws with its stderr unless `allowFail`. */
  run(
    tool: string,
    args: string[],
    opts: { input?: string; allowFail?: boolean; quiet?: boolean; timeoutMs?: number } = {},
  ): ToolResult {
    if (!opts.quiet) this.log(`$ ${[tool, ...args].map(quote).join(' ')}`);
    const res = spawnSync(process.execPath, [join(BIN_DIR, `${tool}.js`), ...args], {
      env: this.env,
      encoding: 'utf8',
      input: opts.input ?? '',
      timeout: opts.timeoutMs ?? 120_000,
    });
    const out = { status: res.status ?? -1, stdout: res.stdout ?? '', stderr: res.stderr ?? '' };
    if (out.status !== 0 && !opts.allowFail) {
      const why = out.stderr.trim().split('\n').slice(-3).join(' | ') || `exit ${out.status}`;
      throw new TsdockError(`${tool} ${args.join(' ')} failed: ${why}`);
    }
    return out;
  }

  /** Starts a long-running tool in the background (the registry). */
  spawn(tool: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.log(`$ ${[tool, ...args].join(' ')} &`);
    return spawn(process.execPath, [join(BIN_DIR, `${tool}.js`), ...args], {
      env: { ...this.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }
}

function quote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** Throws a workflow error unless `ok`. */
export function check(ok: boolean, what: string, got: string): void {
  if (!ok) throw new TsdockError(`${what}; got: ${got.trim().slice(0, 400) || '(nothing)'}`);
}
