// Builds one stage: resolves its base (scratch, an earlier stage, an image; ONBUILD triggers of
// a base image run first), then dispatches each instruction: metadata ones change the config
// and add an empty_layer history entry; WORKDIR/COPY/ADD/RUN go through the cache (key = parent
// key + expanded inputs) and produce a layer on a miss.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LayerRef } from '../cache/build-cache.js';
import { cacheKey, explainMiss } from '../cache/build-cache.js';
import { atLine, errorAt } from '../errors.js';
import { toInstruction } from '../instructions/parse-instruction.js';
import type { Instruction } from '../instructions/types.js';
import {
  applyMeta,
  createdBy,
  emptyConfig,
  fromBase,
  type OciImageConfig,
} from '../image/image-config.js';
import { expandInstruction, type ExpandedStep } from '../plan/expand.js';
import { stepSources, type PlannedStage, type StepSources } from '../plan/plan.js';
import { StageVars, type DeclaredArgs } from '../plan/stage-vars.js';
import { basePlatformWarning } from '../plan/platforms.js';
import { ignoreMatcher } from '../context/build-context.js';
import type { StepLog } from '../progress.js';
import { loadBaseImage, unpackLayers } from './base-image.js';
import { prepareCopy, sourceChangedAt } from './copy-step.js';
import type { ExecContext, PreparedStep, StageResult, StageState } from './exec-context.js';
import { layerFromEntries } from './layer-output.js';
import { needsNamespace } from './namespace-probe.js';
import { withParents } from './layer-parents.js';
import { RootfsView, resolveChown } from './rootfs-view.js';
import { prepareRun, runArgv } from './run-dispatch.js';

const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

export class StageBuilder implements StageState {
  private cfg!: OciImageConfig;
  private layers: LayerRef[] = [];
  private dirs: string[] | undefined;
  private key = '';
  private vars!: StageVars;
  private inheritedArgs: DeclaredArgs | undefined;
  private ordinal = 0;
  private readonly meta = { cmdSet: false };
  private readonly label: string;

  constructor(
    private readonly ctx: ExecContext,
    private readonly ps: PlannedStage,
  ) {
    const name = ps.stage.name ?? `stage-${ps.stage.index}`;
    this.label = ctx.platformLabel ? `${ctx.platformLabel} ${name}` : name;
  }

  async build(): Promise<StageResult> {
    const { stage } = this.ps;
    const total = stage.instructions.length + 1;
    const fromLog = this.ctx.progress.step(`[${this.label} 1/${total}] ${stage.from.original}`);
    const triggers = await this.initBase().catch((e: unknown) => {
      const base = this.ps.base.kind === 'image' ? `base image ${this.ps.base.ref}` : undefined;
      const err = atLine(stage.from, e, base);
      fromLog.error(err.message);
      throw err;
    });
    fromLog.done();
    this.vars = new StageVars({
      globals: this.ctx.plan.globals,
      buildArgs: this.ctx.plan.buildArgs,
      escape: this.ctx.plan.dockerfile.directives.escape,
      imageEnv: this.cfg.config.Env ?? [],
      used: this.ctx.plan.usedArgs,
      inherited: this.inheritedArgs,
    });
    const all = [...triggers, ...stage.instructions];
    for (let i = 0; i < all.length; i++) {
      const ins = all[i]!;
      const k = i - triggers.length + 2;
      const tag = k >= 2 ? `${k}/${total}` : 'onbuild';
      const log = this.ctx.progress.step(`[${this.label} ${tag}] ${ins.original}`);
      try {
        await this.dispatch(ins, log);
      } catch (e) {
        log.error((e as Error).message);
        throw e;
      }
    }
    return { config: this.cfg, layers: this.layers, key: this.key, args: this.vars.declared() };
  }

  private async initBase(): Promise<Instruction[]> {
    const { base, platform, stage } = this.ps;
    if (base.kind === 'scratch') {
      this.cfg = emptyConfig(platform.os, platform.architecture, platform.variant);
      this.key = sha(`scratch ${platform.os}/${platform.architecture}`);
      return [];
    }
    if (base.kind === 'stage') {
      const r = await this.ctx.stageResult(base.index);
      this.cfg = fromBase(r.config);
      this.layers = [...r.layers];
      this.key = r.key;
      this.inheritedArgs = r.args;
      return [];
    }
    const img = await loadBaseImage(this.ctx.env.store, base.ref, platform);
    const mismatch = basePlatformWarning(base.ref, img.config, platform, stage.from.line);
    if (mismatch) this.ctx.opts.warn?.(mismatch);
    this.cfg = fromBase(img.config);
    this.layers = [...img.layers];
    this.key = sha(`image ${img.manifestDigest}`);
    return (img.config.config?.OnBuild ?? []).map((expr) => {
      const m = /^(\S+)\s*([\s\S]*)$/.exec(expr.trim())!;
      const raw = {
        file: stage.from.file,
        line: stage.from.line,
        endLine: stage.from.endLine,
        keyword: m[1]!.toUpperCase(),
        args: m[2]!,
        heredocs: [],
        original: expr,
      };
      return toInstruction(raw, this.ctx.plan.dockerfile.directives.escape);
    });
  }

