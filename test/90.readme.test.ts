// 90.readme: the README's example runs as written and prints what its comments say.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from 'vitest';
import { linear } from './support/models.js';

const root = resolve(__dirname, '..');

test('the README example runs as written', () => {
  const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
  const example = /## Example\s+```js\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(example).toBeDefined();
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', example!], { cwd: root, encoding: 'utf8' });
  // Each console.log line prints what its trailing comment says.
  const promised = [...example!.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]);
  expect(out.trim().split('\n')).toEqual(promised);
});

test("the README's model file is the one the tests build", () => {
  expect(new Uint8Array(readFileSync(resolve(root, 'test/fixtures/linear.onnx')))).toEqual(linear());
});
