#!/usr/bin/env node
// `npm run build`: compiles the addon from source into build/Release/ort_napi.node, where the
// loader looks first. Needs cmake (3.15+) and a C++17 compiler on PATH, nothing else: ONNX
// Runtime's headers ship in native/include, and Node-API's come from the node-api-headers and
// node-addon-api packages. Works in a clone and inside an installed package (node_modules/ort-napi).
//   --debug               a Debug build (assertions, symbols, no optimisation)
//   --ort-include DIR     ONNX Runtime headers from DIR instead (another 1.29+ build's)
//   --sanitize            AddressSanitizer + UndefinedBehaviorSanitizer (tests only)
//   --out DIR             build there instead of build/ (the loader only looks in build/Release)
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const value = (flag) => {
  const at = args.indexOf(flag);
  if (at < 0) return undefined;
  if (at + 1 >= args.length) fail(`${flag} needs a value`);
  return args[at + 1];
};
function fail(message) {
  console.error(`ort-napi build: ${message}`);
  process.exit(1);
}
const known = new Set(['--debug', '--ort-include', '--sanitize', '--out']);
for (let i = 0; i < args.length; i++) {
  if (!known.has(args[i])) fail(`unknown option '${args[i]}' (options: ${[...known].join(', ')})`);
  if (args[i] === '--ort-include' || args[i] === '--out') i++;
}

const out = resolve(root, value('--out') ?? 'build');
const type = args.includes('--debug') ? 'Debug' : 'Release';
const configure = ['-S', root, '-B', out, `-DCMAKE_BUILD_TYPE=${type}`, `-DCMAKE_LIBRARY_OUTPUT_DIRECTORY=${resolve(out, 'Release')}`];
const include = value('--ort-include');
if (include) configure.push(`-DORT_INCLUDE_DIR=${resolve(include)}`);
if (args.includes('--sanitize')) configure.push('-DORT_NAPI_SANITIZE=ON');

function cmake(cmakeArgs) {
  const run = spawnSync('cmake', cmakeArgs, { cwd: root, stdio: 'inherit' });
  if (run.error) fail(run.error.code === 'ENOENT' ? 'cmake was not found on PATH: install cmake 3.15 or newer' : run.error.message);
  if (run.status !== 0) process.exit(run.status ?? 1);
}
cmake(configure);
cmake(['--build', out, '--config', type, '--parallel']);
console.log(`ort-napi build: ${resolve(out, 'Release', 'ort_napi.node')} (${type})`);
