#!/usr/bin/env node
// asan-report.mjs LOGDIR: reads the sanitizer reports of an ASan run (scripts/asan.sh): ASan's
// log_path files (LOGDIR/asan.<pid>) and UBSan's "runtime error" reports in LOGDIR/vitest.log and fuzz.log (UBSan
// writes to stderr whatever its log_path says when ASan is loaded too). Each report is put where its
// first stack points: native/ (our addon: ort_napi.node, native/*.cc, node-addon-api's headers
// compiled into it), onnxruntime (libonnxruntime.so), or elsewhere (node, V8, libc). Prints them and
// writes LOGDIR/summary.json; exits 1 when any report is in native/.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const dir = process.argv[2];
if (!dir || !existsSync(dir)) {
  console.error('usage: asan-report.mjs LOGDIR');
  process.exit(2);
}

// A stack frame, also where a line carries a prefix (fuzz.mjs quotes a child's stderr as '      | ...').
const FRAME = /#\d+ 0x[0-9a-f]+\s+(in |\()/;
const OURS = /ort_napi\.node|(^|[\s/(])native\/[\w.-]+\.(cc|h)\b|node-addon-api\/napi/;
const ORT = /libonnxruntime(_providers_\w+)?\.so/;
const SANITIZER_RUNTIME = /lib(asan|ubsan)\.so|sanitizer_common|asan_interceptors|\/libsanitizer\//;

/** The first stack of a report: the frames up to the first blank line or the next section. */
function firstStack(lines) {
  const frames = [];
  let started = false;
  for (const line of lines) {
    if (FRAME.test(line)) {
      started = true;
      frames.push(line.trim());
    } else if (started) break;
  }
  return frames;
}

function classify(frames) {
  if (frames.some((f) => OURS.test(f))) return 'native';
  const top = frames.find((f) => !SANITIZER_RUNTIME.test(f));
  if (top && ORT.test(top)) return 'onnxruntime';
  if (frames.some((f) => ORT.test(f))) return 'onnxruntime';
  return 'elsewhere';
}

const reports = [];

// ASan: one file per process; a process stops at its first report (halt_on_error), but a file may
// also hold UBSan reports if they were routed there.
for (const file of existsSync(dir) ? readdirSync(dir).filter((f) => /^asan\.\d+$/.test(f)).sort() : []) {
  const text = readFileSync(join(dir, file), 'utf8');
  const blocks = text.split(/(?=^=+\n==\d+==ERROR: )|(?=^\S.*runtime error: )/m).filter((b) => /ERROR: |runtime error: /.test(b));
  for (const block of blocks) {
    const lines = block.split('\n');
    const title = lines.find((l) => /ERROR: |runtime error: /.test(l))?.replace(/^=+\d+=+/, '').trim() ?? '(no title)';
    const frames = firstStack(lines);
    reports.push({ source: file, kind: /runtime error/.test(title) ? 'ubsan' : 'asan', title, where: classify(frames), frames, text: block.trim() });
  }
}

// UBSan: its reports go to stderr even with a log_path when ASan is loaded too, so they are read
// from the captured test output: a "file:line:col: runtime error: ..." line and the frames after it.
for (const logFile of ['vitest.log', 'fuzz.log'].map((f) => join(dir, f)).filter(existsSync)) {
  // eslint-disable-next-line no-control-regex
  const lines = readFileSync(logFile, 'utf8').replace(/\x1b\[[0-9;]*m/g, '').split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/runtime error: /.test(lines[i])) continue;
    // The report runs to the end of its stack: notes ("pointer points here", a memory dump) may come first.
    const block = [lines[i]];
    let seenFrame = false;
    for (let j = i + 1; j < lines.length && j < i + 80; j++) {
      const frame = FRAME.test(lines[j]);
      if (seenFrame && !frame) break;
      if (frame) seenFrame = true;
      else if (/runtime error: /.test(lines[j])) break;
      block.push(lines[j]);
    }
    const frames = firstStack(block);
    const title = lines[i].replace(/^(\[[\w.]+\] )?\s*\|\s/, '').trim();
    // The report's first line names the source file: ours when it is under native/ or node-addon-api.
    const where = OURS.test(title) ? 'native' : classify(frames);
    reports.push({ source: basename(logFile), kind: 'ubsan', title, where, frames, text: block.join('\n') });
  }
}

const byWhere = { native: [], onnxruntime: [], elsewhere: [] };
for (const r of reports) byWhere[r.where].push(r);

for (const where of ['native', 'onnxruntime', 'elsewhere']) {
  for (const r of byWhere[where]) {
    console.log(`\n---- ${r.kind} report in ${where} (${r.source}): ${r.title}`);
    console.log(r.frames.slice(0, 12).map((f) => `    ${f}`).join('\n') || r.text.split('\n').slice(0, 20).join('\n'));
  }
}

writeFileSync(join(dir, 'summary.json'), JSON.stringify({ native: byWhere.native.length, onnxruntime: byWhere.onnxruntime.length, elsewhere: byWhere.elsewhere.length, reports }, null, 2));
console.log(`\nsanitizer reports: ${byWhere.native.length} in native/ (ort-napi), ${byWhere.onnxruntime.length} in ONNX Runtime, ${byWhere.elsewhere.length} elsewhere`);
process.exit(byWhere.native.length > 0 ? 1 : 0);
