// The image config built from instructions (pure): ENV replacement, CMD/ENTRYPOINT rules, SHELL
// wrapping, history text, and how RUN heredocs become argv (BuildKit's rules).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDockerfile } from '../../builder/instructions/dockerfile.js';
import { applyMeta, createdBy, emptyConfig, fromBase } from '../../builder/image/image-config.js';
import { expandInstruction } from '../../builder/plan/expand.js';
import { planBuild } from '../../builder/plan/plan.js';
import { StageVars } from '../../builder/plan/stage-vars.js';
import { runArgv } from '../../builder/exec/run-dispatch.js';
import type { RunInstruction } from '../../builder/instructions/types.js';

function configOf(text: string, base = emptyConfig('linux', 'amd64')) {
  const plan = planBuild(loadDockerfile(text));
  const cfg = fromBase(base);
  const vars = new StageVars({
    globals: plan.globals,
    buildArgs: new Map(),
    escape: '\\',
    imageEnv: cfg.config.Env ?? [],
    used: new Set(),
  });
  const state = { cmdSet: false };
  const history: string[] = [];
  for (const ins of plan.stages.at(-1)!.stage.instructions) {
    const step = expandInstruction(ins, vars, cfg.config.WorkingDir || '/');
    applyMeta(cfg, ins, step, state);
    history.push(createdBy(ins, step));
  }
  return { cfg, history };
}

test('ENV replaces in place-order; EXPOSE normalises and expands ranges; WORKDIR resolves relative paths', () => {
  const { cfg, history } = configOf(
    'FROM x\nENV A=1 B=2\nENV A=3\nEXPOSE 80 53/UDP 8000-8001 7000-7001/udp\nWORKDIR /a\nWORKDIR b\n',
  );
  assert.deepEqual(cfg.config.Env, [
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'A=3',
    'B=2',
  ]);
  assert.deepEqual(Object.keys(cfg.config.ExposedPorts!), [
    '80/tcp',
    '53/udp',
    '8000/tcp',
    '8001/tcp',
    '7000/udp',
    '7001/udp',
  ]);
  assert.equal(cfg.config.WorkingDir, '/a/b');
  assert.deepEqual(history.slice(0, 3), [
    'ENV A=1 B=2',
    'ENV A=3',
    // as BuildKit prints its port set: Go's map order (keys sorted as strings)
    'EXPOSE map[53/udp:{} 7000/udp:{} 7001/udp:{} 80/tcp:{} 8000/tcp:{} 8001/tcp:{}]',
  ]);
});

test('ENTRYPOINT resets an inherited CMD but not one set in this build; SHELL wraps shell form', () => {
  const base = emptyConfig('linux', 'amd64');
  base.config.Cmd = ['sh'];
  base.config.OnBuild = ['RUN x'];
  assert.equal(configOf('FROM x\nENTRYPOINT ["/e"]\n', base).cfg.config.Cmd, null);
  const kept = configOf('FROM x\nCMD ["c"]\nENTRYPOINT ["/e"]\n', base).cfg.config;
  assert.deepEqual(kept.Cmd, ['c']);
  assert.equal(kept.OnBuild, undefined, 'base ONBUILD triggers are consumed');
  const sh = configOf('FROM x\nSHELL ["/bin/bash", "-xc"]\nCMD echo $HOME\n').cfg.config;
  assert.deepEqual(sh.Cmd, ['/bin/bash', '-xc', 'echo $HOME']);
});

test('RUN heredocs: lone heredoc runs its body, shebang becomes a script, others are appended', () => {
  const runs = loadDockerfile(
    'FROM x\nRUN <<EOF\necho a\nEOF\nRUN <<EOF\n#!/bin/ash\necho b\nEOF\nRUN cat <<A > /f\nbody\nA\nRUN ["echo", "exec"]\n',
  ).stages[0]!.instructions as RunInstruction[];
  assert.deepEqual(runArgv(runs[0]!, undefined).argv, ['/bin/sh', '-c', 'echo a\n']);
  const script = runArgv(runs[1]!, undefined);
  assert.deepEqual(script.argv, ['/dev/pipes/EOF']);
  assert.equal(script.script?.content, '#!/bin/ash\necho b\n');
  assert.deepEqual(runArgv(runs[2]!, ['/bin/ash', '-c']).argv, [
    '/bin/ash',
    '-c',
    'cat <<A > /f\nbody\nA',
  ]);
  assert.deepEqual(runArgv(runs[3]!, undefined).argv, ['echo', 'exec']);
});