  private history(ins: Instruction, step: ExpandedStep, empty: boolean, created?: string): void {
    const runArgs = step.kind === 'run' ? this.vars.historyArgs() : [];
    const argv = ins.kind === 'RUN' ? runArgv(ins, this.cfg.config.Shell).argv : [];
    const h = {
      created: created ?? this.ctx.created,
      created_by: createdBy(ins, step, runArgs, argv),
      comment: 'buildkit.dockerfile.v0',
    };
    this.cfg.history.push(empty ? { ...h, empty_layer: true } : h);
  }

  private async dispatch(ins: Instruction, log: StepLog): Promise<void> {
    const step = expandInstruction(ins, this.vars, this.cfg.config.WorkingDir || '/');
    if (step.kind === 'copy' && ins.kind !== 'RUN')
      return this.layerStep(ins, step, log, () => this.copy(ins, step));
    if (step.kind === 'run' && ins.kind === 'RUN')
      return this.layerStep(ins, step, log, () => prepareRun(this, ins, step, log));
    applyMeta(this.cfg, ins, step, this.meta);
    if (step.kind === 'workdir')
      return this.layerStep(ins, step, log, () => this.workdir(ins, step.path));
    this.history(ins, step, true);
    log.done();
  }

  /** The cache protocol shared by every layer-producing step. */
  private async layerStep(
    ins: Instruction,
    step: ExpandedStep,
    log: StepLog,
    exec: () => Promise<PreparedStep>,
  ): Promise<void> {
    const prepared = await exec();
    try {
      await this.cached(ins, step, log, prepared);
    } finally {
      await prepared.dispose?.();
    }
  }

  private async cached(
    ins: Instruction,
    step: ExpandedStep,
    log: StepLog,
    prepared: PreparedStep,
  ): Promise<void> {
    const { cache, store } = this.ctx.env;
    const inputs = { parent: this.key, ...prepared.inputs };
    const key = cacheKey(this.key, prepared.inputs);
    const stepId = `${this.ctx.contextDir}|${this.ctx.plan.dockerfile.file}|${this.label}|${this.ordinal++}`;
    const hit = this.ctx.opts.noCache ? undefined : await cache.get(key);
    let layer: LayerRef | undefined;
    if (hit && (!hit.layer || (await store.hasBlob(hit.layer.digest)))) {
      layer = hit.layer;
      this.ctx.records.push(hit);
      log.cached();
    } else {
      if (this.ctx.opts.cacheOnly)
        needsNamespace(this.ctx.opts.cacheOnly, `a cache miss (${ins.kind})`);
      if (this.ctx.opts.debugCache)
        log.note(`cache miss: ${explainMiss(await cache.last(stepId), inputs, prepared.files)}`);
      layer = await prepared.produce();
      this.ctx.misses++;
      const rec = { key, layer, inputs, files: prepared.files, created: this.ctx.created };
      await cache.put(rec);
      await cache.setLast(stepId, rec);
      this.ctx.records.push(rec);
      log.done();
    }
    this.key = key;
    if (layer) {
      this.layers.push(layer);
      this.cfg.rootfs.diff_ids.push(layer.diffId);
      if (this.dirs && !hit) this.dirs = undefined;
    }
    this.history(ins, step, !layer, hit?.created);
  }

  /** What `ins` reads from besides the context, as the plan resolved it (ONBUILD triggers,
   * which the plan does not see, are resolved the same way here). */
  sourcesOf(ins: Instruction): StepSources | undefined {
    if (this.ps.sources.has(ins)) return this.ps.sources.get(ins);
    const { dockerfile, globals } = this.ctx.plan;
    return stepSources(dockerfile, this.ps.stage.index, ins, globals);
  }

  /** The stage's unpacked layers (bottom first), unpacked on first need. */
  async layerDirs(): Promise<string[]> {
    if (this.ctx.opts.cacheOnly) return this.unpackedDirs();
    this.dirs ??= await unpackLayers(this.ctx.env.store, this.ctx.env.layersDir, this.layers);
    if (this.dirs.length !== this.layers.length)
      this.dirs = await unpackLayers(this.ctx.env.store, this.ctx.env.layersDir, this.layers);
    return this.dirs;
  }

