// HEALTHCHECK arguments: `NONE`, or `[--interval=30s ...] CMD command` in exec or shell form,
// with Go-style durations converted to the nanoseconds the image config stores.
import { errorAt } from '../errors.js';
import type { RawInstruction } from '../parse/dockerfile-parser.js';
import { parseJsonArray } from '../parse/words.js';
import type { HealthcheckConfig } from './types.js';

const UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Parses a Go duration (`1m30s`, `500ms`, `0`) into nanoseconds; undefined if invalid. */
export function parseGoDuration(s: string): number | undefined {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  return pos === s.length && pos > 0 ? Math.round(total) : undefined;
}

type Flags = Map<string, (string | true)[]>;

export function parseHealthcheck(
  raw: RawInstruction,
  text: string,
  flags: Flags,
): HealthcheckConfig {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(text);
  if (!m)
    throw errorAt(
      raw,
      'HEALTHCHECK requires an argument',
      'HEALTHCHECK [OPTIONS] CMD command, or HEALTHCHECK NONE',
    );
  const type = m[1]!.toUpperCase();
  if (type === 'NONE') {
    if (m[2]!.trim() !== '' || flags.size > 0)
      throw errorAt(raw, 'HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  if (type !== 'CMD')
    throw errorAt(raw, `unknown type "${m[1]}" in HEALTHCHECK`, 'expected CMD or NONE');
  const rest = m[2]!.trim();
  if (rest === '') throw errorAt(raw, 'HEALTHCHECK CMD requires a command');
  const json = parseJsonArray(rest);
  const health: HealthcheckConfig = { Test: json ? ['CMD', ...json] : ['CMD-SHELL', rest] };
  const dur = (flag: string, key: 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval') => {
    const v = flags.get(flag)?.[0];
    if (typeof v !== 'string') return;
    const ns = parseGoDuration(v);
    if (ns === undefined)
      throw errorAt(raw, `invalid duration --${flag}=${v}`, 'e.g. 30s, 1m30s, 500ms');
    if (ns !== 0 && ns < 1e6) throw errorAt(raw, `--${flag} cannot be less than 1ms`);
    health[key] = ns;
  };
  dur('interval', 'Interval');
  dur('timeout', 'Timeout');
  dur('start-period', 'StartPeriod');
  dur('start-interval', 'StartInterval');
  const retries = flags.get('retries')?.[0];
  if (typeof retries === 'string') {
    if (!/^\d+$/.test(retries))
      throw errorAt(raw, `invalid --retries=${retries}`, 'a whole number');
    health.Retries = Number(retries);
  }
  return health;
}
