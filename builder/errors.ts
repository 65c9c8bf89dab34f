// Errors that point at a Dockerfile line: `Dockerfile:12: unknown instruction "RUNN" (did you
// mean RUN?)`. Everything in the builder's front end throws these so users see where to look.
import { ExitCode, InvalidInputError, TsdockError, errorLine } from '../shared/errors.js';

/**
 * docker build's exit code for a build that failed: a RUN that exited non-zero, a Dockerfile
 * error, a missing file or base image. 125 stays for command-line mistakes (a bad flag or tag).
 */
export const BUILD_FAILED_EXIT = 1;

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

/** An error met while running the step at `loc` (a pull, a missing image), with its line. */
export function atLine(loc: SourceLocation, err: unknown, what?: string): TsdockError {
  if (err instanceof DockerfileError || err instanceof BuildStepError) return err;
  const t = err instanceof TsdockError ? err : undefined;
  const detail = t ? t.message : err instanceof Error ? err.message : String(err);
  return new BuildStepError(loc.file, loc.line, what ? `${what}: ${detail}` : detail, t?.hint);
}

/** The failure of a build as the CLI reports it: same line, exit code 1 (see BUILD_FAILED_EXIT). */
export class BuildFailedError extends TsdockError {
  constructor(cause: unknown) {
    const t = cause instanceof TsdockError ? cause : undefined;
    super(t ? t.message : errorLine(cause), t?.hint, BUILD_FAILED_EXIT, { cause });
    if (cause instanceof Error && cause.stack) this.stack = cause.stack;
  }
}

/**
 * What a build's error becomes for the CLI: exit 1 unless it already asks for a code of its own
 * other than the generic tool error (a command-line mistake, for which `isUsage` says yes).
 */
export function asBuildFailure(err: unknown, isUsage: (e: unknown) => boolean): unknown {
  const code = (err as { exitCode?: unknown } | null)?.exitCode;
  if (isUsage(err) || (typeof code === 'number' && code !== ExitCode.ToolError)) return err;
  return new BuildFailedError(err);
}
