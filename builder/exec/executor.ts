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
import { planBuild, type BaseRef, type BuildPlan } from '../plan/plan.js';
import { formatPlatform, targetPlatforms } from '../plan/platforms.js';
import type { BuildContext } from '../context/build-context.js';
import type { Progress } from '../progress.js';
import { openBuildEnv, type BuildEnv } from './build-env.js';
import { checkRunEmulation } from './emulation-check.js';
import { loadBaseImage, mergedView } from './base-image.js';
import type { ExecContext, ExecOptions, StageResult } from './exec-context.js';
import { StageBuilder } from './stage-builder.js';
import { writeImage, writeOutputs, type OutputSpec } from '../export/exporter.js';
import { withPlatform, writeImageIndex, type PlatformImage } from '../export/image-index.js';
import type { CacheRecord } from '../cache/build-cache.js';
import type { Descriptor } from '../../shared/manifest.js';
import { InvalidInputError } from '../../shared/errors.js';
import { PROXY_ARGS } from '../plan/build-args.js';
import { exportCache, importCache } from '../cache/cache-transfer.js';
import { needsNamespace } from './namespace-probe.js';

export interface BuildRequest extends ExecOptions {
  context: BuildContext;
  tags: string[];
  target?: string;
  buildArgs: Map<string, string>;
  /** Target platforms, comma-separated (`linux/amd64,linux/arm64`: an image index). */
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
  // One plan per target platform (--platform a,b): each is built in turn, stages that run on
  // the build platform (FROM --platform=$BUILDPLATFORM) are cache hits after the first.
  const plans = targetPlatforms(req.platform).map((platform) =>
    planBuild(df, { target: req.target, buildArgs: req.buildArgs, platform }),
  );
  if (plans.length > 1 && req.outputs.some((o) => o.type === 'docker'))
    throw new InvalidInputError(
      'docker exporter does not currently support exporting manifest lists',
      'use --output type=oci (an OCI index) or build one --platform',
    );
  await checkRunEmulation(plans);
  const created = new Date(
    req.sourceDateEpoch !== undefined ? req.sourceDateEpoch * 1000 : Date.now(),
  )
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z');
  const views = new Map<string, Promise<{ dir: string; id: string }>>();
  try {
    for (const ref of req.noCache ? [] : (req.cacheFrom ?? [])) {
      try {
        const n = await importCache(env.store, env.cache, ref);
        req.progress.step(`importing cache manifest from ${ref}`).note(`${n} records`);
      } catch (e) {
        req.warn?.(`[Warning] failed to import cache from ${ref}: ${(e as Error).message}`);
      }
    }
    const built: BuiltImage[] = [];
    for (const plan of plans)
      built.push(await buildImage(env, req, plan, created, views, plans.length > 1));
    const image = plans.length > 1 ? await writeImageIndex(env.store, built) : built[0]!;
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
      await exportCache(
        env.store,
        built.flatMap((b) => b.records),
        ref,
      );
      log.done();
    }
    if (req.push) {
      const { pushImage } = await import('../../shared/client/transfer.js');
      for (const t of req.tags) await pushImage(env.store, t);
    }
    const used = new Set(plans.flatMap((p) => [...p.usedArgs]));
    const unused = [...req.buildArgs.keys()].filter((k) => !used.has(k) && !PROXY_ARGS.includes(k));
    if (unused.length)
      req.warn?.(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed`);
    return {
      manifestDigest: image.manifest.digest,
      // an index has no config: its digest is the image's id (as docker's containerd store)
      configDigest: image.config?.digest ?? image.manifest.digest,
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

/** One platform's image, written to the store (not tagged), and the cache records it used. */
interface BuiltImage extends PlatformImage {
  config: Descriptor;
  records: CacheRecord[];
}

async function buildImage(
  env: BuildEnv,
  req: BuildRequest,
  plan: BuildPlan,
  created: string,
  views: Map<string, Promise<{ dir: string; id: string }>>,
  multiPlatform: boolean,
): Promise<BuiltImage> {
  const results = new Map<number, Promise<StageResult>>();
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
    ...(multiPlatform ? { platformLabel: formatPlatform(plan.platform) } : {}),
  };
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
  // With --platform the image is the target platform's, whatever its last FROM ran on.
  const config = req.platform ? withPlatform(final.config, plan.platform) : final.config;
  const image = await writeImage(env.store, config, final.layers, when ?? created);
  return { ...image, platform: plan.platform, records: ctx.records };
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
  const on = formatPlatform(ctx.plan.platform);
  const k =
    src.kind === 'stage'
      ? `${on} stage:${src.index}`
      : src.kind === 'image'
        ? `${on} image:${src.ref}`
        : 'scratch';
  let v = views.get(k);
  if (!v) {
    v = (async () => {
      if (ctx.opts.cacheOnly)
        needsNamespace(ctx.opts.cacheOnly, 'a merged view of a stage or image');
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
