#!/usr/bin/env node
// tsimages: list images in the local store (docker images): REPOSITORY TAG IMAGE ID CREATED SIZE.
// [REPOSITORY[:TAG]] filters; -q ids only; --no-trunc full ids; --digests; --format TEMPLATE
// (Go template over .Repository .Tag .ID .Digest .CreatedAt .CreatedSince .Size .Platforms;
// `table ...`); --tree lists the platforms of each index under it.
import { runCommand, type ParsedFlags } from '../shared/cli.js';
import { compileTemplate } from '../shared/go-template.js';
import { familiarRepository, parseReference } from '../shared/reference.js';
import { ContentStore } from '../shared/store/content-store.js';
import {
  formatColumns,
  formatTree,
  listImageRows,
  type ImageRow,
} from '../shared/store/image-list.js';
import { tsimagesCommand } from './commands/tsimages.js';

const HEADERS: Record<string, string> = {
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  ID: 'IMAGE ID',
  Digest: 'DIGEST',
  CreatedAt: 'CREATED AT',
  CreatedSince: 'CREATED',
  Size: 'SIZE',
  Platforms: 'PLATFORMS',
};

async function main({
  values,
  positionals,
}: ParsedFlags<(typeof tsimagesCommand)['flags']>): Promise<number> {
  const store = await ContentStore.open();
  let rows = await listImageRows(store, { noTrunc: values['no-trunc'] });
  if (positionals[0]) rows = rows.filter(matcher(positionals[0]));
  for (const f of values.filter ?? []) rows = rows.filter(filterFor(f));
  if (values.quiet) {
    const ids = [...new Set(rows.map((r) => r.ID))];
    if (ids.length) process.stdout.write(`${ids.join('\n')}\n`);
    return 0;
  }
  if (values.tree) {
    process.stdout.write(formatTree(rows));
    return 0;
  }
  let format = values.format ?? 'table';
  if (format === 'table') {
    format = values.digests
      ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}'
      : 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
  }
  process.stdout.write(render(format, rows));
  return 0;
}

function render(format: string, rows: ImageRow[]): string {
  const table = format.startsWith('table ');
  // `\t` and `\n` as typed in a shell's single quotes are a tab and a newline, as docker reads them
  const body = (table ? format.slice(6) : format).replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const tpl = compileTemplate(body);
  const lines = rows.map((r) => tpl(r));
  if (!table) return lines.length ? `${lines.join('\n')}\n` : '';
  const header = body.replace(
    /\{\{\s*\.(\w+)\s*\}\}/g,
    (_m, f: string) => HEADERS[f] ?? f.toUpperCase(),
  );
  return `${formatColumns([header, ...lines].map((l) => l.split('\t')))}\n`;
}

/** docker images REPOSITORY[:TAG] filter. */
function matcher(arg: string): (r: ImageRow) => boolean {
  const hasTag = /:[^/]*$/.test(arg);
  const ref = parseReference(arg);
  const repo = familiarRepository(ref);
  return (r) => r.Repository === repo && (!hasTag || r.Tag === ref.tag);
}

/** docker images --filter KEY=VALUE (dangling, reference). */
function filterFor(spec: string): (r: ImageRow) => boolean {
  const eq = spec.indexOf('=');
  const key = spec.slice(0, eq);
  const value = spec.slice(eq + 1);
  if (eq > 0 && key === 'dangling' && (value === 'true' || value === 'false')) {
    return (r) => (r.Repository === '<none>') === (value === 'true');
  }
  if (eq > 0 && key === 'reference') {
    const glob = value
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '[^/]*')
      .replace(/\?/g, '.');
    const re = new RegExp(`^${glob}$`);
    const withTag = value.includes(':');
    return (r) =>
      r.Repository !== '<none>' && re.test(withTag ? `${r.Repository}:${r.Tag}` : r.Repository);
  }
  throw new Error(`invalid filter "${spec}"`); // tsimagesCommand checked it
}

void runCommand(tsimagesCommand, main);
