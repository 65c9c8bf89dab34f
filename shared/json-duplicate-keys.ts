// Finds a member name that repeats within one JSON object. JSON.parse keeps the last of them,
// so two readers of one document could disagree on what it says (a registry's GC and a client
// on a manifest's layers, say); documents that must mean one thing are refused instead.

interface Frame {
  /** Member names seen so far (objects); undefined for arrays. */
  keys: Set<string> | undefined;
  path: string;
  key: string;
  index: number;
}

/**
 * The path (`layers`, `manifests[1].annotations.x`) of the first member name that repeats in
 * its object, or undefined. `text` must be valid JSON (parse it first). Names are compared after
 * unescaping, so `"a"` and `"\u0061"` are the same name.
 */
export function duplicateKeyPath(text: string): string | undefined {
  const stack: Frame[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const top = stack[stack.length - 1];
    if (c === 0x22) {
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) !== 0x22)
        j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      if (expectKey && top?.keys) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return join(top.path, key);
        top.keys.add(key);
        top.key = key;
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b || c === 0x5b) {
      const path = !top ? '' : top.keys ? join(top.path, top.key) : `${top.path}[${top.index}]`;
      stack.push({ keys: c === 0x7b ? new Set() : undefined, path, key: '', index: 0 });
      expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
    } else if (c === 0x2c && top) {
      if (top.keys) expectKey = true;
      else top.index++;
    }
  }
  return undefined;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}
