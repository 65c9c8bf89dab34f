// Dockerfile front end: directives, continuations, heredocs, typed instructions and their errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile } from '../../builder/parse/dockerfile-parser.js';
import { loadDockerfile } from '../../builder/instructions/dockerfile.js';
import { extractFlags, parseWords } from '../../builder/parse/words.js';
import { parseGoDuration } from '../../builder/instructions/healthcheck.js';
import { parseRunMount } from '../../builder/instructions/mounts.js';

const stage0 = (text: string) => loadDockerfile(text).stages[0]!.instructions;

test('directives: syntax and escape; escape changes continuation', () => {
  const p = parseDockerfile('# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN a `\n  b\n');
  assert.equal(p.directives.syntax, 'docker/dockerfile:1');
  assert.equal(p.directives.escape, '`');
  assert.equal(p.instructions[1]!.args, 'a   b');
  assert.equal(p.instructions[1]!.line, 4);
  assert.throws(
    () => parseDockerfile('# escape=x\nFROM a\n'),
    /Dockerfile:1: invalid escape token/,
  );
});

test('continuations drop comment and empty lines; line numbers are kept', () => {
  const p = parseDockerfile('FROM x\n\nRUN echo a \\\n  # inner comment\n\n  b\nUSER me\n');
  assert.equal(p.instructions[1]!.args, 'echo a   b');
  assert.equal(p.instructions[1]!.line, 3);
  assert.equal(p.instructions[1]!.endLine, 6);
  assert.equal(p.instructions[2]!.line, 7);
});

test('heredocs: plain, chomp, quoted, several on one line', () => {
  const p = parseDockerfile(
    'FROM x\nRUN <<EOF\necho $A\nEOF\nRUN <<-"END" cat >/a && <<B cat >/b\n\tline1\n\tEND\nb1\nB\nCOPY <<EOF /dst\nFROM inside\nEOF\nUSER u\n',
  );
  const [, r1, r2, c] = p.instructions;
  assert.deepEqual(r1!.heredocs, [
    { name: 'EOF', content: 'echo $A\n', expand: true, chomp: false },
  ]);
  assert.equal(r2!.heredocs.length, 2);
  assert.deepEqual(r2!.heredocs[0], {
    name: 'END',
    content: 'line1\n',
    expand: false,
    chomp: true,
  });
  assert.deepEqual(r2!.heredocs[1], { name: 'B', content: 'b1\n', expand: true, chomp: false });
  assert.equal(c!.heredocs[0]!.content, 'FROM inside\n');
  assert.equal(p.instructions[4]!.keyword, 'USER');
  assert.equal(p.instructions.length, 5);
});

test('parseWords keeps quotes; ENV forms', () => {
  assert.deepEqual(parseWords('a="b c" d=e\\ f', '\\'), ['a="b c"', 'd=e\\ f']);
  const [env1, env2, env3] = stage0(
    'FROM x\nENV A=1 B="two words"\nENV OLD form with spaces\nENV C=\n',
  );
  assert.deepEqual(env1!.kind === 'ENV' && env1!.pairs, [
    { key: 'A', value: '1' },
    { key: 'B', value: '"two words"' },
  ]);
  assert.deepEqual(env2!.kind === 'ENV' && env2!.pairs, [
    { key: 'OLD', value: 'form with spaces' },
  ]);
  assert.deepEqual(env3!.kind === 'ENV' && env3!.pairs, [{ key: 'C', value: '' }]);
});

test('flags are extracted and validated per instruction', () => {
  const f = extractFlags('--from=build --chown="1:2" --link a b');
  assert.deepEqual(
    [...f.flags],
    [
      ['from', ['build']],
      ['chown', ['1:2']],
      ['link', [true]],
    ],
  );
  assert.equal(f.rest, 'a b');
  const [copy, run] = stage0(
    'FROM x\nCOPY --from=b --chmod=0755 a* b/ /dst/\nRUN --mount=type=cache,target=/c --mount=type=secret,id=s --network=none ["sh","-c","x"]\n',
  );
  assert.ok(copy!.kind === 'COPY');
  assert.deepEqual(copy.sources, ['a*', 'b/']);
  assert.equal(copy.dest, '/dst/');
  assert.equal(copy.chmod, '0755');
  assert.ok(run!.kind === 'RUN');
  assert.deepEqual(run.mounts, ['type=cache,target=/c', 'type=secret,id=s']);
  assert.equal(run.network, 'none');
  assert.deepEqual(run.command, { shellForm: false, args: ['sh', '-c', 'x'] });
});

