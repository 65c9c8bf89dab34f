// The image config being built (OCI image-spec config.md): starts from the base image's, and
// each metadata instruction changes it; every instruction adds a history entry (empty_layer for
// metadata-only ones). Pure: the executor feeds expanded steps in, the exporter serialises.
import type { Instruction, HealthcheckConfig, CommandLine } from '../instructions/types.js';
import type { ExpandedStep } from '../plan/expand.js';
import type {
  ContainerConfig as SharedContainerConfig,
  HistoryEntry,
} from '../../shared/image-config.js';

/** The shared ContainerConfig, where `null` records an explicit reset (as docker writes it). */
export type ContainerConfig = Omit<
  SharedContainerConfig,
  'Entrypoint' | 'Cmd' | 'OnBuild' | 'Healthcheck'
> & {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  OnBuild?: string[] | null;
  Healthcheck?: HealthcheckConfig;
};

export type { HistoryEntry };

export interface OciImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  config: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history: HistoryEntry[];
}

export const DEFAULT_SHELL = ['/bin/sh', '-c'];
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function emptyConfig(os: string, architecture: string, variant?: string): OciImageConfig {
  const c: OciImageConfig = {
    architecture,
    os,
    config: { Env: [`PATH=${DEFAULT_PATH}`] },
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  };
  if (variant) c.variant = variant;
  return c;
}

/** A deep copy of a base image's config, ready to be built upon (OnBuild consumed). */
export function fromBase(base: OciImageConfig): OciImageConfig {
  const c = structuredClone(base);
  c.config ??= {};
  c.rootfs ??= { type: 'layers', diff_ids: [] };
  c.history ??= [];
  delete c.config.OnBuild;
  return c;
}

/** The argv of a command line: exec form as is, shell form through SHELL. */
export function commandArgv(cmd: CommandLine, shell: string[] | undefined): string[] {
  return cmd.shellForm ? [...(shell ?? DEFAULT_SHELL), cmd.args[0]!] : [...cmd.args];
}

/** Sets KEY=value: a key already set is replaced where it is (BuildKit keeps Env's order). */
export function setEnv(env: string[], key: string, value: string): string[] {
  const i = env.findIndex((e) => e.startsWith(`${key}=`) || e === key);
  if (i < 0) return [...env, `${key}=${value}`];
  return env.map((e, j) => (j === i ? `${key}=${value}` : e));
}

/** Applies a metadata step; `cmdSet` tracks whether this build set CMD (ENTRYPOINT resets an inherited one). */
export function applyMeta(
  cfg: OciImageConfig,
  ins: Instruction,
  step: ExpandedStep,
  state: { cmdSet: boolean },
): void {
  const c = cfg.config;
  switch (step.kind) {
    case 'env':
      c.Env = step.pairs.reduce((env, p) => setEnv(env, p.key, p.value), c.Env ?? []);
      return;
    case 'label':
      c.Labels = { ...c.Labels, ...Object.fromEntries(step.pairs.map((p) => [p.key, p.value])) };
      return;
    case 'expose':
      c.ExposedPorts = { ...c.ExposedPorts, ...Object.fromEntries(step.ports.map((p) => [p, {}])) };
      return;
    case 'user':
      c.User = step.user;
      return;
    case 'workdir':
      c.WorkingDir = step.path;
      return;
    case 'volume':
      c.Volumes = { ...c.Volumes, ...Object.fromEntries(step.paths.map((p) => [p, {}])) };
      return;
    case 'stopsignal':
      c.StopSignal = step.signal;
      return;
    case 'maintainer':
      cfg.author = step.maintainer;
      return;
  }
  switch (ins.kind) {
    case 'CMD':
      c.Cmd = commandArgv(ins.command, c.Shell);
      state.cmdSet = true;
      return;
    case 'ENTRYPOINT':
      c.Entrypoint = commandArgv(ins.command, c.Shell);
      if (!state.cmdSet) c.Cmd = null;
      return;
    case 'SHELL':
      c.Shell = [...ins.shell];
      return;
    case 'HEALTHCHECK':
      c.Healthcheck = ins.health;
      return;
    case 'ONBUILD':
      c.OnBuild = [...(c.OnBuild ?? []), ins.expression];
      return;
  }
}

/** What `docker history` shows for an instruction. */
export function createdBy(
  ins: Instruction,
  step: ExpandedStep,
  runArgs: string[] = [],
  argv: string[] = [],
): string {
  switch (step.kind) {
    case 'env':
      return `ENV ${step.pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`;
    case 'label':
      return `LABEL ${step.pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`;
    case 'expose':
      // Go prints a map with its keys sorted (BuildKit's `EXPOSE %v` of the port set)
      return `EXPOSE map[${[...new Set(step.ports)]
        .sort()
        .map((p) => `${p}:{}`)
        .join(' ')}]`;
    case 'workdir':
      return `WORKDIR ${step.path}`;
    case 'user':
      return `USER ${step.user}`;
    case 'run': {
      const prefix = runArgs.length ? `|${runArgs.length} ${runArgs.join(' ')} ` : '';
      return `RUN ${prefix}${argv.join(' ')} # buildkit`;
    }
    case 'copy':
      return `${ins.original} # buildkit`;
    default:
      return ins.original;
  }
}
