// What every stage of one build shares: the environment (store, cache), the plan, the context,
// the log, options, the build's timestamp, and access to other stages' results and --from views;
// and what a step's dispatch (run-dispatch.ts) sees of its stage (StageState, which
// stage-builder.ts implements), so the step modules never import the stage builder.
import type { BuildContext } from '../context/build-context.js';
import type { BuildPlan, BaseRef, PlannedStage, StepSources } from '../plan/plan.js';
import type { Progress } from '../progress.js';
import type { BuildEnv } from './build-env.js';
import type { LayerOptions } from './layer-output.js';
import type { CacheRecord, LayerRef } from '../cache/build-cache.js';
import type { Instruction } from '../instructions/types.js';
import type { OciImageConfig } from '../image/image-config.js';
import type { DeclaredArgs, StageVars } from '../plan/stage-vars.js';
import type { ExtraHost } from '../../runner/executor.js';
import type { CacheOnlyProbe } from './namespace-probe.js';

export interface SecretSource {
  file?: string;
  env?: string;
}

export interface ExecOptions {
  noCache: boolean;
  debugCache: boolean;
  secrets: Map<string, SecretSource>;
  /** RUN's network unless it says --network=none|host (default: the runner's bridge with NAT). */
  network?: 'default' | 'none' | 'host';
  /** --add-host entries, in every RUN's /etc/hosts */
  extraHosts?: ExtraHost[];
  /** RUN limits (the sandbox's cgroup). */
  limits?: { memory?: number; pids?: number };
  /**
   * Rootless, as the plain user: cache hits only; anything that needs root of the user's
   * namespace calls needsNamespace (builder/exec/namespace-probe.ts).
   */
  cacheOnly?: CacheOnlyProbe;
  /** Warnings for the user (stderr), e.g. a base image of another platform. */
  warn?: (line: string) => void;
}

export interface ExecContext {
  env: BuildEnv;
  plan: BuildPlan;
  context: BuildContext;
  progress: Progress;
  opts: ExecOptions;
  /** RFC 3339 creation time of everything this build writes (SOURCE_DATE_EPOCH when set). */
  created: string;
  contextDir: string;
  layerOptions: LayerOptions;
  stageResult(index: number): Promise<StageResult>;
  /** A merged read-only filesystem of a stage or image, and its identity for cache keys. */
  fromView(src: BaseRef): Promise<{ dir: string; id: string }>;
  /** Every cache record this build hit or wrote (what --cache-to exports). */
  records: CacheRecord[];
  /** Layer steps that were not cache hits. */
  misses: number;
  /** In a multi-platform build, the platform this context builds (prefixes progress lines). */
  platformLabel?: string;
}

export interface StageResult {
  config: OciImageConfig;
  layers: LayerRef[];
  /** Cache key of the stage's last step (the identity of its filesystem). */
  key: string;
  /** Its ARGs, for the stages built `FROM` it. */
  args: DeclaredArgs;
}

/** A layer step ready to run: its cache inputs, and how to make its layer on a miss. */
export interface PreparedStep {
  inputs: Record<string, string>;
  files?: Record<string, string>;
  produce(): Promise<LayerRef | undefined>;
  dispose?(): Promise<void>;
}

/** The stage being built, as a step sees it. */
export interface StageState {
  readonly config: OciImageConfig;
  readonly stageVars: StageVars;
  readonly context: ExecContext;
  readonly planned: PlannedStage;
  /** What an instruction reads from besides the context (COPY --from, RUN --mount from=). */
  sourcesOf(ins: Instruction): StepSources | undefined;
  /** The stage's unpacked layers (bottom first), unpacked on first need. */
  layerDirs(): Promise<string[]>;
}
