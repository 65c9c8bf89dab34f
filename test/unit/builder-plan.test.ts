// Build plan: global/stage ARG scoping, --build-arg, predefined ARGs, --target pruning, deps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDockerfile } from '../../builder/instructions/dockerfile.js';
import { dryRun } from '../../builder/plan/dry-run.js';
import { planBuild } from '../../builder/plan/plan.js';
import { StageVars } from '../../builder/plan/stage-vars.js';

const MULTI = `ARG BASE=busybox
ARG TAG=1.36
FROM \${BASE}:\${TAG} AS build
RUN echo build
FROM scratch AS unused
COPY a b
FROM build AS test
FROM \${BASE} AS final
COPY --from=build /out /out
RUN --mount=type=bind,from=test,target=/t true
`;

test('FROM expands global ARGs; build-args override defaults', () => {
  const plan = planBuild(loadDockerfile(MULTI), { buildArgs: new Map([['TAG', '2']]) });
  const build = plan.stages.find((s) => s.stage.name === 'build')!;
  assert.deepEqual(build.base, { kind: 'image', ref: 'busybox:2' });
  assert.ok(plan.usedArgs.has('TAG'));
});

test('--target builds only the stages it needs, dependencies first', () => {
  const all = planBuild(loadDockerfile(MULTI));
  assert.deepEqual(
    all.stages.map((s) => s.stage.name),
    ['build', 'test', 'final'],
  );
  const t = planBuild(loadDockerfile(MULTI), { target: 'test' });
  assert.deepEqual(
    t.stages.map((s) => s.stage.name),
    ['build', 'test'],
  );
  assert.deepEqual(t.stages[1]!.base, { kind: 'stage', index: 0 });
  const u = planBuild(loadDockerfile(MULTI), { target: 'unused' });
  assert.deepEqual(
    u.stages.map((s) => s.stage.name),
    ['unused'],
  );
  assert.deepEqual(u.stages[0]!.base, { kind: 'scratch' });
  assert.throws(
    () => planBuild(loadDockerfile(MULTI), { target: 'nope' }),
    /target stage "nope" could not be found/,
  );
});

test('COPY --from an image reference is not a stage dependency', () => {
  const p = planBuild(loadDockerfile('FROM scratch\nCOPY --from=alpine:3 /x /x\n'));
  assert.deepEqual(p.stages[0]!.deps, []);
  assert.throws(
    () => planBuild(loadDockerfile('FROM scratch AS a\nCOPY --from=b /x /x\nFROM scratch AS b\n')),
    /used before it is defined/,
  );
});

test('global ARGs are visible in a stage only once redeclared; ENV wins over ARG', () => {
  const df = loadDockerfile('ARG G=global\nARG H=h\nFROM x\nARG G\nARG S=stage-$G\nENV S=env\n');
  const plan = planBuild(df, { buildArgs: new Map([['HTTP_PROXY', 'http://p']]) });
  const vars = new StageVars({
    globals: plan.globals,
    buildArgs: plan.buildArgs,
    escape: '\\',
    imageEnv: ['PATH=/bin'],
    used: plan.usedArgs,
  });
  const loc = { file: 'Dockerfile', line: 1 };
  assert.equal(vars.expand('$G', loc), '');
  vars.declareArg({ name: 'G' }, loc);
  assert.equal(vars.expand('$G', loc), 'global');
  assert.equal(vars.expand('$H', loc), '');
  vars.declareArg({ name: 'S', defaultValue: 'stage-$G' }, loc);
  assert.equal(vars.expand('$S', loc), 'stage-global');
  vars.setEnv([{ key: 'S', value: 'env' }], loc);
  assert.equal(vars.expand('$S', loc), 'env');
  assert.deepEqual(vars.runArgs(), ['G=global']);
  assert.deepEqual(vars.runEnv(), ['G=global', 'PATH=/bin', 'S=env', 'HTTP_PROXY=http://p']);
});

test('ENV values see the state before the instruction; predefined platform ARGs', () => {
  const plan = planBuild(loadDockerfile('FROM x-$TARGETARCH\n'), { platform: 'linux/arm64' });
  assert.deepEqual(plan.stages[0]!.base, { kind: 'image', ref: 'x-arm64' });
  // As BuildKit: a global ARG without a value hides the automatic one (declare it in the stage).
  const hidden = planBuild(loadDockerfile('ARG TARGETARCH\nFROM x-$TARGETARCH\n'), {
    platform: 'linux/arm64',
  });
  assert.deepEqual(hidden.stages[0]!.base, { kind: 'image', ref: 'x-' });
  const vars = new StageVars({
    globals: plan.globals,
    buildArgs: new Map(),
    escape: '\\',
    imageEnv: ['A=old'],
    used: new Set(),
  });
  const loc = { file: 'Dockerfile', line: 1 };
  vars.setEnv(
    [
      { key: 'A', value: 'new' },
      { key: 'B', value: '$A' },
    ],
    loc,
  );
  assert.equal(vars.env.get('B'), 'old');
  vars.declareArg({ name: 'TARGETPLATFORM' }, loc);
  assert.equal(vars.expand('$TARGETPLATFORM', loc), 'linux/arm64');
});

