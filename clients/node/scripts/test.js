#!/usr/bin/env node
// Builds the SDK and its tests (scripts/build.js --tests), then runs them
// with node's test runner against a real Herald each test file starts.
// $HERALD_BIN: the herald binary (default: build/runtime/herald of the repo).
'use strict';
const {execFileSync, spawnSync} = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
execFileSync(process.execPath, [path.join(__dirname, 'build.js'), '--tests'], {stdio: 'inherit'});
const dir = path.join(root, 'test-build');
const files = fs.readdirSync(dir).filter((name) => name.endsWith('.test.js')).map((name) => path.join(dir, name));
const run = spawnSync(process.execPath, ['--test', ...files], {stdio: 'inherit'});
process.exit(run.status ?? 1);
