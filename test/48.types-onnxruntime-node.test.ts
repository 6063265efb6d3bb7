// 48.types-onnxruntime-node: test/types/onnxruntime-node-drop-in.ts on onnxruntime-node 1.30 itself
// (this file loads no ort-napi): the results test/48.types.test.ts expects of ort-napi.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { expect, test } from 'vitest';
import { DROP_IN_RESULTS } from './support/drop-in-results.js';

const require = createRequire(import.meta.url);

test('the drop-in file gives these results on onnxruntime-node 1.30', async (ctx) => {
  try {
    require.resolve('onnxruntime-node');
  } catch {
    console.log('skipping: onnxruntime-node (a devDependency) is not installed');
    ctx.skip();
    return;
  }
  const { main } = await import('./types/onnxruntime-node-drop-in.js');
  const ort = await import('onnxruntime-node');
  expect((ort.env.versions as { ortNapi?: string }).ortNapi, 'the import resolved to onnxruntime-node').toBeUndefined();
  const model = resolve(__dirname, 'fixtures', 'linear.onnx');
  expect(await main(model, new Uint8Array(readFileSync(model)))).toEqual(DROP_IN_RESULTS);
});
