#!/usr/bin/env node
// `npm run prebuild`: rebuilds prebuilds/linux-x64/ort-napi.node with prebuildify (driving cmake-js),
// and libonnxruntime_providers_shared.so beside the bundled core.
// npm also runs a script named prebuild before `npm run build`; that build compiles build/Release
// itself, so here that call is skipped rather than rebuilding (and rewriting the committed binary) twice.
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

function parentPid(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

function npmScriptAsked() {
  // node (this) <- sh -c <- npm run <script>
  for (let pid = process.ppid, hops = 0; pid > 1 && hops < 4; pid = parentPid(pid), hops++) {
    let words;
    try {
      // npm retitles itself "npm run <script>", so its command line may be one string
      words = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0\s]+/);
    } catch {
      return undefined;
    }
    const run = words.findIndex((w) => w === 'run' || w === 'run-script');
    if (run > 0 && words.slice(0, run).some((w) => /npm(-cli\.js)?$/.test(w))) return words[run + 1];
  }
  return undefined;
}

if (npmScriptAsked() === 'build') process.exit(0);

const require = createRequire(import.meta.url);
const prebuildify = require.resolve('prebuildify/bin.js');
const result = spawnSync(process.execPath, [prebuildify, '--napi', '--strip', '--node-gyp', './scripts/cmake-js-as-node-gyp.mjs'], { stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);

// The same build made libonnxruntime_providers_shared.so (CMakeLists.txt): it goes beside the
// bundled core, where ONNX Runtime looks for it before loading a provider library (CUDA's).
const shared = 'prebuilds/linux-x64/libonnxruntime_providers_shared.so';
copyFileSync('build/Release/libonnxruntime_providers_shared.so', shared);
const strip = spawnSync('strip', ['--strip-all', shared], { stdio: 'inherit' });
process.exit(strip.status ?? 1);
