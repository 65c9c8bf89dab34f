// tsregistry's command line (shared/cli.ts CommandSpec).
import { defineCommand } from '../../shared/cli.js';
import { wholeNumber } from '../../shared/cli-values.js';

export const tsregistryCommand = defineCommand({
  name: 'tsregistry',
  usage: '[serve | gc | user add|remove|list [NAME]]',
  summary: 'Run the OCI distribution registry, collect its garbage or manage its users.',
  commands: {
    serve: 'Run the registry (the default; 127.0.0.1:5000 unless configured)',
    gc: 'Delete unreferenced blobs (online through a running server, else offline)',
    user: 'add NAME | remove NAME | list: the token service users',
  },
  flags: {
    config: { type: 'string', description: 'Configuration file (YAML, as registry:2)' },
    workers: {
      type: 'string',
      valueName: 'N',
      description:
        'serve: worker processes sharing the socket (default: one per CPU with metadata.postgres, else 1)',
      complete: 'none',
      check: wholeNumber(1),
    },
    'dry-run': { type: 'boolean', description: 'gc: only list what would be deleted' },
    untagged: { type: 'boolean', description: 'gc: delete untagged manifests too' },
    grace: {
      type: 'string',
      valueName: 'seconds',
      description: 'gc: how old a blob must be to go',
      complete: 'none',
      check: wholeNumber(0),
    },
    'password-stdin': { type: 'boolean', description: 'user add: take the password from stdin' },
    access: {
      type: 'string',
      multiple: true,
      valueName: 'grant',
      description: 'user add: a grant (repeatable), e.g. repository:team-a/*:pull,push',
      complete: 'none',
    },
  },
  notes: `gc: when the registry runs, it collects online (POST /admin/gc on loopback; with auth on, as
the user 'tslogin 127.0.0.1:PORT' saved, who needs the registry:gc:* grant).
GRANT is a scope pattern: repository:team-a/*:pull,push | repository:*:pull | registry:catalog:*
| registry:gc:* (default for a new user: repository:*:pull,push,delete, registry:catalog:* and
registry:gc:*). Re-adding a user replaces its password and grants (its refresh tokens stop working).
Environment: REGISTRY_HTTP_ADDR, REGISTRY_LOG_LEVEL, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY, ...`,
  validate: ({ positionals }) => {
    const [cmd = 'serve', sub, name, ...extra] = positionals;
    if (cmd === 'serve' || cmd === 'gc') {
      if (positionals.length > 1) throw new Error(`unexpected argument "${positionals[1]}"`);
    } else if (cmd === 'user') {
      if (sub !== 'add' && sub !== 'remove' && sub !== 'list')
        throw new Error(`unknown user command "${sub ?? ''}": use add, remove or list`);
      if (sub !== 'list' && !name) throw new Error(`user ${sub}: a user name is required`);
      if ((sub === 'list' ? name : extra[0]) !== undefined)
        throw new Error(`unexpected argument "${sub === 'list' ? name : extra[0]}"`);
    } else throw new Error(`unknown command "${cmd}"`);
  },
});
