// Privileged: the seccomp filter refuses io_uring and the rest of what docker's current default
// profile refuses (moby profiles/seccomp/default.json; runner/README.md lists where ours
// differs). A static C probe, compiled here, makes each call on the host (where it reaches the
// kernel) and in a container (where the filter answers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { runnerFixture } from './runner-helpers.js';
import { compileStatic, SYSPROBE_C } from './native-probes.js';

const fx = runnerFixture('tsdock-seccomp-', (f) =>
  compileStatic(SYSPROBE_C, join(f.rootfs, 'bin/sysprobe')),
);

/** NAME=RESULT lines -> a map. */
function results(out: string): Map<string, string> {
  return new Map(
    out
      .trim()
      .split('\n')
      .map((l) => l.split('=') as [string, string]),
  );
}

test('io_uring and the rest of what docker refuses are refused inside a container', () => {
  const host = results(execFileSync(join(fx.rootfs, 'bin/sysprobe'), { encoding: 'utf8' }));
  // on the host these reach the kernel, so a container result of EPERM comes from the filter
  assert.equal(host.get('io_uring_enter'), 'EBADF', 'the host allows io_uring');
  assert.equal(host.get('kcmp'), 'ok');
  const r = fx.run(['--rm', '--network', 'none', '--rootfs', fx.rootfs, 'sysprobe']);
  assert.equal(r.code, 0, r.stderr);
  const ctr = results(r.stdout);
  const expected: Record<string, string> = {
    io_uring_setup: 'EPERM',
    io_uring_enter: 'EPERM',
    io_uring_register: 'EPERM',
    socket_vsock: 'EPERM',
    socket_alg: 'EPERM',
    socket_unix: 'ok',
    personality_query: 'ok',
    personality_no_aslr: 'EPERM',
    kcmp: 'EPERM',
    mbind: 'EPERM',
    // newer than any syscall docker's profile names: ENOSYS, as runc answers
    file_getattr_468: 'ENOSYS',
  };
  assert.deepEqual(Object.fromEntries(ctr), expected, r.stdout);
});
