#!/usr/bin/env node
// Builds @herald/node: copies the protos it reads at run time into proto/
// (so the published package carries them), generates the TypeScript types
// of herald.proto into src/generated/ with @grpc/proto-loader's generator,
// and compiles src/ to dist/ (and, with --tests, test/ to test-build/).
//
// The protos come from the repository (proto/herald/v1/herald.proto), never
// copied by hand, and google/rpc/{status,error_details}.proto (the rich
// error model Herald's RetryInfo travels in) from Debian's
// golang-github-gogo-googleapis-dev, the same files the C++ build uses
// (proto/CMakeLists.txt); $HERALD_GOOGLEAPIS_PROTO_DIR overrides where.
'use strict';
const {execFileSync} = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const repo = path.resolve(root, '..', '..');
const googleapis = process.env.HERALD_GOOGLEAPIS_PROTO_DIR || '/usr/share/gocode/src/github.com/gogo/googleapis';
const protos = [
  [path.join(repo, 'proto'), 'herald/v1/herald.proto'],
  [googleapis, 'google/rpc/status.proto'],
  [googleapis, 'google/rpc/error_details.proto'],
];

function bin(name) {
  // npm workspaces hoist the tools to clients/node_modules/.bin.
  for (const dir of [path.join(root, 'node_modules', '.bin'), path.join(root, '..', 'node_modules', '.bin')]) {
    const candidate = path.join(dir, name);
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error(`build: ${name} not found: run npm ci in clients/`);
}

for (const [from, relative] of protos) {
  const source = path.join(from, relative);
  if (!fs.existsSync(source)) {
    throw new Error(`build: ${source} not found` +
        (from === googleapis ? ' (install golang-github-gogo-googleapis-dev, or set HERALD_GOOGLEAPIS_PROTO_DIR)' : ''));
  }
  const target = path.join(root, 'proto', relative);
  fs.mkdirSync(path.dirname(target), {recursive: true});
  fs.copyFileSync(source, target);
}

// The options must match the loader's (src/proto.ts): camelCase fields,
// int64 as number, enums as their names, defaults filled in, oneof names.
fs.rmSync(path.join(root, 'src', 'generated'), {recursive: true, force: true});
execFileSync(bin('proto-loader-gen-types'),
    // The file comes first: --includeDirs takes every argument after it.
    ['herald/v1/herald.proto', '--longs=Number', '--enums=String', '--defaults', '--oneofs',
     '--grpcLib=@grpc/grpc-js', '--outDir=' + path.join(root, 'src', 'generated'),
     '--includeDirs=' + path.join(root, 'proto')],
    {stdio: 'inherit'});

fs.rmSync(path.join(root, 'dist'), {recursive: true, force: true});
execFileSync(bin('tsc'), ['-p', path.join(root, 'tsconfig.json')], {stdio: 'inherit'});
if (process.argv.includes('--tests')) {
  fs.rmSync(path.join(root, 'test-build'), {recursive: true, force: true});
  execFileSync(bin('tsc'), ['-p', path.join(root, 'tsconfig.test.json')], {stdio: 'inherit'});
}
