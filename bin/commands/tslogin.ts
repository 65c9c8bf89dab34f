// tslogin's command line (shared/cli.ts CommandSpec).
import { defineCommand } from '../../shared/cli.js';

export const tsloginCommand = defineCommand({
  name: 'tslogin',
  usage: '[SERVER]',
  summary: 'Log in to a registry (default: docker.io).',
  args: { max: 1 },
  flags: {
    username: { type: 'string', short: 'u', description: 'Username', complete: 'none' },
    password: {
      type: 'string',
      short: 'p',
      description: 'Password (insecure: prefer --password-stdin)',
      complete: 'none',
    },
    'password-stdin': { type: 'boolean', description: 'Take the password from stdin' },
    insecure: {
      type: 'boolean',
      description: 'Allow plain HTTP and unverified TLS for this registry',
    },
  },
  validate: ({ values }) => {
    if (values.password !== undefined && values['password-stdin'])
      throw new Error('--password and --password-stdin are mutually exclusive');
    if (values['password-stdin'] && !values.username)
      throw new Error('must provide --username with --password-stdin');
  },
});
