// Progress display for pulls, pushes and builds. On a TTY a block of lines (one per item) is
// redrawn in place, at most every 100 ms; otherwise plain lines, only at start and finish, so CI
// logs stay short. Finished items at the top of the block scroll out and are not redrawn.

export interface ProgressItem {
  /** Bytes (or units) done so far, of `total` if known. */
  update(done: number, total?: number): void;
  /** Marks the item finished; `msg` replaces the status (default "done"). */
  done(msg?: string): void;
  fail(msg: string): void;
}

export interface Progress {
  item(id: string, label: string): ProgressItem;
  /** A line of its own, printed above the live block. */
  line(msg: string): void;
  /** Draws the final state; call once at the end. */
  end(): void;
}

export type ProgressMode = 'auto' | 'tty' | 'plain' | 'quiet';

interface ItemState {
  id: string;
  label: string;
  done: number;
  total?: number;
  final?: string;
}

const REDRAW_MS = 100;

export function createProgress(
  stream: NodeJS.WritableStream = process.stderr,
  opts: { mode?: ProgressMode } = {},
): Progress {
  const mode = opts.mode ?? 'auto';
  if (mode === 'quiet') return quietProgress();
  const tty = mode === 'tty' || (mode === 'auto' && (stream as { isTTY?: boolean }).isTTY === true);
  return tty ? new TtyProgress(stream) : new PlainProgress(stream);
}

class PlainProgress implements Progress {
  constructor(private readonly out: NodeJS.WritableStream) {}
  item(id: string, label: string): ProgressItem {
    this.out.write(`${prefix(id)}${label}\n`);
    let finished = false;
    const finish = (msg: string) => {
      if (finished) return;
      finished = true;
      this.out.write(`${prefix(id)}${msg}\n`);
    };
    return {
      update: () => undefined,
      done: (msg) => finish(msg ?? 'done'),
      fail: (msg) => finish(`failed: ${msg}`),
    };
  }
  line(msg: string): void {
    this.out.write(`${msg}\n`);
  }
  end(): void {}
}

class TtyProgress implements Progress {
  private items: ItemState[] = [];
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly out: NodeJS.WritableStream) {}

  item(id: string, label: string): ProgressItem {
    const st: ItemState = { id, label, done: 0 };
    this.items.push(st);
    this.redraw();
    return {
      update: (done, total) => {
        if (st.final !== undefined) return;
        st.done = done;
        if (total !== undefined) st.total = total;
        this.schedule();
      },
      done: (msg) => this.finish(st, msg ?? 'done'),
      fail: (msg) => this.finish(st, `failed: ${msg}`),
    };
  }

  line(msg: string): void {
    this.clear();
    this.out.write(`${msg}\n`);
    this.redraw();
  }

  end(): void {
    this.redraw();
    this.items = [];
    this.drawn = 0;
  }

  private finish(st: ItemState, msg: string): void {
    if (st.final !== undefined) return;
    st.final = msg;
    this.redraw();
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => this.redraw(), REDRAW_MS);
  }

  private clear(): void {
    this.out.write(this.clearSequence());
    this.drawn = 0;
  }

  /** Moves the cursor to the block's first line and erases to the end of the screen. */
  private clearSequence(): string {
    return this.drawn > 0 ? `\x1b[${this.drawn}F\x1b[J` : '';
  }

  private redraw(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const width = ((this.out as { columns?: number }).columns ?? 80) - 1;
    let text = this.clearSequence();
    // Leading finished items are printed one last time and leave the live block.
    while (this.items.length > 0 && this.items[0]!.final !== undefined) {
      text += `${fit(renderItem(this.items.shift()!, width), width)}\n`;
    }
    // The block must fit on the screen, or moving the cursor up over it cannot work.
    const rows = (this.out as { rows?: number }).rows ?? 24;
    const room = Math.max(1, rows - 2);
    const shown = this.items.length > room ? this.items.slice(0, room - 1) : this.items;
    for (const st of shown) text += `${fit(renderItem(st, width), width)}\n`;
    if (shown.length < this.items.length) {
      text += `... and ${this.items.length - shown.length} more\n`;
    }
    this.drawn = shown.length + (shown.length < this.items.length ? 1 : 0);
    this.out.write(text);
  }
}

function quietProgress(): Progress {
  const noop = () => undefined;
  return { item: () => ({ update: noop, done: noop, fail: noop }), line: noop, end: noop };
}

function renderItem(st: ItemState, width: number): string {
  const head = `${prefix(st.id)}${st.final ?? st.label}`;
  if (st.final !== undefined || (st.done === 0 && st.total === undefined)) return head;
  if (st.total === undefined || st.total <= 0) return `${head} ${formatBytes(st.done)}`;
  const counts = `${formatBytes(st.done)}/${formatBytes(st.total)}`;
  // The bar takes what is left of the line, 10 to 50 cells, or is left out.
  const room = width - head.length - counts.length - 4;
  if (room < 10) return `${head} ${counts}`;
  return `${head} ${bar(st.done / st.total, Math.min(room, 50))} ${counts}`;
}

function prefix(id: string): string {
  return id ? `${id}: ` : '';
}

function bar(fraction: number, width: number): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.floor(f * width);
  return `[${'='.repeat(full)}${full < width ? '>' : ''}${' '.repeat(Math.max(0, width - full - 1))}]`;
}

function fit(line: string, width: number): string {
  return line.length > width && width > 3 ? `${line.slice(0, width - 3)}...` : line;
}

/** Docker-style sizes: 512B, 1.5kB, 12.3MB (powers of 1000). */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v}${units[0]}` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)}${units[i]}`;
}