  /** The layers' directories when all are unpacked already (a cache-only build unpacks none). */
  private async unpackedDirs(): Promise<string[]> {
    const dirs = this.layers.map((l) =>
      join(this.ctx.env.layersDir, l.diffId.replace(/^sha256:/, '')),
    );
    for (const d of dirs)
      if (!existsSync(d)) needsNamespace(this.ctx.opts.cacheOnly!, 'unpacking a layer');
    return dirs;
  }

  get config(): OciImageConfig {
    return this.cfg;
  }
  get stageVars(): StageVars {
    return this.vars;
  }
  get context(): ExecContext {
    return this.ctx;
  }
  get planned(): PlannedStage {
    return this.ps;
  }

  /** The build time in seconds: the mtime of directories this build creates or changes. */
  private get now(): number {
    return Math.floor(Date.parse(this.ctx.created) / 1000);
  }

  /** WORKDIR creates the missing directories owned by the current USER (as BuildKit). */
  private async workdir(ins: Instruction, path: string): Promise<PreparedStep> {
    const user = this.cfg.config.User ?? '';
    return {
      inputs: { instruction: 'WORKDIR', path, user },
      produce: async () => {
        const view = new RootfsView(await this.layerDirs(), this.ctx.env.owners);
        const resolved = await view.resolve(path); // mkdir -p goes through the image's symlinks
        if (await view.exists(resolved)) return undefined;
        // A USER the image does not know yet leaves the directory root's (BuildKit does too).
        const { uid, gid } = await resolveChown(user || undefined, view, ins).catch(() => ({
          uid: 0,
          gid: 0,
        }));
        const dir = resolved.slice(1);
        const entries = await withParents(
          [{ path: dir, type: 'dir' as const, mode: 0o755, uid, gid, mtime: this.now }],
          { stat: (p) => view.stat(p), now: this.now, uid, gid },
        );
        return layerFromEntries(this.ctx.env.store, entries, this.ctx.layerOptions);
      },
    };
  }

  private async copy(
    ins: Instruction,
    step: Extract<ExpandedStep, { kind: 'copy' }>,
  ): Promise<PreparedStep> {
    if (ins.kind !== 'COPY' && ins.kind !== 'ADD') throw new Error('not a copy');
    const view = new RootfsView(await this.layerDirs(), this.ctx.env.owners);
    const { uid, gid } = await resolveChown(step.chown, view, ins);
    let sourceRoot = this.ctx.context.dir;
    let fromId = 'context';
    let isIgnored = this.ctx.context.isIgnored;
    let descendIgnored = this.ctx.context.hasExceptions;
    const copyFrom = this.sourcesOf(ins)?.copy;
    if (copyFrom) {
      const v = await this.ctx.fromView(copyFrom.source).catch((e: unknown) => {
        throw atLine(ins, e, `--from=${copyFrom.from}`);
      });
      sourceRoot = v.dir;
      fromId = v.id;
      isIgnored = () => false;
      descendIgnored = false;
    }
    if (ins.kind === 'COPY' && ins.parents)
      throw errorAt(ins, 'COPY --parents is not supported', 'copy each directory explicitly');
    if (ins.exclude.length > 0) {
      const base = isIgnored;
      const excluded = ignoreMatcher(ins.exclude.map((p) => this.vars.expand(p, ins)));
      isIgnored = (rel) => base(rel) || excluded(rel);
      descendIgnored = true;
    }
    const res = await prepareCopy({
      step,
      loc: ins,
      sourceRoot,
      isIgnored,
      descendIgnored,
      workdir: this.cfg.config.WorkingDir || '/',
      uid,
      gid,
      view,
      cacheOnly: this.ctx.opts.cacheOnly,
      digester: this.ctx.env.digester,
      tmpDir: this.ctx.env.tmpDir,
      now: this.now,
    });
    return {
      inputs: {
        instruction: ins.kind,
        dest: step.dest,
        chown: `${uid}:${gid}`,
        chmod: String(step.chmod ?? ''),
        from: fromId,
        content: res.contentKey,
        // Bumped when the layer written for the same inputs changes
        // (3: parent entries, hard links, symlinked destinations).
        format: '3',
      },
      files: res.files,
      produce: () =>
        layerFromEntries(this.ctx.env.store, res.entries, this.ctx.layerOptions).catch(
          (e: unknown) => {
            throw sourceChangedAt(ins, e);
          },
        ),
      dispose: async () => {
        await Promise.all(res.temps.map((t) => rm(t, { recursive: true, force: true })));
      },
    };
  }
}