test('every instruction kind parses', () => {
  const ins = stage0(
    [
      'FROM busybox AS Base',
      'WORKDIR /app',
      'ADD --checksum=sha256:00 http://x/y /y',
      'COPY . /app',
      'RUN echo hi',
      'ENV A=1',
      'ARG V=2 W',
      'LABEL a=b "c d"=e',
      'EXPOSE 80 443/udp',
      'USER 1000:1000',
      'VOLUME ["/data", "/logs"]',
      'ENTRYPOINT ["/bin/sh"]',
      'CMD echo hi',
      'SHELL ["/bin/ash", "-c"]',
      'STOPSIGNAL SIGTERM',
      'HEALTHCHECK --interval=5s --retries=3 CMD wget -q localhost',
      'ONBUILD RUN echo trigger',
      'MAINTAINER me',
    ].join('\n'),
  );
  assert.deepEqual(
    ins.map((i) => i.kind),
    [
      'WORKDIR',
      'ADD',
      'COPY',
      'RUN',
      'ENV',
      'ARG',
      'LABEL',
      'EXPOSE',
      'USER',
      'VOLUME',
      'ENTRYPOINT',
      'CMD',
      'SHELL',
      'STOPSIGNAL',
      'HEALTHCHECK',
      'ONBUILD',
      'MAINTAINER',
    ],
  );
  const hc = ins[14]!;
  assert.ok(hc.kind === 'HEALTHCHECK');
  assert.deepEqual(hc.health, {
    Test: ['CMD-SHELL', 'wget -q localhost'],
    Interval: 5e9,
    Retries: 3,
  });
  const ob = ins[15]!;
  assert.ok(ob.kind === 'ONBUILD');
  assert.equal(ob.expression, 'RUN echo trigger');
  assert.equal(ob.trigger.kind, 'RUN');
  assert.equal(loadDockerfile('FROM busybox AS Base\n').stages[0]!.name, 'base');
});

test('errors name the line and what was expected', () => {
  const cases: [string, RegExp][] = [
    ['FROM x\nRUNN echo\n', /^Dockerfile:2: unknown instruction "RUNN" \(did you mean RUN\?\)$/],
    ['FROM x\nCOPY a\n', /^Dockerfile:2: COPY requires at least two arguments/],
    ['FROM x\nCOPY --chownn=1 a b\n', /^Dockerfile:2: unknown flag --chownn for COPY/],
    ['RUN x\nFROM y\n', /^Dockerfile:1: RUN before the first FROM/],
    ['FROM a b\n', /^Dockerfile:1: FROM requires either one or three arguments/],
    ['FROM x\nSHELL /bin/sh\n', /SHELL requires the arguments to be in JSON form/],
    [
      'FROM x\nHEALTHCHECK --interval=abc CMD true\n',
      /Dockerfile:2: invalid duration --interval=abc/,
    ],
    ['FROM x\nONBUILD ONBUILD RUN x\n', /Dockerfile:2: Chaining ONBUILD/],
    ['FROM x\nRUN --network=bridge true\n', /Dockerfile:2: invalid --network=bridge/],
    ['FROM x AS 1a\n', /invalid name for build stage/],
    ['FROM x AS a\nFROM y AS a\n', /Dockerfile:2: duplicate stage name "a"/],
    ['# nothing\n', /no build stage/],
    ['FROM x\nRUN <<EOF\necho\n', /Dockerfile:2: unterminated heredoc/],
  ];
  for (const [text, re] of cases)
    assert.throws(
      () => loadDockerfile(text),
      (e: Error) => re.test(e.message),
      text,
    );
});

test('durations and mounts', () => {
  assert.equal(parseGoDuration('1m30s'), 90e9);
  assert.equal(parseGoDuration('500ms'), 5e8);
  assert.equal(parseGoDuration('5'), undefined);
  const loc = { file: 'Dockerfile', line: 3 };
  assert.deepEqual(parseRunMount('type=cache,target=/root/.cache,sharing=locked', loc), {
    type: 'cache',
    target: '/root/.cache',
    source: undefined,
    from: undefined,
    id: '/root/.cache',
    readonly: false,
    required: false,
    env: undefined,
    sharing: 'locked',
  });
  const s = parseRunMount('type=secret,id=tok,required', loc);
  assert.equal(s.target, '/run/secrets/tok');
  assert.equal(s.required, true);
  assert.throws(
    () => parseRunMount('type=cache', loc),
    /Dockerfile:3: --mount=type=cache needs target=/,
  );
  assert.throws(() => parseRunMount('type=nfs,target=/x', loc), /unsupported mount type/);
});
