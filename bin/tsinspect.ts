#!/usr/bin/env node
// tsinspect: docker inspect for containers and images: a JSON array, or --format TEMPLATE per
// object. Like docker, a name is looked up as a container first, then as an image; --type
// picks one. Container documents come from runner/containers.ts (inspectContainer).
import { runCommand, type ParsedFlags } from '../shared/cli.js';
import { NotFoundError, TsdockError, errorLine } from '../shared/errors.js';
import { compileTemplate } from '../shared/go-template.js';
import { ContentStore } from '../shared/store/content-store.js';
import { inspectImage } from '../shared/store/image-inspect.js';
import { parsePlatform } from '../shared/platform.js';
import { tsinspectCommand } from './commands/tsinspect.js';

type Inspector = (ref: string) => Promise<Record<string, unknown>>;

/** The container inspector, from the runner (absent or broken: no containers to inspect). */
async function containerInspector(): Promise<Inspector | undefined> {
  try {
    const mod = (await import('../runner/containers.js')) as { inspectContainer?: Inspector };
    return mod.inspectContainer;
  } catch {
    return undefined;
  }
}

async function main({
  values,
  positionals,
}: ParsedFlags<(typeof tsinspectCommand)['flags']>): Promise<number> {
  const type = values.type;
  const template = values.format !== undefined ? compileTemplate(values.format) : undefined;
  const inspectors: Inspector[] = [];
  if (type !== 'image') {
    const c = await containerInspector();
    if (c) inspectors.push(c);
  }
  if (type !== 'container') {
    let store: ContentStore | undefined;
    const platform = values.platform !== undefined ? parsePlatform(values.platform) : undefined;
    inspectors.push(async (ref) =>
      inspectImage((store ??= await ContentStore.open()), ref, platform),
    );
  }
  const docs: Record<string, unknown>[] = [];
  let failed = false;
  for (const ref of positionals) {
    const doc = await inspectOne(inspectors, ref);
    if (doc instanceof Error) {
      process.stderr.write(`tsinspect: ${errorLine(doc)}\n`);
      failed = true;
    } else docs.push(doc);
  }
  if (template) {
    for (const d of docs) process.stdout.write(`${template(d)}\n`);
  } else {
    process.stdout.write(`${JSON.stringify(docs, null, 4)}\n`);
  }
  return failed ? 1 : 0;
}

async function inspectOne(
  inspectors: Inspector[],
  ref: string,
): Promise<Record<string, unknown> | Error> {
  for (const inspect of inspectors) {
    try {
      return await inspect(ref);
    } catch (err) {
      if (!isNotFound(err)) return err as Error;
    }
  }
  return new NotFoundError(`No such object: ${ref}`);
}

function isNotFound(err: unknown): boolean {
  if (err instanceof NotFoundError) return true;
  // Invalid as an image name (e.g. uppercase container names) means "not an image".
  return (
    err instanceof TsdockError &&
    /not found|no such|invalid reference|repository name/i.test(err.message)
  );
}

void runCommand(tsinspectCommand, main);