test('FROM --platform sets that stage; the build platform stays --platform (for COPY --from images)', () => {
  const df = loadDockerfile(
    'FROM --platform=linux/s390x a AS x\nFROM --platform=linux/$BUILDARCH b\nCOPY --from=x /a /a\n',
  );
  const plan = planBuild(df, { platform: 'linux/arm64/v8' });
  // normalised as BuildKit's TARGETPLATFORM: arm64's default variant is dropped
  assert.deepEqual(plan.platform, { os: 'linux', architecture: 'arm64' });
  assert.equal(plan.stages[0]!.platform.architecture, 's390x');
  assert.equal(plan.stages[1]!.platform.architecture, planBuild(df).platform.architecture);
  assert.equal(planBuild(df).platform.variant, undefined);
});

test('dry run: a stage built FROM another starts with its ARGs (as the build does)', () => {
  const text =
    'FROM busybox AS base\nARG V=1\nFROM base AS child\n' +
    'RUN --mount=type=cache,target=/c${V:?unset} true\n' +
    'FROM busybox\nRUN --mount=type=cache,target=/c${V:?unset} true\n';
  const plan = planBuild(loadDockerfile(text), { target: 'child' });
  const steps = dryRun(plan);
  const run = steps.at(-1)!.at(-1)!;
  assert.equal(run.kind === 'run' && run.mounts[0]!.target, '/c1');
  // an unrelated stage does not inherit them
  assert.throws(() => dryRun(planBuild(loadDockerfile(text))), /Dockerfile:6: .*unset/);
});

test('the plan resolves COPY --from and RUN --mount from= once, per instruction and mount', () => {
  const text = [
    'ARG SRC=stage1',
    'FROM busybox AS stage0',
    'FROM busybox AS stage1',
    'FROM busybox AS stage2',
    'COPY --from=0 /a /a',
    'COPY --from=busybox:1.36 /b /b',
    'RUN --mount=type=cache,target=/c --mount=type=bind,from=$SRC,target=/s --mount=type=bind,FROM=stage0,target=/t true',
    'FROM scratch',
    'RUN --mount=type=bind,from=stage2,target=/x --mount=type=cache,from=alpine,target=/y true',
  ].join('\n');
  const plan = planBuild(loadDockerfile(text));
  const [s2, last] = [plan.stages.at(-2)!, plan.stages.at(-1)!];
  const [copy0, copyImage, run2] = s2.stage.instructions;
  assert.deepEqual(s2.sources.get(copy0!)?.copy, {
    from: '0',
    source: { kind: 'stage', index: 0 },
  });
  assert.deepEqual(s2.sources.get(copyImage!)?.copy?.source, {
    kind: 'image',
    ref: 'busybox:1.36',
  });
  // by position: no from= on the cache mount; a global ARG expanded; the key in any case
  assert.deepEqual(s2.sources.get(run2!)?.mounts, [
    undefined,
    { from: 'stage1', source: { kind: 'stage', index: 1 } },
    { from: 'stage0', source: { kind: 'stage', index: 0 } },
  ]);
  assert.deepEqual([...s2.deps].sort(), [0, 1]);
  assert.deepEqual(
    last.sources.get(last.stage.instructions[0]!)?.mounts.map((m) => m?.source),
    [
      { kind: 'stage', index: 2 },
      { kind: 'image', ref: 'alpine' },
    ],
  );
  assert.deepEqual(
    plan.stages.map((s) => s.stage.index),
    [0, 1, 2, 3],
  );
});

test('a mount names its stage with any case of from= (as the executor reads it): a dependency', () => {
  const text = 'FROM busybox AS builder\nFROM scratch\nRUN --mount=FROM=builder,target=/b true\n';
  const plan = planBuild(loadDockerfile(text));
  assert.deepEqual(
    plan.stages.map((s) => s.stage.index),
    [0, 1],
  );
  assert.deepEqual(plan.stages[1]!.deps, [0]);
});
