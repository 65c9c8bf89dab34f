// duplicateKeyPath: repeated member names at any depth, compared after unescaping; strings that
// merely contain JSON punctuation and the same name in sibling objects are not duplicates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { duplicateKeyPath } from '../../shared/json-duplicate-keys.js';

test('duplicate member names are found at any depth, with their path', () => {
  const cases: Array<[string, string | undefined]> = [
    ['{"layers":[1],"layers":[]}', 'layers'],
    ['{"a":{"b":1,"c":{"d":2,"d":3}}}', 'a.c.d'],
    ['{"manifests":[{"digest":"x"},{"size":1,"digest":"y","size":2}]}', 'manifests[1].size'],
    ['[[{"k":1}],{"k":1,"k":2}]', '[1].k'],
    ['{"layer\\u0073":1,"layers":2}', 'layers'],
    ['{"a":"\\"b\\":1,","b":"{\\"a\\":1}","c":[",",{"a":1}]}', undefined],
    ['{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":2}]}', undefined],
    ['{"a":"\\\\","a\\\\":1}', undefined],
    ['{"":1,"":2}', ''],
    ['"just a string"', undefined],
  ];
  for (const [text, want] of cases) {
    JSON.parse(text);
    assert.equal(duplicateKeyPath(text), want, text);
  }
});
