// 55.abort: run options: an AbortSignal stops a queued or running run (the session stays usable); config entries.
import { describe, expect, test } from 'vitest';
import { identity, slowSession } from './support/models.js';
import { InferenceSession, Tensor } from './support/ort.js';

describe('abort', () => {
  test('a run of 500 ms or more stops within 100 ms of the abort, and the next run succeeds', async () => {
    const { session, input, runMs } = await slowSession(500, { maxConcurrentRuns: 1 });
    const controller = new AbortController();
    const running = session.run({ x: input }, { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 50));
    const abortedAt = performance.now();
    controller.abort();
    const error = await running.catch((e) => e);
    const stoppedIn = performance.now() - abortedAt;
    expect(error).toBeInstanceOf(DOMException);
    expect(error.name).toBe('AbortError');
    expect(stoppedIn).toBeLessThan(Math.min(100, runMs / 5));
    const { y } = await session.run({ x: input });
    expect(y.data).toEqual(input.data); // identity weights
    await session.release();
  });

  test('a queued run leaves the queue with the reason it was given; the runs ahead finish', async () => {
    const { session, input } = await slowSession(100, { maxConcurrentRuns: 1 });
    const first = session.run({ x: input });
    const controller = new AbortController();
    const queued = session.run({ x: input }, { signal: controller.signal });
    controller.abort(new Error('caller went away'));
    await expect(queued).rejects.toThrow('caller went away');
    expect((await first).y.dims).toEqual(input.dims);
    await session.release();
  });

  test('an already aborted signal rejects before anything runs; AbortSignal.timeout works too', async () => {
    const session = await InferenceSession.create(identity('float32', ['n']));
    const x = new Tensor('float32', new Float32Array(4), [4]);
    await expect(session.run({ x }, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(() => session.runSync({ x }, { signal: AbortSignal.abort() })).toThrow(expect.objectContaining({ name: 'AbortError' }));
    const { session: slow, input } = await slowSession(300, { maxConcurrentRuns: 1 });
    await expect(slow.run({ x: input }, { signal: AbortSignal.timeout(20) })).rejects.toMatchObject({ name: 'TimeoutError' });
    expect((await session.run({ x }, { signal: new AbortController().signal })).y.dims).toEqual([4]);
  });

  test('run options reused across runs with a signal: one a signal terminated is never handed to another run', async () => {
    // Runs with a signal and no other run option share native run options, taken back once their
    // run is over. A terminated one, reused, would fail the next run at once ("terminate flag").
    const fast = await InferenceSession.create(identity('float32', ['n']));
    const x = new Tensor('float32', new Float32Array([1, 2, 3, 4]), [4]);
    const { session: slow, input } = await slowSession(200, { maxConcurrentRuns: 4 });
    for (let round = 0; round < 3; round++) {
      // Four slow runs at once, each with its own handle; two are stopped mid-run, two finish.
      const controllers = Array.from({ length: 4 }, () => new AbortController());
      const runs = controllers.map((c) => slow.run({ x: input }, { signal: c.signal }));
      await new Promise((r) => setTimeout(r, 30));
      controllers[0].abort();
      controllers[2].abort();
      const settled = await Promise.allSettled(runs);
      expect(settled.map((s) => s.status)).toEqual(['rejected', 'fulfilled', 'rejected', 'fulfilled']);
      // Every handle there is now goes to a run: all of them must run.
      const after = await Promise.all(Array.from({ length: 8 }, () => fast.run({ x }, { signal: new AbortController().signal })));
      for (const { y } of after) expect(Array.from(y.data as Float32Array)).toEqual([1, 2, 3, 4]);
    }
    // Run options that set something are the run's own, with or without a signal.
    expect((await fast.run({ x }, { signal: new AbortController().signal, tag: 'tagged', logSeverityLevel: 3 })).y.dims).toEqual([4]);
    await Promise.all([fast.release(), slow.release()]);
  });

  test('a signal that is not an AbortSignal is refused by name', async () => {
    const session = await InferenceSession.create(identity('float32', ['n']));
    const x = new Tensor('float32', new Float32Array(4), [4]);
    await expect(session.run({ x }, { signal: {} as never })).rejects.toThrow('run options.signal must be an AbortSignal; received an object (Object)');
  });

  test('run config entries reach ONNX Runtime: a bad arena-shrinkage device is refused by it', async () => {
    const session = await InferenceSession.create(identity('float32', ['n']));
    const x = new Tensor('float32', new Float32Array(4), [4]);
    const shrink = (device: string) => session.run({ x }, { configEntries: { 'memory.enable_memory_arena_shrinkage': device } });
    expect((await shrink('cpu:0')).y.dims).toEqual([4]);
    await expect(shrink('gpu:7')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('memory arena shrink list: gpu:7') });
    await expect(session.run({ x }, { configEntries: { key: 1 } } as never)).rejects.toThrow("run options.configEntries['key'] must be a string; received number 1");
  });
});
