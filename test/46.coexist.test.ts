// 46.coexist: ort-napi and onnxruntime-node in one process (a service on ort-napi with a dependency
// still on onnxruntime-node). Both register with the one onnxruntime-common; loading them in either
// order must work, and each package's own API must keep running on its own binding.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = resolve(__dirname, '..');
const model = join(root, 'test', 'fixtures', 'linear.onnx');

function both(first: string, second: string) {
  const script = `const a = require(${JSON.stringify(first)}); const b = require(${JSON.stringify(second)});
    const ortn = require('ort-napi'), node = require('onnxruntime-node'), common = require('onnxruntime-common');
    (async () => {
      const x = (T) => new T('float32', new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
      const mine = await ortn.InferenceSession.create(${JSON.stringify(model)});
      const theirs = await node.InferenceSession.create(${JSON.stringify(model)});
      const viaCommon = await common.InferenceSession.create(${JSON.stringify(model)});
      const out = {
        mine: Array.from((await mine.run({ x: x(ortn.Tensor) })).y.data),
        theirs: Array.from((await theirs.run({ x: x(node.Tensor) })).y.data),
        common: Array.from((await viaCommon.run({ x: x(common.Tensor) })).y.data),
        mineIsOurs: mine instanceof ortn.InferenceSession,
        // onnxruntime-common 1.30 keeps the first backend registered under a name (a later one, of
        // any priority, only reorders its list): its sessions go to whichever package loaded first.
        commonHandler: viaCommon.handler && viaCommon.handler.constructor && viaCommon.handler.constructor.name,
      };
      await mine.release(); await theirs.release(); await viaCommon.release();
      console.log(JSON.stringify(out));
    })().catch((e) => { console.log(JSON.stringify({ failed: String(e && e.stack) })); process.exit(3); });`;
  const child = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { status: child.status, signal: child.signal, stderr: child.stderr, seen: JSON.parse(child.stdout.trim().split('\n').pop() || '{}') };
}

describe('ort-napi and onnxruntime-node loaded together', () => {
  for (const [first, second] of [['ort-napi', 'onnxruntime-node'], ['onnxruntime-node', 'ort-napi']]) {
    test(`${first} first, then ${second}: both load and run`, () => {
      const { status, signal, stderr, seen } = both(first, second);
      expect(seen.failed, stderr).toBeUndefined();
      expect({ status, signal }).toEqual({ status: 0, signal: null });
      expect(seen.mine).toEqual(seen.theirs);
      expect(seen.common).toEqual(seen.theirs);
      expect(seen.mineIsOurs).toBe(true);
      expect(seen.commonHandler).toBe(first === 'ort-napi' ? 'Handler' : 'OnnxruntimeSessionHandler');
    });
  }
});
