// 90.readme: every JavaScript example in the README runs as written and prints what its comments say.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { linear } from './support/models.js';

const root = resolve(__dirname, '..');
const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
// Each ```js block, named by the heading above it.
const examples = [...readme.matchAll(/^```js\n([\s\S]*?)^```/gm)].map((m) => {
  const headings = [...readme.slice(0, m.index).matchAll(/^#+ (.*)$/gm)];
  return [headings[headings.length - 1][1], m[1]] as const;
});

describe('README examples', () => {
  test('there are examples to run', () => {
    expect(examples.map(([heading]) => heading)).toEqual(expect.arrayContaining(['Example', 'Metrics with prom-client']));
  });

  test.each(examples)('"%s" runs as written', (_heading, code) => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8' });
    // Each console.log line prints what its trailing comment says.
    const promised = [...code.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]);
    expect(promised.length).toBeGreaterThan(0);
    expect(out.trim().split('\n')).toEqual(promised);
  });
});

test("the README's model file is the one the tests build", () => {
  expect(new Uint8Array(readFileSync(resolve(root, 'test/fixtures/linear.onnx')))).toEqual(linear());
});
