// RUN dispatch: the argv (exec form, shell form through SHELL, heredocs as BuildKit runs them),
// environment (ENV + declared ARGs + proxy build-args), user, cwd and --mount sources, then the
// cache inputs; on a miss, run in the sandbox and turn the upper dir into the layer. The upper
// directory then becomes the new layer's unpacked directory (it already is one), so the next
// step does not unpack what was just written.
import { mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Mount } from '../../runner/executor.js';
import type { LayerRef } from '../cache/build-cache.js';
import { cleanRel, resolveInRoot } from '../context/select.js';
import { atLine, BuildStepError, errorAt } from '../errors.js';
import { commandArgv } from '../image/image-config.js';
import type { RunMount } from '../instructions/mounts.js';
import type { RunInstruction } from '../instructions/types.js';
import type { ExpandedStep } from '../plan/expand.js';
import type { StepLog } from '../progress.js';
import { bindContentKey, bindSource } from './bind-source.js';
import { layerFromUpper } from './layer-output.js';
import { cacheMount, cacheMountIdentity, secretMount } from './run-mounts.js';
import { trackTemp } from './interrupt.js';
import { mountPointFilter, runStep, type RunNetwork } from './run-step.js';
import type { PreparedStep, StageState } from './exec-context.js';

type RunStep = Extract<ExpandedStep, { kind: 'run' }>;

/** BuildKit's heredoc handling for RUN: a lone `<<EOF` runs its body (a script if it has `#!`). */
export function runArgv(
  ins: RunInstruction,
  shell: string[] | undefined,
): { argv: string[]; script?: { name: string; content: string } } {
  if (ins.heredocs.length === 0 || !ins.command.shellForm)
    return { argv: commandArgv(ins.command, shell) };
  const cmd = ins.command.args[0]!.trim();
  const only = ins.heredocs.length === 1 && /^\d*<<-?\s*["']?[^"'\s]+["']?$/.test(cmd);
  if (only) {
    const doc = ins.heredocs[0]!;
    if (doc.content.startsWith('#!'))
      return { argv: [`/dev/pipes/${doc.name}`], script: { name: doc.name, content: doc.content } };
    return { argv: commandArgv({ shellForm: true, args: [doc.content] }, shell) };
  }
  const full = ins.heredocs.reduce(
    (acc, d) => `${acc}\n${d.content}${d.name}`,
    ins.command.args[0]!,
  );
  return { argv: commandArgv({ shellForm: true, args: [full] }, shell) };
}

export async function prepareRun(
  sb: StageState,
  ins: RunInstruction,
  step: RunStep,
  log: StepLog,
): Promise<PreparedStep> {
  const cfg = sb.config.config;
  const vars = sb.stageVars;
  const { argv, script } = runArgv(ins, cfg.Shell);
  const cwd = cfg.WorkingDir || '/';
  // RUN --network=default (or none given) means the build's --network, as in BuildKit
  const network: RunNetwork =
    ins.network && ins.network !== 'default' ? ins.network : (sb.context.opts.network ?? 'default');
  const extraHosts = sb.context.opts.extraHosts ?? [];
  const keyEnv = [...vars.runArgs(), ...vars.configEnv()];
  const mountIds = await Promise.all(step.mounts.map((m, i) => mountIdentity(sb, ins, m, i)));
  const inputs: Record<string, string> = {
    instruction: 'RUN',
    argv: JSON.stringify(argv),
    env: JSON.stringify(keyEnv),
    user: cfg.User ?? '',
    cwd,
    network,
    mounts: JSON.stringify(mountIds),
  };
  if (script) inputs.script = script.content;
  if (extraHosts.length > 0) inputs.hosts = JSON.stringify(extraHosts);
  return { inputs, produce: () => execute(sb, ins, step, log, { argv, script, cwd, network }) };
}

async function mountIdentity(
  sb: StageState,
  ins: RunInstruction,
  m: RunMount,
  i: number,
): Promise<string> {
  const base = `${m.type}:${m.target}:${m.readonly ? 'ro' : 'rw'}`;
  if (m.type === 'bind') {
    // A stage's or image's id names its files; the context's files are named by their content.
    const root = await bindRoot(sb, ins, i);
    const content = root.id === 'context' ? await contextBindKey(sb, m) : '';
    return `${base}:${root.id}:${m.source ?? ''}:${content}`;
  }
  if (m.type === 'cache') return `${base}:${cacheMountIdentity(m)}`;
  if (m.type === 'secret')
    return `${base}:${m.id}:${m.env ?? ''}:${[m.uid, m.gid, m.mode].map((x) => x ?? '').join(':')}`;
  return base;
}

/** The content key of a bind of the build context (what .dockerignore keeps of its source). */
async function contextBindKey(sb: StageState, m: RunMount): Promise<string> {
  const ctx = sb.context.context;
  const rel = cleanRel(m.source ?? '/');
  const found = rel !== '' && ctx.isIgnored(rel) ? undefined : await resolveInRoot(ctx.dir!, rel);
  if (!found || (found.rel !== '' && ctx.isIgnored(found.rel))) return 'missing';
  return bindContentKey(found, ctx, sb.context.env.digester);
}

/** The files mount `i` of `ins` shows: its from= stage or image as the plan resolved it, else
 * the build context. */
