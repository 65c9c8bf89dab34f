// Value checks for command-line flags (FlagSpec.check in shared/cli.ts): each throws a one-line
// error on a bad value, so a command refuses its command line before doing any work.
import { constants } from 'node:os';
import { InvalidInputError } from './errors.js';

/** A whole number >= min (default 0): `--time 10`, `--workers 2`. */
export function wholeNumber(min = 0): (value: string) => number {
  return (value) => {
    const n = /^\d+$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min)
      throw new InvalidInputError(`expected a whole number >= ${min}`);
    return n;
  };
}

/** A signal by name (KILL, SIGTERM, term) or number, as docker kill takes it. */
export function signalName(value: string): string {
  const upper = value.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  if (Object.hasOwn(constants.signals, name)) return name;
  const n = Number(value);
  if (/^\d+$/.test(value) && Object.values(constants.signals).includes(n)) return value;
  throw new InvalidInputError('unknown signal', 'e.g. KILL, TERM, HUP or 9');
}

/** `512m`, `1g`, `1048576` -> bytes (binary units, as docker's --memory). */
export function byteSize(value: string): number {
  const m = /^(\d+)([bkmg]?)$/i.exec(value);
  if (!m) throw new InvalidInputError('invalid size', 'e.g. 512m, 1g');
  const unit = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase()]!;
  return Number(m[1]) * unit;
}

/** `KEY=VALUE` or `KEY` (then taken from the environment): --build-arg. */
export function keyValue(value: string): void {
  if (value === '' || value.startsWith('=')) throw new InvalidInputError('expected KEY=VALUE');
}
