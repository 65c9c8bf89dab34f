// Expands every instruction of the planned stages without executing anything (base images'
// ENV taken as empty): catches expansion errors (`${V:?}`, bad ports, bad --chmod...) before any
// work starts, and lets the negative test set check them as plain data.
import { expandInstruction, type ExpandedStep } from './expand.js';
import type { BuildPlan } from './plan.js';
import { StageVars } from './stage-vars.js';

export function dryRun(plan: BuildPlan, imageEnv: readonly string[] = []): ExpandedStep[][] {
  const done = new Map<number, StageVars>();
  return plan.stages.map((ps) => {
    const vars = new StageVars({
      globals: plan.globals,
      buildArgs: plan.buildArgs,
      escape: plan.dockerfile.directives.escape,
      imageEnv,
      used: plan.usedArgs,
      // a stage built from an earlier one starts with its ARGs (stages come in dependency order)
      inherited: ps.base.kind === 'stage' ? done.get(ps.base.index)?.declared() : undefined,
    });
    done.set(ps.stage.index, vars);
    let workdir = '/';
    return ps.stage.instructions.map((ins) => {
      const step = expandInstruction(ins, vars, workdir);
      if (step.kind === 'workdir') workdir = step.path;
      return step;
    });
  });
}
