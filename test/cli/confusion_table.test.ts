import { test } from 'node:test';
import assert from 'node:assert/strict';
import { confusionTable } from '../../src/cli/confusion_table';

test('the confusion table prints every class name in full, in aligned columns', () => {
  const names = ['daisy', 'dandelion', 'roses', 'sunflowers', 'tulips'];
  const confusion = names.map((_, i) => names.map((__, j) => (i === j ? 7 : j === 0 ? 1234 : 0)));
  const lines = confusionTable(names, confusion, [0.7, 0.5, null, 1, 0]);
  assert.equal(lines.length, 6);
  for (const n of names) assert.ok(lines[0].includes(` ${n}`), `header has '${n}' in full: ${lines[0]}`);
  // every row is as long as the header up to the accuracy column, so the columns line up
  const width = lines[0].indexOf('   accuracy');
  const ends = (l: string) => l.slice(0, width).trimEnd().length;
  for (const l of lines.slice(1)) assert.equal(ends(l), width, `row ends where the header does: '${l}'`);
  assert.ok(lines[1].startsWith('daisy '), lines[1]);
  assert.match(lines[3], /-$/, 'a class without photos shows - for its accuracy');
  assert.match(lines[4], /100\.0%$/);
  assert.ok(lines[2].includes(' 1234'), 'wide counts fit');
});
