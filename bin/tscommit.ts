#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS TSDOCK_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// tscommit: create a new image from a container's changes (docker commit CONTAINER REF).
// Flags: -m/--message MSG, -a/--author NAME.
import { commitContainer } from '../runner/commit.js';
import { errorLine, InvalidInputError } from '../shared/errors.js';

async function main(args: string[]): Promise<number> {
  let message: string | undefined;
  let author: string | undefined;
  const pos: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-m' || a === '--message') message = args[++i];
    else if (a === '-a' || a === '--author') author = args[++i];
    else if (a.startsWith('-'))
      throw new InvalidInputError(
        `unknown flag: ${a}`,
        'usage: tscommit [-m MSG] [-a AUTHOR] CONTAINER REF',
      );
    else pos.push(a);
  }
  if (pos.length !== 2)
    throw new InvalidInputError(
      'tscommit needs a container and a reference',
      'usage: tscommit CONTAINER REF',
    );
  const res = await commitContainer(pos[0]!, pos[1]!, { message, author });
  console.log(res.id);
  return 0;
}
main(process.argv.slice(2)).then(
  (c) => process.exit(c),
  (err: unknown) => {
    process.stderr.write(`tscommit: ${errorLine(err)}\n`);
    process.exit((err as { exitCode?: number }).exitCode ?? 125);
  },
);
