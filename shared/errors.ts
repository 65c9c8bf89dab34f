// Tool-level errors: one class that carries what went wrong, what to do about it, and the
// docker-compatible exit code (125 for tool errors). Commands print `message` on one line.

/** Docker's exit codes for the tool itself (the container's own codes pass through). */
export const ExitCode = {
  ToolError: 125,
  NotExecutable: 126,
  NotFound: 127,
} as const;

/** An error meant for the user: a one-line message with an optional hint, and an exit code. */
export class TsdockError extends Error {
  override readonly name = 'TsdockError';
  constructor(
    message: string,
    readonly hint?: string,
    readonly exitCode: number = ExitCode.ToolError,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The single line a command prints for this error. */
  toLine(): string {
    return this.hint ? `${this.message}: ${this.hint}` : this.message;
  }
}

/** Bad input from a user or a peer (an invalid reference, a malformed manifest...). */
export class InvalidInputError extends TsdockError {}

/** A digest that is malformed or uses an unsupported algorithm. */
export class InvalidDigestError extends InvalidInputError {}

/** A repository name outside the distribution grammar. */
export class InvalidNameError extends InvalidInputError {}

/** A tag outside the distribution grammar. */
export class InvalidTagError extends InvalidInputError {}

/** A manifest or index that is not what its media type requires. */
export class InvalidManifestError extends InvalidInputError {}

/** Something asked for does not exist (an image, a blob, a container). */
export class NotFoundError extends TsdockError {}

/** Content did not match the digest it was announced under. */
export class DigestMismatchError extends TsdockError {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `digest mismatch: expected ${expected}, got ${actual}`,
      'the content is corrupt or was tampered with; nothing was stored',
    );
  }
}

/** Renders any thrown value as one line for a command's stderr. */
export function errorLine(err: unknown): string {
  if (err instanceof TsdockError) return err.toLine();
  if (err instanceof Error) return err.message.split('\n')[0] ?? String(err);
  return String(err);
}
