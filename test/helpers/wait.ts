// Waiting for a condition instead of sleeping for a guessed time: waitFor polls a probe until it
// returns something truthy (and returns that), or fails after a deadline naming what it waited
// for. The deadline is generous on purpose (a loaded 2-core machine): it bounds a broken run,
// it is not a timing assertion.

/** Polls `probe` every 20 ms until it returns something truthy; fails after `ms`. */
export async function waitFor<T>(
  probe: () => T | undefined | null | false | '' | Promise<T | undefined | null | false | ''>,
  what: string,
  ms = 30_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
