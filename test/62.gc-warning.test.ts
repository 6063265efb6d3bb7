// 62.gc-warning: sessions and pools never released are freed by the collector, with one warning naming them.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { expect, test } from 'vitest';
import { addMul } from './support/models.js';
import { InferenceSession, ort } from './support/ort.js';

async function collectUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) {
    globalThis.gc!();
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('an InferenceSession and a SessionPool dropped unreleased each warn once, by name', async () => {
  const warnings: Error[] = [];
  const listener = (w: Error) => warnings.push(w);
  process.on('warning', listener);
  try {
    await (async () => {
      await InferenceSession.create(addMul());
      await InferenceSession.create(addMul());
      await ort.SessionPool.create(addMul());
    })();
    await collectUntil(() => warnings.length >= 2);
    // Released ones never warn.
    await (await InferenceSession.create(addMul())).release();
  } finally {
    process.off('warning', listener);
  }
  const messages = warnings.map((w) => w.message).sort();
  expect(messages).toHaveLength(2);
  expect(messages[0]).toBe(
    'a SessionPool of model bytes was garbage-collected without close(); the collector freed it, later than you would have. ' +
      'Call close() when done with it, in a finally block; `await using` does that for you on Node 24+ (or compiled by TypeScript). (Warned once per kind; env.releaseWarnings = false silences it.)',
  );
  expect(messages[1]).toBe(
    'an InferenceSession of model bytes was garbage-collected without release(); the collector freed it, later than you would have. ' +
      'Call release() when done with it, in a finally block; `await using` does that for you on Node 24+ (or compiled by TypeScript). (Warned once per kind; env.releaseWarnings = false silences it.)',
  );
  expect((warnings[0] as Error & { code?: string }).code).toBe('ORT_NAPI_NOT_RELEASED');
});

test('env.releaseWarnings = false silences the warning; the collector still frees what it drops', () => {
  // In a child: the warning is once per kind and process, and this file's first test has used it up.
  const child = spawnSync(
    process.execPath,
    ['--expose-gc', '-e', `const { InferenceSession, env } = require('ort-napi');
      process.on('warning', (w) => console.log('WARNING', w.code));
      (async () => {
        if (env.releaseWarnings !== true) throw new Error('on by default');
        env.releaseWarnings = false;
        let collected = 0;
        const seen = new FinalizationRegistry(() => collected++);
        for (let i = 0; i < 3; i++) seen.register(await InferenceSession.create('test/fixtures/linear.onnx'), i);
        for (let i = 0; i < 200 && collected < 3; i++) { gc(); await new Promise((r) => setTimeout(r, 10)); }
        await new Promise((r) => setTimeout(r, 50));
        console.log('COLLECTED', collected);
        try { env.releaseWarnings = 'no'; } catch (e) { console.log(e.message); }
        console.log('DONE');
      })();`],
    { cwd: resolve(__dirname, '..'), encoding: 'utf8', timeout: 60_000 },
  );
  expect(child.status, child.stderr).toBe(0);
  expect(child.stdout).toContain('env.releaseWarnings must be a boolean; received the string "no"');
  expect(child.stdout).toContain('COLLECTED 3');
  expect(child.stdout).toContain('DONE');
  expect(child.stdout).not.toContain('WARNING');
});
