#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's built-in test runner, TypeScript loaded through tsx.
// Usage: node scripts/run-tests.js [substring...]   (only files whose path contains one of the substrings)
// First it names, one line each, what the tests need that this machine lacks and the command that
// installs it (the tests that need it still run, and fail).
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.name.endsWith('.test.ts') ? [p] : [];
  });
}
const filters = process.argv.slice(2);
const files = walk(path.join(root, 'test'))
  .map((f) => path.relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`No test files match ${filters.join(' ')}`);
  process.exit(1);
}
// `npm test` has printed them already (scripts/prerequisites.js runs before the typecheck).
if (process.env.npm_lifecycle_event !== 'test') require('./prerequisites').report();
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(r.status === null ? 1 : r.status);
