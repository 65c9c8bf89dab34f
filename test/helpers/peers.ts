// One policy for peers, the real tools tests judge tsdock against (skopeo, umoci, docker-registry,
// dockerd, podman, containerd...): a test that needs one asks requirePeer(t, 'skopeo'), or, for
// a peer that is installed but could not start, peerUnavailable(t, reason). Locally the test is
// then skipped with the reason (scripts/run-tests.mjs lists every skipped test and its reason at
// the end); with CI=true it fails, since CI installs every peer (scripts/install-deps.sh) and a
// test that did not run proves nothing.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';

/** The Debian package each peer command comes from (what to apt-get install). */
const PACKAGES: Record<string, string> = {
  skopeo: 'skopeo',
  umoci: 'umoci',
  'docker-registry': 'docker-registry',
  dockerd: 'docker.io',
  docker: 'docker.io',
  'docker-compose': 'docker-compose',
  podman: 'podman',
  buildah: 'buildah',
  runc: 'runc',
  crun: 'crun',
  ctr: 'containerd',
  containerd: 'containerd',
  htpasswd: 'apache2-utils',
  script: 'bsdutils',
  chromium: 'chromium',
};

/** Whether `command` is an executable on PATH (what `command -v` answers, without a shell). */
export function hasCommand(command: string): boolean {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    try {
      accessSync(join(dir || '.', command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** Why `command` cannot be used, or undefined when it is installed. */
export function missingReason(...commands: string[]): string | undefined {
  const missing = commands.filter((c) => !hasCommand(c));
  if (missing.length === 0) return undefined;
  const packages = [...new Set(missing.map((c) => PACKAGES[c] ?? c))];
  return `${missing.join(', ')} not installed (apt-get install ${packages.join(' ')})`;
}

/** True when CI=true: a peer that cannot run fails the test instead of skipping it. */
export function peersRequired(): boolean {
  return process.env.CI === 'true';
}

/**
 * True when every command is installed; otherwise skips the test with the reason (locally) or
 * throws (in CI), and returns false: `if (!requirePeer(t, 'skopeo')) return;`.
 */
export function requirePeer(t: TestContext, ...commands: string[]): boolean {
  const reason = missingReason(...commands);
  if (reason === undefined) return true;
  peerUnavailable(t, reason);
  return false;
}

/** A peer that is installed but cannot run here (dockerd would not start...): same policy. */
export function peerUnavailable(t: TestContext, reason: string): void {
  if (peersRequired()) throw new Error(`peer unavailable in CI: ${reason}`);
  t.skip(reason);
}

/** Prefix of the diagnostic peerNotCompared writes; scripts/skip-reporter.mjs collects them. */
export const NOT_COMPARED = 'peer comparison left out: ';

/**
 * A test that checks tsdock on its own and then compares with a peer that cannot run here: the
 * comparison is left out with a diagnostic (listed at the end of the run) locally, and the test
 * fails in CI.
 */
export function peerNotCompared(t: Pick<TestContext, 'diagnostic'>, reason: string): void {
  if (peersRequired()) throw new Error(`peer unavailable in CI: ${reason}`);
  t.diagnostic(`${NOT_COMPARED}${reason}`);
}
