// CLI plumbing: the docker-style flag parser, runCli's one-line errors and exit codes (in a
// child process), --password-stdin reading, and the no-echo prompt on a real pseudo-terminal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  FlagError,
  UsageError,
  commandFlags,
  defineCommand,
  exitCodeOf,
  parseCommand,
  parseFlags,
  promptPassword,
  readPasswordFromStdin,
} from '../../shared/cli.js';
import { TsdockError } from '../../shared/errors.js';
import { helpText } from '../../shared/cli-help.js';
import { requirePeer } from '../helpers/peers.js';

const RUN = {
  name: { type: 'string' },
  detach: { type: 'boolean', short: 'd' },
  interactive: { type: 'boolean', short: 'i' },
  tty: { type: 'boolean', short: 't' },
  rm: { type: 'boolean' },
  env: { type: 'string', short: 'e', multiple: true },
  publish: { type: 'string', short: 'p', multiple: true },
  'cpu-quota': { type: 'string' },
  workdir: { type: 'string', short: 'w', default: '/' },
} as const;

function usageError(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UsageError && e instanceof TsdockError);
    assert.equal(e.message, message);
    assert.equal(e.hint, "see 'tsrun --help'");
    assert.equal(e.exitCode, 125);
    return true;
  });
}

test('long, short, combined, repeated flags and defaults', () => {
  const { values, positionals } = parseFlags(
    ['--name=web', '-it', '--rm', '-e', 'A=1', '--env', 'B=2', '-eC=3', '-p8080:80', 'img', 'x'],
    RUN,
    { name: 'tsrun' },
  );
  const name: string | undefined = values.name;
  const env: string[] | undefined = values.env;
  assert.equal(name, 'web');
  assert.equal(values.interactive, true);
  assert.equal(values.tty, true);
  assert.equal(values.rm, true);
  assert.equal(values.detach, undefined);
  assert.deepEqual(env, ['A=1', 'B=2', 'C=3']);
  assert.deepEqual(values.publish, ['8080:80']);
  assert.equal(values.workdir, '/');
  assert.deepEqual(positionals, ['img', 'x']);
});

test('values that look like flags, booleans with =, -- and a lone -', () => {
  const r = parseFlags(['--cpu-quota', '-1', '--rm=false', '-d=true', '--', '--name', 'x'], RUN);
  assert.equal(r.values['cpu-quota'], '-1');
  assert.equal(r.values.rm, false);
  assert.equal(r.values.detach, true);
  assert.deepEqual(r.positionals, ['--name', 'x']);
  assert.deepEqual(parseFlags(['-', 'a'], RUN).positionals, ['-', 'a']);
  assert.equal(parseFlags(['-itw', '/app'], RUN).values.workdir, '/app');
  assert.equal(parseFlags(['--name', 'a', '--name', 'b'], RUN).values.name, 'b');
});

test('stopAtFirstPositional leaves the command untouched', () => {
  const r = parseFlags(['-d', '--name', 'x', 'busybox', 'ls', '-la', '--rm', '--', 'y'], RUN, {
    stopAtFirstPositional: true,
  });
  assert.equal(r.values.detach, true);
  assert.equal(r.values.rm, undefined);
  assert.deepEqual(r.positionals, ['busybox', 'ls', '-la', '--rm', '--', 'y']);
  const without = parseFlags(['busybox', '--rm'], RUN);
  assert.equal(without.values.rm, true);
  assert.deepEqual(without.positionals, ['busybox']);
});

test('unknown and incomplete flags are usage errors with a hint', () => {
  const o = { name: 'tsrun' };
  usageError(() => parseFlags(['--foo'], RUN, o), 'unknown flag: --foo');
  usageError(() => parseFlags(['--foo=1'], RUN, o), 'unknown flag: --foo');
  usageError(() => parseFlags(['--constructor'], RUN, o), 'unknown flag: --constructor');
  usageError(() => parseFlags(['-x'], RUN, o), "unknown shorthand flag: 'x' in -x");
  usageError(() => parseFlags(['-itx'], RUN, o), "unknown shorthand flag: 'x' in -itx");
  usageError(() => parseFlags(['--name'], RUN, o), 'flag needs an argument: --name');
  usageError(() => parseFlags(['--a\nb'], RUN, o), 'unknown flag: --a\\nb');
  usageError(() => parseFlags(['-e'], RUN, o), "flag needs an argument: 'e' in -e");
  usageError(
    () => parseFlags(['--rm=maybe'], RUN, o),
    'invalid argument "maybe" for "--rm" flag: expected true or false',
  );
});

