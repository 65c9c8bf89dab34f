// Before a build starts: every stage that RUNs for a platform this machine cannot run natively
// needs QEMU user emulation (shared/emulation.ts); when it is missing the build stops at once
// with the first such RUN's line and what to do, instead of an "exec format error" later.
import { errorAt } from '../errors.js';
import type { BuildPlan } from '../plan/plan.js';
import { emulationStatus } from '../../shared/emulation.js';
import { formatPlatform } from '../plan/platforms.js';

export async function checkRunEmulation(plans: BuildPlan[]): Promise<void> {
  const checked = new Set<string>();
  for (const plan of plans) {
    for (const ps of plan.stages) {
      const run = ps.stage.instructions.find((i) => i.kind === 'RUN');
      const key = formatPlatform(ps.platform);
      if (!run || checked.has(key)) continue;
      checked.add(key);
      const status = await emulationStatus(ps.platform);
      if (!status.ok) throw errorAt(run, status.reason);
    }
  }
}
