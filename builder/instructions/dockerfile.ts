// A whole Dockerfile as typed instructions grouped into stages: the global ARGs before the
// first FROM, then one stage per FROM with the instructions that follow it.
import { errorAt } from '../errors.js';
import {
  parseDockerfile,
  type Directives,
  type ParsedDockerfile,
} from '../parse/dockerfile-parser.js';
import { toInstruction } from './parse-instruction.js';
import type { ArgInstruction, FromInstruction, Instruction } from './types.js';

export interface Stage {
  index: number;
  /** `AS name`, lower-cased. */
  name?: string;
  from: FromInstruction;
  instructions: Instruction[];
}

export interface Dockerfile {
  file: string;
  directives: Directives;
  globalArgs: ArgInstruction[];
  stages: Stage[];
}

/** Parses Dockerfile text into stages; throws DockerfileError pointing at the bad line. */
export function loadDockerfile(
  text: string,
  file = 'Dockerfile',
  parsed: ParsedDockerfile = parseDockerfile(text, file),
): Dockerfile {
  const escape = parsed.directives.escape;
  const globalArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  for (const raw of parsed.instructions) {
    const ins = toInstruction(raw, escape);
    if (ins.kind === 'FROM') {
      if (ins.name && stages.some((s) => s.name === ins.name))
        throw errorAt(ins, `duplicate stage name "${ins.name}"`);
      stages.push({ index: stages.length, name: ins.name, from: ins, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.kind !== 'ARG')
        throw errorAt(ins, `${ins.kind} before the first FROM`, 'only ARG may come before FROM');
      globalArgs.push(ins);
    } else {
      stages.at(-1)!.instructions.push(ins);
    }
  }
  if (stages.length === 0)
    throw errorAt(
      { file, line: Math.max(1, parsed.instructions.at(-1)?.line ?? 1) },
      'no build stage: the Dockerfile has no FROM',
      'start with FROM image',
    );
  return { file, directives: parsed.directives, globalArgs, stages };
}
