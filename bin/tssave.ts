#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS TSDOCK_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// tssave: save images to an archive (docker save). Default format is docker's (which `docker
// load` and tsload read); --format oci writes an OCI layout tar, oci-dir an OCI layout directory.
import { parseFlags, runCli, UsageError } from '../shared/cli.js';
import { parsePlatform } from '../shared/platform.js';
import { ContentStore } from '../shared/store/content-store.js';
import { exportLayout, type ExportFormat } from '../shared/store/layout-io.js';

const HELP = `Usage:  tssave [OPTIONS] IMAGE [IMAGE...]

Save one or more images to a tar archive (streamed to STDOUT by default)

Options:
  -o, --output string     Write to a file (or, with --format oci-dir, a directory), instead of STDOUT
      --format string     docker (default: docker save format), oci (OCI layout tar), oci-dir
      --platform string   For multi-platform images in docker format: os/arch[/variant]
`;

const FORMATS: Record<string, ExportFormat> = {
  docker: 'docker-tar',
  oci: 'oci-tar',
  'oci-dir': 'oci-dir',
};

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    output: { type: 'string', short: 'o' },
    format: { type: 'string', default: 'docker' },
    platform: { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length === 0)
    throw new UsageError('"tssave" requires at least 1 argument', 'usage: tssave -o FILE IMAGE...');
  const format = FORMATS[values.format ?? 'docker'];
  if (!format)
    throw new UsageError(`unknown format "${values.format}"`, 'use docker, oci or oci-dir');
  const platform = values.platform ? parsePlatform(values.platform) : undefined;
  const store = await ContentStore.open();
  if (values.output !== undefined) {
    await exportLayout(store, positionals, values.output, { format, platform });
    return 0;
  }
  if (format === 'oci-dir') throw new UsageError('--format oci-dir needs -o DIRECTORY');
  if (process.stdout.isTTY) {
    throw new UsageError('cowardly refusing to save to a terminal', 'use the -o flag or redirect');
  }
  await exportLayout(store, positionals, process.stdout, { format, platform });
  return 0;
}

void runCli('tssave', main);
