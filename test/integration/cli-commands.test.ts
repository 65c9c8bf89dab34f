// Every command's command line, run as installed (the built file as an executable, through its
// launcher): --help is docker's layout and exits 0; an unknown flag or a bad flag value is one
// line `NAME: <what is wrong>; see 'NAME --help'` and exit 125, before any work: the state
// directory stays empty and a registry the image names gets no request.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'dist', 'bin');
const COMMANDS = Object.keys(
  (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> })
    .bin,
);

let dir = '';
let state = '';
let requests = 0;
const registry = createServer((_req, res) => {
  requests++;
  res.writeHead(404).end();
});
let host = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsdock-cli-'));
  state = join(dir, 'state');
  mkdirSync(state);
  await new Promise<void>((ok) => registry.listen(0, '127.0.0.1', ok));
  host = `127.0.0.1:${(registry.address() as AddressInfo).port}`;
});

after(async () => {
  registry.closeAllConnections();
  await new Promise<void>((ok) => registry.close(() => ok()));
  rmSync(dir, { recursive: true, force: true });
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `dist/bin/NAME.js ARGS` as an executable with every state and config dir in the temp dir. */
function run(name: string, args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(BIN, `${name}.js`), args, {
      env: {
        ...process.env,
        TSDOCK_ROOT: state,
        TSDOCK_CONFIG: join(state, 'config'),
        DOCKER_CONFIG: join(state, 'docker'),
        XDG_DATA_HOME: join(state, 'xdg'),
        REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(state, 'registry'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function assertRefused(name: string, r: Result, what: RegExp): void {
  const label = `${name}: ${r.stderr}`;
  assert.equal(r.code, 125, label);
  assert.equal(r.stdout, '', label);
  const lines = r.stderr.split('\n');
  assert.equal(lines.length, 2, `one line: ${label}`);
  assert.match(lines[0]!, new RegExp(`^${name}: .*; see '${name} --help'$`), label);
  assert.match(lines[0]!, what, label);
  assert.deepEqual(readdirSync(state), [], `${name} left something in its state dir`);
}

test('the commands are every bin/*.ts entry', () => {
  const sources = readdirSync(join(ROOT, 'bin'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3));
  assert.deepEqual([...COMMANDS].sort(), sources.sort());
});

test('--help: the same layout for every command, exit 0', async () => {
  for (const name of COMMANDS) {
    const r = await run(name, ['--help']);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.equal(r.stderr, '', name);
    const [usage, blank, summary] = r.stdout.split('\n');
    assert.match(usage!, new RegExp(`^Usage: ${name}( \\[OPTIONS\\])?( \\S.*)?$`), name);
    assert.equal(blank, '', name);
    assert.match(summary!, /^[A-Z].*\.$/, `${name}: a one-sentence summary`);
    assert.match(r.stdout, /\nOptions:\n(.*\n)*\s+(-h, )?--help\s+Print usage\n/, name);
  }
});

test('an unknown flag: one line, exit 125, nothing done', async () => {
  for (const name of COMMANDS) {
    const r = await run(name, ['--bogus', 'x', 'y']);
    assertRefused(name, r, /unknown flag: --bogus/);
    assertRefused(name, await run(name, ['-Z', 'x', 'y']), /unknown shorthand flag: 'Z' in -Z/);
  }
});

test('bad flag values and argument counts are refused before any work', async () => {
  const image = `${host}/team/absent:1`;
  const cases: [string, string[], RegExp][] = [
    ['tsrun', ['-m', '12zz', image, 'true'], /invalid argument "12zz" for "-m, --memory" flag/],
    ['tsrun', ['--cpus', '-1', image], /"--cpus" flag/],
    ['tsrun', ['-p', '99999:80', image], /"-p, --publish" flag: .*invalid port/],
    ['tsrun', ['-v', 'rel', image], /"-v, --volume" flag: invalid volume/],
    ['tsrun', ['--network', 'wifi', image], /"--network" flag: invalid network/],
    ['tsrun', ['--pids-limit', '0', image], /"--pids-limit" flag/],
    ['tsrun', ['--cpus', '1', '--cpu-quota', '5000', image], /--cpus conflicts/],
    ['tsrun', ['--add-host', 'nocolon', image], /"--add-host" flag/],
    ['tsrun', [], /"tsrun" requires at least 1 argument/],
    ['tsbuild', ['-m', '12zz', dir], /"-m, --memory" flag: invalid size/],
    ['tsbuild', ['--progress', 'fancy', dir], /use auto, plain, tty, quiet/],
    ['tsbuild', ['-t', 'Bad:Tag', dir], /"-t, --tag" flag/],
    ['tsbuild', ['--platform', 'linux/a/b/c', dir], /"--platform" flag/],
    ['tsbuild', ['--output', 'type=zip', dir], /"-o, --output" flag/],
    ['tsbuild', [dir, dir], /"tsbuild" accepts at most 1 argument/],
    ['tsbuild', ['-t', 'a:1'], /"tsbuild" requires exactly 1 argument \(the context/],
    ['tspull', ['--platform', 'linux//arm', image], /"--platform" flag/],
    ['tspull', ['--progress', 'x', image], /"--progress" flag/],
    ['tspush', ['--progress', 'x', image], /"--progress" flag/],
    ['tsstop', ['-t', 'soon', 'c1'], /"-t, --time" flag: expected a whole number/],
    ['tsstop', ['--timeout=-1', 'c1'], /"-t, --time" flag/],
    ['tskill', ['-s', 'NOPE', 'c1'], /"-s, --signal" flag: unknown signal/],
    ['tsps', ['extra'], /"tsps" accepts no arguments/],
    ['tslogs', [], /"tslogs" requires exactly 1 argument/],
    ['tsrm', [], /"tsrm" requires at least 1 argument/],
    ['tsimages', ['--filter', 'label=x'], /"-f, --filter" flag/],
    ['tsinspect', ['--type', 'volume', 'x'], /"--type" flag: use container, image/],
    ['tsinspect', ['--format', '{{.Foo', 'x'], /"-f, --format" flag/],
    ['tssave', ['--format', 'zip', 'x'], /"--format" flag/],
    ['tssave', ['--format', 'oci-dir', 'x'], /--format oci-dir needs -o/],
    ['tslogin', ['--password-stdin', host], /must provide --username/],
    ['tsregistry', ['--workers', '0'], /"--workers" flag/],
    ['tsregistry', ['gc', '--grace', 'soon'], /"--grace" flag/],
    ['tsregistry', ['user', 'rename', 'x'], /unknown user command "rename"/],
    ['tsnetwork', ['up'], /unknown command "up"/],
    ['tsnetwork', ['ls', 'x'], /"tsnetwork ls" takes no argument/],
    ['tsdock', ['completion', 'fish'], /unknown shell "fish"/],
    ['tsexec', ['c1'], /"tsexec" requires at least 2 arguments/],
    ['tscommit', ['c1'], /requires exactly 2 arguments/],
    ['tstag', ['a', 'B:x'], /repository name/i],
  ];
  for (const [name, args, what] of cases) assertRefused(name, await run(name, args), what);
  assert.equal(requests, 0, 'no command talked to the registry');
});
