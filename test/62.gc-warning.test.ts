// 62.gc-warning: sessions and pools never released are freed by the collector, with one warning naming them.
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
      'Call close() when done with it, in a finally block; `await using` does that for you on Node 24+ (or compiled by TypeScript). (Warned once per kind.)',
  );
  expect(messages[1]).toBe(
    'an InferenceSession of model bytes was garbage-collected without release(); the collector freed it, later than you would have. ' +
      'Call release() when done with it, in a finally block; `await using` does that for you on Node 24+ (or compiled by TypeScript). (Warned once per kind.)',
  );
  expect((warnings[0] as Error & { code?: string }).code).toBe('ORT_NAPI_NOT_RELEASED');
});
