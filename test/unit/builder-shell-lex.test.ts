// Variable expansion cases from BuildKit's shell lexer (shell/envVarTest, wordsTest).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { processWord, processWords } from '../../builder/parse/shell-lex.js';

const env = new Map<string, string>([
  ['PWD', '/home'],
  ['SHELL', 'bash'],
  ['KOREAN', '한국어'],
  ['EMPTY', ''],
  ['FILE', 'archive.tar.gz'],
  ['LIST', 'a b  c'],
]);
const lookup = (n: string) => env.get(n);

const cases: [string, string][] = [
  ['hello', 'hello'],
  ["he'llo'", 'hello'],
  ['he"llo"', 'hello'],
  ['he\\"llo', 'he"llo'],
  ["'$PWD'", '$PWD'],
  ['"$PWD"', '/home'],
  ['$PWD', '/home'],
  ['${PWD}', '/home'],
  ['$PWD/x', '/home/x'],
  ['\\$PWD', '$PWD'],
  ['"\\$PWD"', '$PWD'],
  ['"\\x"', '\\x'],
  ['${UNSET:-def}', 'def'],
  ['${EMPTY:-def}', 'def'],
  ['${EMPTY-def}', ''],
  ['${UNSET-def}', 'def'],
  ['${PWD:-def}', '/home'],
  ['${PWD:+alt}', 'alt'],
  ['${EMPTY:+alt}', ''],
  ['${EMPTY+alt}', 'alt'],
  ['${UNSET+alt}', ''],
  ['${UNSET:-${SHELL}}', 'bash'],
  ['${UNSET:-"a b"}', 'a b'],
  ['$UNSET', ''],
  ['$', '$'],
  ['a$', 'a$'],
  ['$KOREAN', '한국어'],
  ['${FILE%.gz}', 'archive.tar'],
  ['${FILE%%.*}', 'archive'],
  ['${FILE#*.}', 'tar.gz'],
  ['${FILE##*.}', 'gz'],
  ['trailing\\', 'trailing'],
  ['a\\ b', 'a b'],
  ['$1', ''],
];

for (const [input, want] of cases) {
  test(`processWord ${JSON.stringify(input)}`, () => {
    assert.equal(processWord(input, lookup), want);
  });
}

test('backtick escape token', () => {
  assert.equal(processWord('a`$PWD', lookup, { escape: '`' }), 'a$PWD');
  assert.equal(processWord('C:\\dir', lookup, { escape: '`' }), 'C:\\dir');
});

test('errors: unterminated quotes and bad substitutions', () => {
  assert.throws(() => processWord("'abc", lookup), /single-quote/);
  assert.throws(() => processWord('"abc', lookup), /double-quote/);
  assert.throws(() => processWord('${PWD', lookup), /missing '}'/);
  assert.throws(() => processWord('${}', lookup), /bad substitution/);
  assert.throws(() => processWord('${:x}', lookup), /bad substitution/);
  assert.throws(() => processWord('${UNSET:?must be set}', lookup), /UNSET: must be set/);
  assert.throws(() => processWord('${PWD!x}', lookup), /unsupported modifier/);
});

test('processWords splits expanded variables but not quoted text', () => {
  assert.deepEqual(processWords('$LIST', lookup), ['a', 'b', 'c']);
  assert.deepEqual(processWords('"$LIST" x', lookup), ['a b  c', 'x']);
  assert.deepEqual(processWords('80/tcp  443', lookup), ['80/tcp', '443']);
  assert.deepEqual(processWords('"" x', lookup), ['x']);
});

test('heredoc mode keeps quotes and escapes, expands variables', () => {
  const opts = { skipProcessQuotes: true, rawEscapes: true };
  assert.equal(processWord('echo "$PWD" \'x\' \\n\n', lookup, opts), 'echo "/home" \'x\' \\n\n');
});
