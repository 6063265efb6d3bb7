// 48.types: test/types/onnxruntime-node-drop-in.ts, TypeScript written for onnxruntime-node with its
// import unchanged, type-checks against ort-napi (npm run typecheck maps the import) and runs on it
// (here the import resolves to ort-napi) with the results onnxruntime-node gives
// (test/48.types-onnxruntime-node.test.ts runs the same file on onnxruntime-node and expects the same).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test, vi } from 'vitest';
import { DROP_IN_RESULTS } from './support/drop-in-results.js';

vi.mock('onnxruntime-node', async () => await import('ort-napi'));

test('TypeScript written for onnxruntime-node runs unchanged on ort-napi, with its results', async () => {
  const { main } = await import('./types/onnxruntime-node-drop-in.js');
  const ort = await import('onnxruntime-node');
  expect((ort.env.versions as { ortNapi?: string }).ortNapi, 'the import resolved to ort-napi').toBeTypeOf('string');
  const model = resolve(__dirname, 'fixtures', 'linear.onnx');
  expect(await main(model, new Uint8Array(readFileSync(model)))).toEqual(DROP_IN_RESULTS);
});
