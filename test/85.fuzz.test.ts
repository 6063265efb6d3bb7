// 85.fuzz: malformed models end in an error or a result, never in a crash: 500 mutated
// models through scripts/fuzz.mjs (npm run fuzz runs thousands). The seed is the UTC date unless
// ORT_NAPI_FUZZ_SEED is set; it is printed, and a failure prints the model's path and index.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { fuzzSeeds } from './support/fuzz-seeds.js';
import { InferenceSession, Tensor, type Ort } from './support/ort.js';

const root = resolve(__dirname, '..');
const seedDir = join(root, 'test', 'fixtures', 'fuzz');
const script = join(root, 'scripts', 'fuzz.mjs');
const COUNT = 500;

interface Finding { seed: number; index?: number; from?: number; to?: number; ending: string; path?: string }
interface Summary {
  seed: number; models: number; loaded: number; ran: number; seconds: number;
  crashes: Finding[]; batchFailures: Finding[]; knownOrtCrashes: Finding[]; timeouts: Finding[];
  unexpectedErrors: { index: number; error: string; path: string }[];
}

function zeros(meta: Ort.InferenceSession['inputMetadata'][number]): Ort.Tensor {
  if (meta.kind !== 'tensor') throw new Error(`seed model input ${meta.name} is a ${meta.kind}`);
  const dims = meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : 1));
  const size = dims.reduce((a, b) => a * b, 1);
  const data: Record<string, () => Ort.TensorData> = {
    float32: () => new Float32Array(size),
    int32: () => new Int32Array(size),
    int64: () => new BigInt64Array(size),
    bool: () => new Uint8Array(size),
    string: () => new Array<string>(size).fill(''),
  };
  return new Tensor(meta.type as never, data[meta.type]() as never, dims);
}

describe('fuzz', () => {
  test('the committed seed models are the ones test/support/fuzz-seeds.ts builds (npm run fuzz:seeds rewrites them)', () => {
    const seeds = fuzzSeeds();
    if (process.env.ORT_NAPI_WRITE_FUZZ_SEEDS) {
      mkdirSync(seedDir, { recursive: true });
      for (const [name, bytes] of Object.entries(seeds)) writeFileSync(join(seedDir, name), bytes);
    }
    expect(readdirSync(seedDir).filter((f) => f.endsWith('.onnx')).sort()).toEqual(Object.keys(seeds).sort());
    for (const [name, bytes] of Object.entries(seeds)) expect(Buffer.from(readFileSync(join(seedDir, name))).equals(Buffer.from(bytes)), name).toBe(true);
  });

  test('every seed model loads and runs on zeros', async () => {
    for (const name of Object.keys(fuzzSeeds())) {
      const session = await InferenceSession.create(join(seedDir, name));
      const feeds = Object.fromEntries(session.inputMetadata.map((m) => [m.name, zeros(m)]));
      const result = await session.run(feeds);
      expect(Object.keys(result).sort(), name).toEqual([...session.outputNames].sort());
      await session.release();
    }
  });

  test(`${COUNT} mutated models end in results or errors, never in a crash`, async () => {
    const seed = Number(process.env.ORT_NAPI_FUZZ_SEED ?? new Date().toISOString().slice(0, 10).replaceAll('-', ''));
    console.log(`[85.fuzz] seed ${seed}; replay: node scripts/fuzz.mjs --seed ${seed} --count ${COUNT}`);
    const json = join(mkdtempSync(join(tmpdir(), 'ort-napi-fuzz-')), 'summary.json');
    // Batches of 50 in two children at a time; no new batch after 30 s, so the test stays well inside a minute.
    const output = await new Promise<string>((done) =>
      execFile(
        process.execPath,
        [script, '--seed', String(seed), '--count', String(COUNT), '--batch', '50', '--jobs', '2', '--max-seconds', '30', '--child-timeout', '30', '--json', json],
        { cwd: root, timeout: 110_000, maxBuffer: 16 << 20 },
        (error, stdout, stderr) => done(`${stdout}${stderr}${error && !stdout ? String(error) : ''}`),
      ),
    );
    console.log(output.trim().split('\n').map((l) => `[85.fuzz] ${l}`).join('\n'));
    const summary = JSON.parse(readFileSync(json, 'utf8')) as Summary;
    const describe = (f: Finding) => `seed ${f.seed} ${f.index !== undefined ? `index ${f.index}` : `batch ${f.from}..${f.to! - 1}`}: ${f.ending}${f.path ? ` (${f.path})` : ''}`;
    expect(summary.crashes.map(describe), 'crashes').toEqual([]);
    expect(summary.batchFailures.map(describe), 'batch crashes no single model repeats').toEqual([]);
    expect(summary.timeouts.map(describe), 'children that hung').toEqual([]);
    expect(summary.unexpectedErrors.map((u) => `index ${u.index} (${u.path}): ${u.error.split('\n')[0]}`), 'errors other than OrtError, TypeError, RangeError').toEqual([]);
    // The run did reach the addon: most batches ran, and some mutants still load and run.
    expect(summary.models).toBeGreaterThanOrEqual(150);
    expect(summary.loaded).toBeGreaterThan(0);
    expect(summary.ran).toBeGreaterThan(0);
  }, 120_000);
});