async function bindRoot(
  sb: StageState,
  ins: RunInstruction,
  i: number,
): Promise<{ dir: string; id: string }> {
  const ctx = sb.context;
  const from = sb.sourcesOf(ins)?.mounts[i];
  if (from)
    return ctx.fromView(from.source).catch((e: unknown) => {
      throw atLine(ins, e, `--mount from=${from.from}`);
    });
  if (!ctx.context.dir) throw errorAt(ins, '--mount=type=bind needs a build context');
  return { dir: ctx.context.dir, id: 'context' };
}

async function sandboxMounts(
  sb: StageState,
  ins: RunInstruction,
  step: RunStep,
  env: string[],
  releases: (() => Promise<void>)[],
): Promise<Mount[]> {
  const ctx = sb.context;
  const out: Mount[] = [];
  for (const [i, m] of step.mounts.entries()) {
    if (m.type === 'tmpfs')
      out.push({
        type: 'tmpfs',
        source: 'tmpfs',
        target: m.target,
        readOnly: false,
        options: m.size ? `size=${m.size}` : 'mode=1777',
      });
    else if (m.type === 'cache' || m.type === 'secret') {
      const held =
        m.type === 'cache'
          ? await cacheMount(m, {
              mountDir: (key) => ctx.env.cache.mountDir(key),
              tmpDir: ctx.env.tmpDir,
              fromView: async () => bindRoot(sb, ins, i),
            })
          : await secretMount(m, ctx.opts.secrets.get(m.id!), ctx.env.tmpDir, ins);
      if (!held) continue;
      releases.push(held.release);
      if (held.env) env.push(held.env);
      if (held.mount) out.push(held.mount);
    } else {
      const root = await bindRoot(sb, ins, i);
      // The build context as BuildKit sees it: without what .dockerignore excludes.
      const ctxIgnore = ctx.context.ignorePatterns.length > 0 ? ctx.context : undefined;
      const ignore = root.id === 'context' ? ctxIgnore : undefined;
      const rel = cleanRel(m.source ?? '/');
      const hidden = (r: string) => r !== '' && !!ignore?.isIgnored(r);
      const found = hidden(rel) ? undefined : await resolveInRoot(root.dir, rel);
      if (!found || hidden(found.rel))
        throw new BuildStepError(ins.file, ins.line, `--mount source "${m.source}" not found`);
      const temps: string[] = [];
      releases.push(async () => {
        await Promise.all(temps.map((t) => rm(t, { recursive: true, force: true })));
      });
      const source = await bindSource(found, {
        readOnly: m.readonly,
        ignore,
        tmpRoot: ctx.env.tmpDir,
        temps,
      });
      out.push({ type: 'bind', ...source, target: m.target, readOnly: m.readonly });
    }
  }
  return out;
}

interface RunPlan {
  argv: string[];
  script?: { name: string; content: string };
  cwd: string;
  network: RunNetwork;
}

async function execute(
  sb: StageState,
  ins: RunInstruction,
  step: RunStep,
  log: StepLog,
  p: RunPlan,
): Promise<LayerRef | undefined> {
  const ctx = sb.context;
  const env = sb.stageVars.runEnv();
  const temps: string[] = [];
  const releases: (() => Promise<void>)[] = [];
  const releaseAll = async () => {
    await Promise.all(temps.map((t) => rm(t, { recursive: true, force: true })));
    await Promise.all(releases.map((r) => r()));
  };
  const mounts = await sandboxMounts(sb, ins, step, env, releases).catch(async (e: unknown) => {
    await releaseAll();
    throw e;
  });
  if (p.script) {
    const dir = trackTemp(await mkdtemp(join(ctx.env.tmpDir, 'script-')));
    temps.push(dir);
    await writeFile(join(dir, p.script.name), p.script.content, { mode: 0o755 });
    mounts.push({ type: 'bind', source: dir, target: '/dev/pipes', readOnly: true });
  }
  const lowers = await sb.layerDirs();
  const outcome = await runStep({
    layerDirs: lowers,
    argv: p.argv,
    env,
    cwd: p.cwd,
    user: sb.config.config.User || undefined,
    network: p.network,
    extraHosts: ctx.opts.extraHosts,
    mounts,
    limits: ctx.opts.limits,
    tmpRoot: ctx.env.tmpDir,
    stdout: log.output,
    stderr: log.output,
  }).finally(releaseAll);
  try {
    if (outcome.exitCode !== 0) {
      const shown = p.argv.join(' ');
      throw new BuildStepError(
        ins.file,
        ins.line,
        `process "${shown}" did not complete successfully: exit code: ${outcome.exitCode}`,
      );
    }
    const filter = await mountPointFilter(outcome.upper, outcome.mountPoints);
    const changed = (await readdir(outcome.upper)).some((n) => filter(n));
    if (!changed) return undefined;
    const layer = await layerFromUpper(
      ctx.env.store,
      outcome.upper,
      lowers,
      filter,
      ctx.layerOptions,
    );
    const dest = join(ctx.env.layersDir, layer.diffId.replace(/^sha256:/, ''));
    await rename(outcome.upper, dest).catch(() => undefined);
    return layer;
  } finally {
    await outcome.cleanup();
  }
}
