#!/usr/bin/env node
// tsrm: remove containers (docker rm); -f stops running ones first.
import { runCommand } from '../shared/cli.js';
import { forEachContainer } from './common/for-each-container.js';
import { tsrmCommand } from './commands/tsrm.js';

void runCommand(tsrmCommand, async ({ values, positionals }) => {
  const { rmContainer } = await import('../runner/lifecycle.js');
  return forEachContainer('tsrm', positionals, (ref) => rmContainer(ref, values.force === true));
});
