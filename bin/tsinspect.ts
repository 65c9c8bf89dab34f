#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS TSDOCK_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// tsinspect: docker inspect for containers and images: a JSON array, or --format TEMPLATE per
// object. Like docker, a name is looked up as a container first, then as an image; --type
// picks one. Container documents come from runner/containers.ts (inspectContainer).
import { parseFlags, runCli, UsageError } from '../shared/cli.js';
import { NotFoundError, TsdockError, errorLine } from '../shared/errors.js';
import { compileTemplate } from '../shared/go-template.js';
import { ContentStore } from '../shared/store/content-store.js';
import { inspectImage } from '../shared/store/image-inspect.js';

const HELP = `Usage:  tsinspect [OPTIONS] NAME|ID [NAME|ID...]

Return low-level information on containers and images

Options:
  -f, --format string   Format output using a Go template
      --type string     Only inspect objects of the given type (container or image)
`;

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

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    format: { type: 'string', short: 'f' },
    type: { type: 'string' },
    size: { type: 'boolean', short: 's' },
    help: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length === 0)
    throw new UsageError('"tsinspect" requires at least 1 argument', 'usage: tsinspect NAME|ID...');
  const type = values.type;
  if (type !== undefined && type !== 'image' && type !== 'container') {
    throw new UsageError(`"${type}" is not a valid value for --type`, 'use container or image');
  }
  const template = values.format !== undefined ? compileTemplate(values.format) : undefined;
  const inspectors: Inspector[] = [];
  if (type !== 'image') {
    const c = await containerInspector();
    if (c) inspectors.push(c);
  }
  if (type !== 'container') {
    let store: ContentStore | undefined;
    inspectors.push(async (ref) => inspectImage((store ??= await ContentStore.open()), ref));
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

void runCli('tsinspect', main);
