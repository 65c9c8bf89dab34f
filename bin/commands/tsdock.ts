// tsdock's command line (shared/cli.ts CommandSpec): the entry that prints shell completion.
import { defineCommand } from '../../shared/cli.js';

export const tsdockCommand = defineCommand({
  name: 'tsdock',
  usage: 'completion bash|zsh',
  summary: 'Print a shell completion script for every tsdock command (ts*) and its flags.',
  args: { min: 2, max: 2 },
  commands: { completion: 'bash | zsh: print the completion script for that shell' },
  flags: {},
  notes:
    'bash: source <(tsdock completion bash)   (or save it in /etc/bash_completion.d/tsdock)\nzsh:  source <(tsdock completion zsh)    (after compinit)',
  validate: ({ positionals }) => {
    const [cmd, shell] = positionals;
    if (cmd !== 'completion') throw new Error(`unknown command "${cmd}"`);
    if (shell !== 'bash' && shell !== 'zsh')
      throw new Error(`unknown shell "${shell}": use bash or zsh`);
  },
});
