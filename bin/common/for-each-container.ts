// One action on each named container, as docker stop/kill/rm do: print each name that worked,
// one error line for each that did not, exit 1 if any failed.
import { errorLine } from '../../shared/errors.js';

export async function forEachContainer(
  command: string,
  refs: readonly string[],
  action: (ref: string) => Promise<unknown>,
): Promise<number> {
  let code = 0;
  for (const ref of refs) {
    try {
      await action(ref);
      console.log(ref);
    } catch (err) {
      process.stderr.write(`${command}: ${errorLine(err)}\n`);
      code = 1;
    }
  }
  return code;
}
