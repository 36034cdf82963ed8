/**
 * The notebooks as files: saved without outputs, for the project kernel; `npm run kernel:install` is
 * idempotent. And nbconvert (the headless runner, e.g. for `jupyter nbconvert --execute`) runs a lesson
 * and an exercise top to bottom on the project's kernel in quick mode (GOOGLENET_QUICK=1): no error
 * output, nothing on stderr, at least one chart or picture, the exercise left at TODO reports "not done
 * yet", and the result stays small (no plotly.js inlined). Every notebook is run, with the same checks
 * and more, in JupyterLab by browser.test.ts.
 * Needs the project's .venv-jupyter/ (npm run setup:jupyter), not the internet.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { executeNotebook, inspectOutputs, jupyterEnv, listNotebooks, PrivateJupyter, privateJupyter, readNotebook, ROOT } from './jupyter';

/** Quick mode is meant to take seconds; this only catches a notebook gone badly slow. */
const MAX_SECONDS = 120;
/** An executed notebook (photos, feature maps, a dozen charts) stays well under this. */
const MAX_BYTES = 1_500_000;

let jupyter: PrivateJupyter;
let outDir: string;
before(() => {
  jupyter = privateJupyter(['jupyter_client', 'nbclient', 'nbconvert']);
  outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'googlenet-notebooks-'));
});
after(() => {
  jupyter?.cleanup();
  if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
});

const notebooks = listNotebooks();

test('the lessons and exercises are there', () => {
  assert.ok(notebooks.filter((n) => !n.includes('exercises')).length >= 6, notebooks.join(', '));
  assert.ok(notebooks.filter((n) => n.includes('exercises')).length >= 4, notebooks.join(', '));
});

test('notebooks are saved without outputs, for the project kernel', () => {
  for (const nb of notebooks) {
    const doc = readNotebook(path.join(ROOT, nb));
    assert.equal(doc.metadata.kernelspec?.name, jupyterEnv.KERNEL_NAME, `${nb}: kernelspec`);
    for (const cell of doc.cells.filter((c) => c.cell_type === 'code')) {
      assert.deepEqual(cell.outputs, [], `${nb}: a code cell has saved outputs (clear them before committing)`);
      assert.equal(cell.execution_count, null, `${nb}: a code cell has an execution count`);
    }
  }
});

test('kernel:install is idempotent and serves plotly.js to Notebook and Lab', () => {
  const first = jupyter.install;
  const again = jupyterEnv.installKernel({ python: jupyter.python, env: jupyter.env });
  assert.equal(again.dest, first.dest);
  const spec = JSON.parse(fs.readFileSync(path.join(again.dest, 'kernel.json'), 'utf8')) as { argv: string[]; language: string };
  assert.deepEqual(spec.argv, [process.execPath, path.join(ROOT, 'scripts', 'tslab-kernel.js'), '--config-path', '{connection_file}']);
  assert.equal(spec.language, 'typescript');
  assert.deepEqual(again.assets.map((a) => a.written), [false, false], 'assets already up to date');
  for (const a of again.assets) assert.ok(a.path.startsWith(jupyter.env.JUPYTER_DATA_DIR!), a.path);
  assert.deepEqual(
    again.assets.map((a) => path.relative(jupyter.env.JUPYTER_DATA_DIR!, a.path)),
    [path.join('nbextensions', 'googlenet-ts', 'plotly.min.js'), path.join('labextensions', 'googlenet-ts', 'static', 'plotly.min.js')],
  );
});

/** browser.test.ts runs every notebook in JupyterLab; nbconvert runs the first lesson and the first exercise. */
const NBCONVERT = [notebooks.find((n) => !n.includes('exercises'))!, notebooks.find((n) => n.includes('exercises'))!];

for (const nb of NBCONVERT) {
  test(`${nb} runs top to bottom in quick mode under nbconvert`, async (t) => {
    const run = await executeNotebook(jupyter, nb, outDir, { GOOGLENET_QUICK: '1' });
    t.diagnostic(`${nb}: ${run.seconds.toFixed(1)} s`);
    const tail = run.stderr.split('\n').filter((l) => l.trim()).slice(-25).join('\n');
    assert.equal(run.code, 0, `nbconvert failed on ${nb}:\n${tail}`);
    const size = fs.statSync(run.output).size;
    const { errors, charts, images, text } = inspectOutputs(readNotebook(run.output));
    assert.ok(errors.length === 0, `${nb} failed:\n${errors.slice(0, 3).join('\n')}`);
    assert.ok(charts + images > 0, `${nb} shows no chart or picture`);
    assert.ok(!text.includes('✗'), `${nb}: a check failed`);
    if (nb.includes('exercises')) assert.match(text, /not done yet/, `${nb}: the TODO answer is not reported as not done`);
    assert.ok(size < MAX_BYTES, `${nb}: executed notebook is ${size} bytes`);
    assert.doesNotMatch(fs.readFileSync(run.output, 'utf8'), /cdn\.plot\.ly|Copyright 2012-\d+, Plotly/, `${nb}: plotly.js is inlined or loaded from a CDN`);
    assert.ok(run.seconds < MAX_SECONDS, `${nb} took ${run.seconds.toFixed(0)} s in quick mode`);
  });
}
