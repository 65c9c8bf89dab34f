// tsbuild's command line: flags, help and value checks (shared/cli.ts CommandSpec).
import { defineCommand } from '../../shared/cli.js';
import { byteSize, keyValue } from '../../shared/cli-values.js';
import { errorLine, InvalidInputError } from '../../shared/errors.js';
import { parseReference } from '../../shared/reference.js';
import { parseOutput } from '../../builder/export/exporter.js';
import { targetPlatforms } from '../../builder/plan/platforms.js';
import { parseExtraHost } from '../../runner/resolv-conf.js';

export const tsbuildCommand = defineCommand({
  name: 'tsbuild',
  usage: 'PATH | -',
  summary: 'Build an image from a Dockerfile.',
  // 0 only with --install-emulators / --uninstall-emulators (validate, below)
  args: { max: 1 },
  flags: {
    tag: {
      type: 'string',
      short: 't',
      multiple: true,
      valueName: 'name',
      description: 'Name and optionally a tag (name:tag), repeatable',
      complete: 'none',
      check: (t) => {
        try {
          parseReference(t);
        } catch (e) {
          throw new InvalidInputError(errorLine(e), 'use name[:tag], e.g. myapp:1.0');
        }
      },
    },
    file: {
      type: 'string',
      short: 'f',
      description: 'Name of the Dockerfile (default PATH/Dockerfile; - for stdin)',
    },
    'build-arg': {
      type: 'string',
      multiple: true,
      description: 'Set build-time variables (KEY=VALUE, or KEY to take it from the env)',
      complete: 'none',
      check: keyValue,
    },
    target: { type: 'string', description: 'Build only up to this stage', complete: 'none' },
    platform: {
      type: 'string',
      description: 'Target platforms (os/arch[/variant], comma-separated: an index)',
      complete: 'none',
      check: (p) => void targetPlatforms(p),
    },
    'install-emulators': {
      type: 'boolean',
      description:
        "Register QEMU (qemu-user-static) in binfmt_misc for --platform's platforms, or all (root)",
    },
    'uninstall-emulators': {
      type: 'boolean',
      description: 'Remove the QEMU handlers from binfmt_misc (root)',
    },
    'no-cache': { type: 'boolean', description: 'Do not use the build cache' },
    'debug-cache': {
      type: 'boolean',
      description: 'Explain every cache miss (also TSBUILD_DEBUG_CACHE=1)',
    },
    progress: {
      type: 'string',
      default: 'auto',
      choices: ['auto', 'plain', 'tty', 'quiet'],
      description: 'Progress output',
    },
    secret: {
      type: 'string',
      multiple: true,
      description: 'id=ID,src=FILE or id=ID,env=VAR for RUN --mount=type=secret',
      check: (s) => {
        if (!/(?:^|,)id=[^,]/.test(s))
          throw new InvalidInputError('no id', 'id=ID,src=FILE or id=ID,env=VAR');
      },
    },
    output: {
      type: 'string',
      short: 'o',
      multiple: true,
      description: 'type=oci|docker|oci-dir,dest=PATH',
      check: parseOutput,
    },
    push: { type: 'boolean', description: 'Push every tag after the build' },
    'cache-from': {
      type: 'string',
      multiple: true,
      valueName: 'ref',
      description: 'Import build cache from a registry (type=registry,ref=R or R)',
      complete: 'none',
    },
    'cache-to': {
      type: 'string',
      multiple: true,
      valueName: 'ref',
      description: "Export the build's cache records to a registry",
      complete: 'none',
    },
    memory: {
      type: 'string',
      short: 'm',
      valueName: 'bytes',
      description: 'Memory limit for RUN steps (e.g. 512m)',
      complete: 'none',
      check: byteSize,
    },
    network: {
      type: 'string',
      default: 'default',
      choices: ['default', 'bridge', 'none', 'host'],
      description: "RUN's network (RUN --network=... overrides it)",
    },
    'add-host': {
      type: 'string',
      multiple: true,
      description: "Add a host:ip entry to RUN's /etc/hosts (ip may be host-gateway)",
      complete: 'none',
      check: (h) => parseExtraHost(h, () => '0.0.0.0'),
    },
    quiet: { type: 'boolean', short: 'q', description: 'Print only the image id' },
    iidfile: { type: 'string', description: 'Write the image id to a file' },
    compression: {
      type: 'string',
      default: 'gzip',
      choices: ['gzip', 'none'],
      description: 'Layer compression in the store',
    },
  },
  validate: ({ values, positionals }) => {
    if (positionals.length === 0 && !values['install-emulators'] && !values['uninstall-emulators'])
      throw new Error('"tsbuild" requires exactly 1 argument (the context: a directory or -)');
  },
});
