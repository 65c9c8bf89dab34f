// The build: Dockerfile text -> plan -> stages (independent ones run concurrently, each waits
// only for the stages it reads) -> image in the store under every tag -> outputs/push. A failed
// build tags nothing; temp dirs are removed and RUN leaves no mount or cgroup behind (those
// live and die with the sandbox).
import { rm } from 'node:fs/promises';
import { loadDockerfile } from '../instructions/dockerfile.js';
import {
  parseDockerfile,
  parserIdentity,
  type ParsedDockerfile,
} from '../parse/dockerfile-parser.js';
import { planBuild, type BaseRef } from '../plan/plan.js';
import type { BuildContext } from '../context/build-context.js';
import type { Progress } from '../progress.js';
import { openBuildEnv } from './build-env.js';
import { loadBaseImage, mergedView } from './base-image.js';
import type { ExecContext, ExecOptions, StageResult } from './exec-context.js';
import { StageBuilder } from './stage-builder.js';
import { writeImage, writeOutputs, type OutputSpec } from '../export/exporter.js';
import { PROXY_ARGS } from '../plan/build-args.js';
import { exportCache, importCache } from '../cache/cache-transfer.js';

export interface BuildRequest extends ExecOptions {
  context: BuildContext;
  tags: string[];
  target?: string;
  buildArgs: Map<string, string>;
  platform?: string;
  progress: Progress;
  sourceDateEpoch?: number;
  outputs: OutputSpec[];
  /** Registry references to import cache records from / export them to. */
  cacheFrom?: string[];
  cacheTo?: string[];
  push: boolean;
  /** Layer compression (default gzip). */
  compression?: 'gzip' | 'none';
  warn?: (line: string) => void;
}

export interface BuildResult {
  manifestDigest: string;
  configDigest: string;
  tags: string[];
}

export async function build(req: BuildRequest): Promise<BuildResult> {
  const env = await openBuildEnv();
  const { dockerfileText: text, dockerfileName: name } = req.context;
  const parser = parserIdentity();
  let parsed = await env.cache.parsed<ParsedDockerfile>(parser, name, text);
  if (!parsed) {
    parsed = parseDockerfile(text, name);
    await env.cache.putParsed(parser, name, text, parsed);
  }
  const df = loadDockerfile(text, name, parsed);
  const plan = planBuild(df, {
    target: req.target,
    buildArgs: req.buildArgs,
    platform: req.platform,
  });
  const created = new Date(
    req.sourceDateEpoch !== undefined ? req.sourceDateEpoch * 1000 : Date.now(),
  )
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z');
  const results = new Map<number, Promise<StageResult>>();
  const views = new Map<string, Promise<{ dir: string; id: string }>>();
  const ctx: ExecContext = {
    env,
    plan,
    context: req.context,
    progress: req.progress,
    opts: req,
    created,
    contextDir: req.context.dir ?? '-',
    layerOptions: { sourceDateEpoch: req.sourceDateEpoch, compression: req.compression },
    stageResult: (i) => results.get(i)!,
    fromView: (src) => view(ctx, views, src),
    records: [],
    misses: 0,
  };
  try {
    for (const ref of req.noCache ? [] : (req.cacheFrom ?? [])) {
      try {
        const n = await importCache(env.store, env.cache, ref);
        req.progress.step(`importing cache manifest from ${ref}`).note(`${n} records`);
      } catch (e) {
        req.warn?.(`[Warning] failed to import cache from ${ref}: ${(e as Error).message}`);
      }
    }
    for (const ps of plan.stages) {
      const p = new StageBuilder(ctx, ps).build();
      p.catch(() => undefined);
      results.set(ps.stage.index, p);
    }
    await Promise.allSettled(results.values());
    const final = await results.get(plan.target)!;
    for (const p of results.values()) await p;
    const when = req.sourceDateEpoch === undefined ? reusedTime(ctx, final) : undefined;
    if (when) for (const h of final.config.history) if (h.created === created) h.created = when;
    const image = await writeImage(env.store, final.config, final.layers, when ?? created);
    for (const t of req.tags) {
      const current = await env.store.resolve(t).catch(() => undefined);
      if (current?.digest !== image.manifest.digest) await env.store.tag(t, image.manifest);
    }
    if (req.outputs.length) {
      const ref = req.tags[0] ?? image.manifest.digest;
      await writeOutputs(env.store, ref, req.outputs);
    }
    for (const ref of req.cacheTo ?? []) {
      const log = req.progress.step(`exporting cache to ${ref}`);
      await exportCache(env.store, ctx.records, ref);
      log.done();
    }
    if (req.push) {
      const { pushImage } = await import('../../shared/client/transfer.js');
      for (const t of req.tags) await pushImage(env.store, t);
    }
    const unused = [...req.buildArgs.keys()].filter(
      (k) => !plan.usedArgs.has(k) && !PROXY_ARGS.includes(k),
    );
    if (unused.length)
      req.warn?.(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed`);
    return {
      manifestDigest: image.manifest.digest,
      configDigest: image.config.digest,
      tags: req.tags,
    };
  } finally {
    const dirs = await Promise.allSettled(views.values());
    await Promise.all(
      dirs.map((d) =>
        d.status === 'fulfilled' ? rm(d.value.dir, { recursive: true, force: true }) : undefined,
      ),
    );
    await env.digester.save().catch(() => undefined);
  }
}

/** A fully cached build reuses the time its newest layer was made: same inputs, same image. */
function reusedTime(ctx: ExecContext, final: StageResult): string | undefined {
  if (ctx.misses > 0 || ctx.records.length === 0) return undefined;
  const times = ctx.records.map((r) => r.created).filter((t): t is string => t !== undefined);
  if (times.length !== ctx.records.length) return undefined;
  return final.layers.length ? times.sort().at(-1) : undefined;
}

function view(
  ctx: ExecContext,
  views: Map<string, Promise<{ dir: string; id: string }>>,
  src: BaseRef,
) {
  const k =
    src.kind === 'stage'
      ? `stage:${src.index}`
      : src.kind === 'image'
        ? `image:${src.ref}`
        : 'scratch';
  let v = views.get(k);
  if (!v) {
    v = (async () => {
      if (src.kind === 'stage') {
        const r = await ctx.stageResult(src.index);
        return { dir: await mergedView(ctx.env.store, ctx.env.tmpDir, r.layers), id: r.key };
      }
      if (src.kind === 'image') {
        // The build's target platform, not a stage's FROM --platform (as BuildKit does).
        const img = await loadBaseImage(ctx.env.store, src.ref, ctx.plan.platform);
        return {
          dir: await mergedView(ctx.env.store, ctx.env.tmpDir, img.layers),
          id: img.manifestDigest,
        };
      }
      throw new Error('scratch has no files');
    })();
    views.set(k, v);
  }
  return v;
}