test('exitCodeOf', () => {
  assert.equal(exitCodeOf(new Error('x')), 125);
  assert.equal(exitCodeOf(new TsdockError('x', undefined, 127)), 127);
  assert.equal(exitCodeOf({ exitCode: 3 }), 3);
  assert.equal(exitCodeOf({ exitCode: 'x' }), 125);
  assert.equal(exitCodeOf(null), 125);
});

const cliModule = fileURLToPath(new URL('../../shared/cli.js', import.meta.url));
const errorsModule = fileURLToPath(new URL('../../shared/errors.js', import.meta.url));

function runScript(body: string, input?: string) {
  const script = `
    const { runCli, parseFlags } = await import(${JSON.stringify(cliModule)});
    const { TsdockError, NotFoundError } = await import(${JSON.stringify(errorsModule)});
    await runCli('tsfoo', async (argv) => { ${body} });`;
  // With -e there is no script path in argv[1]; 'tsfoo.js' stands in for it.
  return spawnSync(process.execPath, ['--input-type=module', '-e', script, 'tsfoo.js', 'a', 'b'], {
    encoding: 'utf8',
    input: input ?? '',
    env: { ...process.env, TSDOCK_DEBUG: '' },
  });
}

test('runCli: exit codes and one-line errors', () => {
  let r = runScript(`console.log(argv.join(',')); return 3;`);
  assert.equal(r.status, 3);
  assert.equal(r.stdout, 'a,b\n');
  r = runScript(`return;`);
  assert.equal(r.status, 0);
  r = runScript(`throw new NotFoundError('image x not found', 'pull it first');`);
  assert.equal(r.status, 125);
  assert.equal(r.stderr, 'tsfoo: image x not found: pull it first\n');
  r = runScript(`throw new Error('first line\\nsecond line');`);
  assert.equal(r.status, 125);
  assert.equal(r.stderr, 'tsfoo: first line\n');
  r = runScript(`throw new TsdockError('not found', undefined, 127);`);
  assert.equal(r.status, 127);
  r = runScript(
    `setTimeout(() => Promise.reject(new NotFoundError('late', 'x')), 1); await new Promise((r) => setTimeout(r, 1000)); return 0;`,
  );
  assert.equal(r.status, 125);
  assert.equal(r.stderr, 'tsfoo: late: x\n');
  r = runScript(
    `setTimeout(() => { throw new TsdockError('thrown', undefined, 126); }, 1); await new Promise((r) => setTimeout(r, 1000)); return 0;`,
  );
  assert.equal(r.status, 126);
  assert.equal(r.stderr, 'tsfoo: thrown\n');
  r = runScript(`parseFlags(['--x'], {}, { name: 'tsfoo' });`);
  assert.equal(r.status, 125);
  assert.equal(r.stderr, "tsfoo: unknown flag: --x; see 'tsfoo --help'\n");
});

test('runCli: a closed stdout pipe ends quietly', () => {
  const script = `
    const { runCli } = await import(${JSON.stringify(cliModule)});
    await runCli('tsfoo', async () => { for (;;) { if (!process.stdout.write('y\\n'.repeat(1000))) await new Promise((r) => process.stdout.once('drain', r)); } });`;
  const r = spawnSync(
    'bash',
    [
      '-c',
      `"${process.execPath}" --input-type=module -e "$S" | head -c 10 >/dev/null; echo "\${PIPESTATUS[0]}"`,
    ],
    {
      encoding: 'utf8',
      env: { ...process.env, S: script },
      timeout: 20_000,
    },
  );
  assert.equal(r.stderr, '');
  assert.equal(r.stdout.trim(), '0');
});

