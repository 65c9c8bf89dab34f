// Errors that point at a Dockerfile line: `Dockerfile:12: unknown instruction "RUNN" (did you
// mean RUN?)`. Everything in the builder's front end throws these so users see where to look.
import { InvalidInputError, TsdockError } from '../shared/errors.js';

/** A problem with the Dockerfile itself, at a given (1-based) line. */
export class DockerfileError extends InvalidInputError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
    hint?: string,
  ) {
    super(`${file}:${line}: ${detail}`, hint);
  }
}

/** A build step failed while executing (RUN exit code, missing COPY source...). */
export class BuildStepError extends TsdockError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
    hint?: string,
  ) {
    super(`${file}:${line}: ${detail}`, hint);
  }
}

/** Where an instruction came from, for error messages. */
export interface SourceLocation {
  file: string;
  line: number;
}

export function errorAt(loc: SourceLocation, detail: string, hint?: string): DockerfileError {
  return new DockerfileError(loc.file, loc.line, detail, hint);
}
