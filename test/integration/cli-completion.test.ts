// `tsdock completion bash|zsh`: the scripts, loaded in the real shells, complete every command's
// flags, their choices and sub-commands from the same specs the commands parse with.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { requirePeer } from '../helpers/peers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TSDOCK = join(ROOT, 'dist', 'bin', 'tsdock.js');
const COMMANDS = Object.keys(
  (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> })
    .bin,
);

function script(shell: string): string {
  const r = spawnSync(TSDOCK, ['completion', shell], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  return r.stdout;
}

/** Runs `body` in a shell that sourced the completion script; returns its stdout lines. */
function inShell(shell: string, args: string[], text: string, body: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'tsdock-completion-'));
  try {
    const file = join(dir, `completion.${shell}`);
    writeFileSync(file, text);
    const r = spawnSync(shell, [...args, `source ${file}\n${body}`], {
      encoding: 'utf8',
      cwd: dir,
      env: { ...process.env, HOME: dir },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    return r.stdout.trimEnd().split('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('bash: every command is completed; flags, choices and sub-commands come from the specs', () => {
  const out = inShell(
    'bash',
    ['-c'],
    script('bash'),
    `complete -p ${COMMANDS.join(' ')} | wc -l
c() { COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); _tsdock_complete; echo "\${COMPREPLY[*]}"; }
c tsrun --me
c tsrun --cpu-p
c tsbuild --progress ''
c tsnetwork ''
c tsps -
c tsinspect --type i
c tsstop -t ''
c tsbuild -f ''
echo end`,
  );
  assert.deepEqual(out, [
    String(COMMANDS.length),
    '--memory',
    '--cpu-period',
    'auto plain tty quiet',
    'ls rm',
    '--all -a --quiet -q --help -h',
    'image',
    '',
    'completion.bash',
    'end',
  ]);
});

test('zsh: the script loads and registers a completion function for every command', (t) => {
  if (!requirePeer(t, 'zsh')) return;
  const out = inShell(
    'zsh',
    ['-f', '-c'],
    `autoload -U compinit; compinit -u -D\n${script('zsh')}`,
    `for c in ${COMMANDS.join(' ')}; do print -r -- "$c $_comps[$c]"; done
functions _tsdock_tsstop`,
  );
  for (const [i, c] of COMMANDS.entries()) assert.equal(out[i], `${c} _tsdock_${c}`);
  const body = out.slice(COMMANDS.length).join('\n');
  assert.match(body, /'-t\[Seconds to wait before killing the container\]:seconds: '/);
  assert.match(body, /'--timeout\[/);
});