test('readPasswordFromStdin drops one trailing newline only', async () => {
  assert.equal(await readPasswordFromStdin(Readable.from([Buffer.from('s3cr:et\n')])), 's3cr:et');
  assert.equal(await readPasswordFromStdin(Readable.from([Buffer.from('a b\r\n')])), 'a b');
  assert.equal(await readPasswordFromStdin(Readable.from(['pw\r'])), 'pw');
  assert.equal(await readPasswordFromStdin(Readable.from([' pw '])), ' pw ');
  assert.equal(await readPasswordFromStdin(Readable.from(['x\n', '\n'])), 'x\n');
  await assert.rejects(readPasswordFromStdin(Readable.from([])), /no password on stdin/);
  await assert.rejects(readPasswordFromStdin(Readable.from(['\n'])), UsageError);
});

test('promptPassword refuses without a terminal', async () => {
  if (process.stdin.isTTY) return;
  await assert.rejects(promptPassword('Password: '), /cannot prompt: stdin is not a terminal/);
});

test('promptPassword on a pseudo-terminal: no echo, backspace works', async (t) => {
  if (!requirePeer(t, 'script')) return;
  const js = `import(${JSON.stringify(cliModule)}).then(async (m) => { const p = await m.promptPassword('Password: '); console.log('GOT[' + p + ']'); })`;
  // type only once the prompt is up (the terminal is then in no-echo mode), however slow the start
  const child = spawn(
    'script',
    ['-qec', `${process.execPath} -e "${js.replace(/"/g, '\\"')}"`, '/dev/null'],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  let out = '';
  let typed = false;
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    if (!typed && out.includes('Password: ')) {
      typed = true;
      child.stdin.write('sec\x7fret\r');
    }
    // script(1) ends when its input ends: close it only after the answer is back
    if (out.includes('GOT[')) child.stdin.end();
  });
  await new Promise((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  assert.match(out, /Password: /);
  assert.match(out, /GOT\[seret\]/);
  assert.doesNotMatch(out.replace(/GOT\[seret\]/, ''), /se|ret/);
});

test('parseCommand: aliases, choices, value checks, argument counts, --help', () => {
  const spec = defineCommand({
    name: 'tsfoo',
    usage: 'A [B]',
    summary: 'Does foo.',
    args: { min: 1, max: 2 },
    flags: {
      time: { type: 'string', short: 't', aliases: ['timeout'], description: 'Seconds' },
      mode: { type: 'string', choices: ['a', 'b'], description: 'Mode' },
      size: {
        type: 'string',
        description: 'Size',
        check: (v) => {
          if (!/^\d+$/.test(v)) throw new TsdockError('not a number');
        },
      },
    },
  });
  const p = parseCommand(spec, ['--timeout=3', '--mode', 'b', '--size', '12', 'x']);
  assert.deepEqual(p?.values, { time: '3', mode: 'b', size: '12' });
  assert.equal(parseCommand(spec, ['--help']), undefined);
  assert.equal(parseCommand(spec, ['-h']), undefined);
  const refused = (argv: string[], line: string) =>
    assert.throws(
      () => parseCommand(spec, argv),
      (e: unknown) => e instanceof FlagError && e.toLine() === line && e.exitCode === 125,
    );
  refused(
    ['--mode', 'c', 'x'],
    `invalid argument "c" for "--mode" flag: use a, b; see 'tsfoo --help'`,
  );
  refused(
    ['--size', '12zz', 'x'],
    `invalid argument "12zz" for "--size" flag: not a number; see 'tsfoo --help'`,
  );
  refused([], `"tsfoo" requires at least 1 argument; see 'tsfoo --help'`);
  refused(['a', 'b', 'c'], `"tsfoo" accepts at most 2 arguments; see 'tsfoo --help'`);
  const help = helpText(spec, commandFlags(spec));
  assert.match(help, /^Usage: tsfoo \[OPTIONS\] A \[B\]\n\nDoes foo\.\n\nOptions:\n/);
  assert.match(help, /\n {2}-t, --time string {3}Seconds\n/);
  assert.match(help, /\n {6}--mode string {3}Mode \(a, b\)\n/);
  assert.match(help, /\n {2}-h, --help {10}Print usage\n$/);
});
