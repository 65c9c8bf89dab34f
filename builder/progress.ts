// Build log in BuildKit's plain format: `#N [stage k/n] INSTRUCTION`, command output prefixed
// with `#N <seconds>`, then `#N CACHED` or `#N DONE 0.3s` / `#N ERROR ...`. `tty` prints the same
// lines (non-interactive terminals and CI logs stay greppable); `auto` picks by isTTY.
import { Writable } from 'node:stream';

export type ProgressMode = 'plain' | 'tty' | 'auto' | 'quiet';

export interface StepLog {
  readonly n: number;
  /** A stream whose lines are printed under this step. */
  readonly output: Writable;
  cached(): void;
  note(text: string): void;
  done(): void;
  error(message: string): void;
}

export class Progress {
  private next = 1;
  constructor(
    private readonly mode: ProgressMode,
    private readonly out: NodeJS.WritableStream = process.stderr,
  ) {}

  /** The same log written to OUT (tsbuild holds a rootless cache-only attempt's log back). */
  withOutput(out: NodeJS.WritableStream): Progress {
    return new Progress(this.mode, out);
  }

  private write(line: string): void {
    if (this.mode !== 'quiet') this.out.write(`${line}\n`);
  }

  step(label: string): StepLog {
    const n = this.next++;
    const start = process.hrtime.bigint();
    const secs = () => (Number(process.hrtime.bigint() - start) / 1e9).toFixed(3);
    this.write(`#${n} ${label}`);
    let partial = '';
    const output = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        const text = partial + chunk.toString('utf8');
        const lines = text.split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) this.write(`#${n} ${secs()} ${l}`);
        cb();
      },
    });
    const flush = () => {
      if (partial) this.write(`#${n} ${secs()} ${partial}`);
      partial = '';
    };
    return {
      n,
      output,
      cached: () => this.write(`#${n} CACHED`),
      note: (t) => this.write(`#${n} ${t}`),
      done: () => {
        flush();
        this.write(`#${n} DONE ${Number(secs()).toFixed(1)}s`);
      },
      error: (m) => {
        flush();
        this.write(`#${n} ERROR: ${m}`);
      },
    };
  }
}
