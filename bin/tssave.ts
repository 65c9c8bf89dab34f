#!/usr/bin/env node
// tssave: save images to an archive (docker save). Default format is docker's (which `docker
// load` and tsload read); --format oci writes an OCI layout tar, oci-dir an OCI layout directory.
import { runCommand, UsageError, type ParsedFlags } from '../shared/cli.js';
import { parsePlatform } from '../shared/platform.js';
import { ContentStore } from '../shared/store/content-store.js';
import { exportLayout, type ExportFormat } from '../shared/store/layout-io.js';
import { tssaveCommand } from './commands/tssave.js';

const FORMATS: Record<string, ExportFormat> = {
  docker: 'docker-tar',
  oci: 'oci-tar',
  'oci-dir': 'oci-dir',
};

async function main({
  values,
  positionals,
}: ParsedFlags<(typeof tssaveCommand)['flags']>): Promise<number> {
  const format = FORMATS[values.format!]!;
  const platform = values.platform ? parsePlatform(values.platform) : undefined;
  const store = await ContentStore.open();
  if (values.output !== undefined) {
    await exportLayout(store, positionals, values.output, { format, platform });
    return 0;
  }
  if (process.stdout.isTTY) {
    throw new UsageError('cowardly refusing to save to a terminal', 'use the -o flag or redirect');
  }
  await exportLayout(store, positionals, process.stdout, { format, platform });
  return 0;
}

void runCommand(tssaveCommand, main);
