// Build plan: which stages the target needs (and only those), in dependency order, each with its
// base resolved (scratch, a previous stage, or an image reference) and FROM expanded with the
// global ARGs. Stage dependencies come from `FROM stage`, `COPY --from` and `RUN --mount from=`,
// each resolved here once (a stage index or an image reference) and kept in the plan for the
// executor (`PlannedStage.sources`).
import { errorAt, type SourceLocation } from '../errors.js';
import type { Dockerfile, Stage } from '../instructions/dockerfile.js';
import { mountFrom } from '../instructions/mounts.js';
import type { Instruction } from '../instructions/types.js';
import { InvalidInputError } from '../../shared/errors.js';
import { expandAt, resolveGlobalArgs } from './build-args.js';
import { parseBuildPlatform, platformArgs, targetPlatforms, type Platform } from './platforms.js';

export type BaseRef =
  { kind: 'scratch' } | { kind: 'stage'; index: number } | { kind: 'image'; ref: string };

/** Where an instruction reads files from besides the build context. */
export interface StepSources {
  /** COPY --from */
  copy?: { from: string; source: BaseRef };
  /** RUN --mount from=, by the mount's position (undefined: the mount has no from=) */
  mounts: ({ from: string; source: BaseRef } | undefined)[];
}

export interface PlannedStage {
  stage: Stage;
  base: BaseRef;
  platform: Platform;
  /** Stage indexes this stage reads from (base, COPY --from, RUN --mount from=). */
  deps: number[];
  /** The instructions that read from a stage or image, with what they read from. */
  sources: Map<Instruction, StepSources>;
}

export interface BuildOptions {
  target?: string;
  buildArgs?: ReadonlyMap<string, string>;
  /** One target platform (`os/arch[/variant]` or parsed); default: the host's. */
  platform?: string | Platform;
}

export interface BuildPlan {
  dockerfile: Dockerfile;
  globals: Map<string, string | undefined>;
  buildArgs: ReadonlyMap<string, string>;
  /** Build-arg names consumed so far (grows while stages run). */
  usedArgs: Set<string>;
  /** Needed stages in an order where dependencies come first; the target is last. */
  stages: PlannedStage[];
  target: number;
  /** The build's target platform (--platform, else the host's): the one for images named by
   * `COPY --from` / `RUN --mount from=`, whatever a stage's `FROM --platform` says (BuildKit). */
  platform: Platform;
}

export function planBuild(df: Dockerfile, opts: BuildOptions = {}): BuildPlan {
  const buildArgs = opts.buildArgs ?? new Map<string, string>();
  const target =
    typeof opts.platform === 'object' ? opts.platform : targetPlatforms(opts.platform)[0]!;
  const used = new Set<string>();
  const escape = df.directives.escape;
  const globals = resolveGlobalArgs(df.globalArgs, buildArgs, platformArgs(target), escape, used);
  const lookup = (n: string) => globals.get(n);
  const planned = df.stages.map((stage): PlannedStage => {
    const image = expandAt(stage.from.image, lookup, stage.from, escape);
    if (image === '')
      throw errorAt(
        stage.from,
        'base name (FROM) should not be blank',
        `"${stage.from.image}" expanded to nothing`,
      );
    const platform = stage.from.platform
      ? fromPlatform(expandAt(stage.from.platform, lookup, stage.from, escape), stage.from)
      : target;
    const base = resolveSource(df, stage.index, image, true);
    const deps = new Set<number>();
    if (base?.kind === 'stage') deps.add(base.index);
    const sources = new Map<Instruction, StepSources>();
    for (const ins of stage.instructions) {
      const found = stepSources(df, stage.index, ins, globals);
      if (!found) continue;
      sources.set(ins, found);
      for (const s of [found.copy, ...found.mounts])
        if (s?.source.kind === 'stage') deps.add(s.source.index);
    }
    const resolved = base ?? { kind: 'image' as const, ref: image };
    return { stage, base: resolved, platform, deps: [...deps], sources };
  });
  const targetIndex = findTarget(df, opts.target);
  return {
    dockerfile: df,
    globals,
    buildArgs,
    usedArgs: used,
    stages: orderNeeded(planned, targetIndex),
    target: targetIndex,
    platform: target,
  };
}

/** `FROM --platform=P`, with the Dockerfile line on an error. */
function fromPlatform(spec: string, at: SourceLocation): Platform {
  try {
    return parseBuildPlatform(spec);
  } catch (e) {
    throw errorAt(at, `FROM --platform: ${(e as Error).message}`);
  }
}

/** Resolves a FROM image or --from value to a stage (by name or index) or an image/scratch. */
function resolveSource(
  df: Dockerfile,
  current: number,
  ref: string,
  isFrom: boolean,
  at: SourceLocation = df.stages[current]!.from,
): BaseRef | undefined {
  const lower = ref.toLowerCase();
  if (isFrom && lower === 'scratch') return { kind: 'scratch' };
  const named = df.stages.find((s) => s.name === lower && s.index < current);
  if (named) return { kind: 'stage', index: named.index };
  if (!isFrom && /^\d+$/.test(ref)) {
    const i = Number(ref);
    if (i >= current) throw errorAt(at, `stage ${i} referenced by --from is not an earlier stage`);
    return { kind: 'stage', index: i };
  }
  const later = df.stages.find((s) => s.name === lower && s.index >= current);
  if (later) {
    throw errorAt(
      at,
      `stage "${ref}" is used before it is defined (or by itself)`,
      'stages can only use earlier stages',
    );
  }
  return isFrom ? undefined : { kind: 'image', ref };
}

/**
 * What `ins` (in stage `current`) reads from: `COPY --from` and each `RUN --mount from=`,
 * expanded with the global ARGs and resolved to an earlier stage or an image; undefined when it
 * reads from neither. Also used for ONBUILD triggers, which only the executor sees.
 */
export function stepSources(
  df: Dockerfile,
  current: number,
  ins: Instruction,
  globals: ReadonlyMap<string, string | undefined>,
): StepSources | undefined {
  const resolve = (raw: string): { from: string; source: BaseRef } => {
    const from = expandAt(raw, (n) => globals.get(n), ins, df.directives.escape);
    // not FROM: never scratch or undefined (a name that is no stage is an image)
    const source = resolveSource(df, current, from, false, ins) ?? { kind: 'image', ref: from };
    return { from, source };
  };
  if (ins.kind === 'COPY' && ins.from) return { copy: resolve(ins.from), mounts: [] };
  if (ins.kind !== 'RUN') return undefined;
  const mounts = ins.mounts.map((m) => {
    const raw = mountFrom(m);
    return raw === undefined ? undefined : resolve(raw);
  });
  return mounts.some(Boolean) ? { mounts } : undefined;
}

function findTarget(df: Dockerfile, target: string | undefined): number {
  if (target === undefined) return df.stages.length - 1;
  const s = df.stages.find((st) => st.name === target.toLowerCase());
  if (!s) {
    const names = df.stages.map((st) => st.name).filter(Boolean);
    throw new InvalidInputError(
      `target stage "${target}" could not be found`,
      names.length
        ? `stages: ${names.join(', ')}`
        : 'the Dockerfile names no stages (FROM image AS name)',
    );
  }
  return s.index;
}

function orderNeeded(planned: PlannedStage[], target: number): PlannedStage[] {
  const out: PlannedStage[] = [];
  const seen = new Set<number>();
  const visit = (i: number) => {
    if (seen.has(i)) return;
    seen.add(i);
    for (const d of planned[i]!.deps) visit(d);
    out.push(planned[i]!);
  };
  visit(target);
  return out;
}
