#!/usr/bin/env node
// `npm run prebuild:arm64`: cross-compiles prebuilds/linux-arm64/ort-napi.node on an x86_64 Linux
// host, the arm64 twin of `npm run prebuild` (prebuilds/linux-x64/ort-napi.node). The same cmake-js
// configure line as the x64 prebuilt (CMakeLists.txt's flags: -static-libstdc++, native/exports.map,
// hidden visibility; -DBUILDING_NODE_EXTENSION), plus the toolchain file scripts/aarch64-linux-gnu.cmake,
// built in build-arm64/ (not build/, which `npm run build` and `npm run prebuild` own), then stripped
// as prebuildify strips (--strip-all) and checked: an aarch64 ELF that carries native/'s source hash.
// Needs the cross compiler: apt-get install g++-aarch64-linux-gnu (binutils-aarch64-linux-gnu comes with it).
// test/81.arm64 runs the result under qemu-user with an arm64 node; test/00.loading checks its hash.
//   --cross-prefix P   the cross toolchain's program prefix (default aarch64-linux-gnu-)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
function fail(message) {
  console.error(`ort-napi prebuild:arm64: ${message}`);
  process.exit(1);
}

const args = process.argv.slice(2);
let prefix = 'aarch64-linux-gnu-';
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--cross-prefix' && i + 1 < args.length) prefix = args[++i];
  else fail(`unknown option '${args[i]}' (options: --cross-prefix PREFIX)`);
}

function run(command, commandArgs) {
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit' });
  if (result.error) fail(result.error.code === 'ENOENT' ? `${command} was not found on PATH` : result.error.message);
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const probe = spawnSync(`${prefix}g++`, ['--version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) {
  fail(`the cross compiler ${prefix}g++ was not found: on Debian/Ubuntu, apt-get install g++-aarch64-linux-gnu`);
}

const out = join(root, 'build-arm64');
const toolchain = join(root, 'scripts', 'aarch64-linux-gnu.cmake');
run(process.execPath, [
  require.resolve('cmake-js/bin/cmake-js'),
  'rebuild',
  '--arch', 'arm64',
  '--out', out,
  `--CDCMAKE_TOOLCHAIN_FILE=${toolchain}`,
  `--CDORT_NAPI_CROSS_PREFIX=${prefix}`,
]);

const built = join(out, 'Release', 'ort_napi.node');
const dest = join(root, 'prebuilds', 'linux-arm64', 'ort-napi.node');
mkdirSync(dirname(dest), { recursive: true });
copyFileSync(built, dest);
run(`${prefix}strip`, ['--strip-all', dest]);
// ONNX Runtime's provider-bridge rendezvous, built by the same configure, beside the arm64 core.
const shared = join(root, 'prebuilds', 'linux-arm64', 'libonnxruntime_providers_shared.so');
copyFileSync(join(out, 'Release', 'libonnxruntime_providers_shared.so'), shared);
run(`${prefix}strip`, ['--strip-all', shared]);

// The same hash CMakeLists.txt bakes in (and test/00.loading computes): it must be in the binary.
const hash = createHash('sha256');
for (const f of readdirSync(join(root, 'native')).filter((f) => /\.(cc|h|map)$/.test(f)).map((f) => `native/${f}`).sort()) {
  hash.update(`${f}\n`).update(readFileSync(join(root, f)));
}
const sourceHash = hash.digest('hex');
const bytes = readFileSync(dest);
const EM_AARCH64 = 183;
if (bytes.readUInt32BE(0) !== 0x7f454c46 || bytes[4] !== 2 || bytes.readUInt16LE(18) !== EM_AARCH64) fail(`${dest} is not a 64-bit aarch64 ELF file`);
if (!bytes.includes(Buffer.from(`${sourceHash}\0`, 'latin1'))) fail(`${dest} does not carry native/'s source hash ${sourceHash}`);
console.log(`ort-napi prebuild:arm64: ${dest} (${bytes.length} bytes, source hash ${sourceHash})`);
