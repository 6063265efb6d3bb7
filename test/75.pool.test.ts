// 75.pool: SessionPool dispatch, backpressure, deadlines, abort, close, stats, batching and events.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { getEventListeners } from 'node:events';
import { describe, expect, test } from 'vitest';
import { buildModel } from './support/onnx.js';
import { fastestRun, identity, matmul, random, slowChain } from './support/models.js';
import { mlp } from './support/mlp.js';
import { InferenceSession, ort, OrtError, Tensor, type Ort } from './support/ort.js';

const { SessionPool, PoolBusyError, ReleasedError, POOL_CHANNEL } = ort;
const rowsOf = (rows: number, seed: number) => new Tensor('float32', random(rows * 32, seed), [rows, 32]);

/** A pool whose sessions take at least 200 ms a run on this machine (the chain grows until they do). */
async function slowPool(options: Ort.PoolOptions = {}) {
  const n = 384;
  const x = new Tensor('float32', random(n * n, 1), [n, n]);
  for (let layers = 16; ; layers *= 2) {
    const model = slowChain(n, layers);
    const probe = await InferenceSession.create(model, { intraOpNumThreads: 1 });
    probe.runSync({ x }); // the first run allocates and packs: slower than the rest
    const runMs = fastestRun(() => probe.runSync({ x }), 200);
    await probe.release();
    if (runMs >= 200) return { pool: await SessionPool.create(model, { sessionOptions: { maxConcurrentRuns: 1 }, ...options }), x, runMs };
  }
}

describe('SessionPool', () => {
  test('runs requests on its sessions and answers each with its own result', async () => {
    const pool = await SessionPool.create(mlp(), { size: 2 });
    const lone = await InferenceSession.create(mlp());
    const inputs = Array.from({ length: 40 }, (_, i) => rowsOf(1 + (i % 3), i + 1));
    const results = await Promise.all(inputs.map((x) => pool.run({ x })));
    for (const [i, x] of inputs.entries()) expect(results[i].y.data).toEqual((await lone.run({ x })).y.data);
    expect(pool.stats()).toMatchObject({ completed: 40, failed: 0, inFlight: 0, queued: 0, sessions: 2 });
    await pool.close();
  });

  test('dispatches to the least-loaded session', async () => {
    const { pool, x } = await slowPool({ size: 2 });
    const runs = [pool.run({ x }), pool.run({ x })];
    // Both sessions busy at once: one run each, none queued.
    expect(pool.stats()).toMatchObject({ inFlight: 2, queued: 0 });
    await Promise.all(runs);
    await pool.close();
  });

  test('a full queue rejects at once with PoolBusyError', async () => {
    const { pool, x } = await slowPool({ maxQueue: 2 });
    const accepted = [pool.run({ x }), pool.run({ x }), pool.run({ x })]; // one running, two queued
    const error = await pool.run({ x }).catch((e) => e);
    expect(error).toBeInstanceOf(PoolBusyError);
    expect(error.code).toBe('ERR_POOL_BUSY');
    expect(pool.stats()).toMatchObject({ rejected: 1, queued: 2, inFlight: 1 });
    await Promise.all(accepted);
    await pool.close();
  });

  test('one unbatched session holds the waiting requests itself: each checked once, started when a slot frees, its wait measured', async () => {
    const { pool, x } = await slowPool();
    const seen: Ort.PoolRunEvent[] = [];
    const observe = (e: Ort.PoolRunEvent) => seen.push(e);
    let reads = 0;
    const counted = { get x() { reads++; return x; } };
    const first = pool.run({ x }, { observe });
    const second = pool.run(counted, { observe });
    const readsAtSubmit = reads;
    expect(pool.stats()).toMatchObject({ inFlight: 1, queued: 1 });
    const [a, b] = await Promise.all([first, second]);
    // Checked as it was handed to the session, not again when it started (the pool's own queue
    // checked a request as it queued, then the session when it started).
    expect(reads).toBe(readsAtSubmit);
    expect(b.y.data).toEqual(a.y.data);
    // Its wait in the session counts as queueing: it waited out the first run.
    expect(seen).toHaveLength(2);
    expect(seen[1].queueWaitMs).toBeGreaterThan(seen[0].runMs / 2);
    expect(seen[1].runMs).toBeLessThan(seen[1].queueWaitMs + seen[0].runMs);
    expect(pool.stats()).toMatchObject({ inFlight: 0, queued: 0, completed: 2 });
    await pool.close();
  });

  test('several sessions each hold one waiting request per slot, the rest wait in the pool; a held one leaves on its signal', async () => {
    const { pool, x } = await slowPool({ size: 2 });
    const controllers = Array.from({ length: 6 }, () => new AbortController());
    const runs = controllers.map((c) => pool.run({ x }, { signal: c.signal }).then((r) => r.y.data, (e) => e));
    // Two running, two held by the sessions (one each), two in the pool's queue.
    expect(pool.stats()).toMatchObject({ inFlight: 2, queued: 4 });
    // A waiting request's signal has the pool's listener alone (a running one's run adds its own).
    for (const c of controllers.slice(2)) expect(getEventListeners(c.signal, 'abort')).toHaveLength(1);
    controllers[2].abort(new Error('gone'));
    expect(await runs[2]).toMatchObject({ message: 'gone' });
    await new Promise((resolve) => setImmediate(resolve)); // its session's line has let it go
    // Its place went to the head of the pool's queue: two running, two held, one in the queue.
    expect(pool.stats()).toMatchObject({ inFlight: 2, queued: 3, aborted: 1 });
    const results = await Promise.all(runs);
    const expected = results[0];
    for (const i of [1, 3, 4, 5]) expect(results[i]).toEqual(expected);
    expect(pool.stats()).toMatchObject({ inFlight: 0, queued: 0, completed: 5, aborted: 1 });
    await pool.close();
  });

  test('a deadline removes a queued request, and stops a running one', async () => {
    const { pool, x } = await slowPool({ timeoutMs: 60 });
    const results = await Promise.allSettled([pool.run({ x }), pool.run({ x }), pool.run({ x }, { timeoutMs: 60_000 })]);
    expect(results[0]).toMatchObject({ status: 'rejected', reason: { name: 'TimeoutError' } });
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { name: 'TimeoutError' } });
    expect(results[2].status).toBe('fulfilled');
    expect(pool.stats()).toMatchObject({ timedOut: 2, completed: 1 });
    await pool.close();
  });

  test('an AbortSignal cancels while queued or running; a failed run does not poison the pool', async () => {
    const { pool, x } = await slowPool();
    const running = new AbortController();
    const queued = new AbortController();
    const a = pool.run({ x }, { signal: running.signal });
    const b = pool.run({ x }, { signal: queued.signal });
    queued.abort();
    running.abort(new Error('stop'));
    await expect(a).rejects.toThrow('stop');
    await expect(b).rejects.toMatchObject({ name: 'AbortError' });
    expect((await pool.run({ x })).y.dims).toEqual(x.dims);
    expect(pool.stats()).toMatchObject({ aborted: 2, completed: 1 });
    await pool.close();
  });

  test('one long-lived signal for many requests (a connection\'s): it cancels the queued ones, and the signal gathers no listener per request', async () => {
    const pool = await SessionPool.create(identity('float32', ['n']), { size: 1 });
    const connection = new AbortController();
    const x = new Tensor('float32', new Float32Array([1, 2]), [2]);
    const done = await Promise.all(Array.from({ length: 50 }, () => pool.run({ x }, { signal: connection.signal })));
    expect(done.every((r) => r.y.data[1] === 2)).toBe(true);
    for (let i = 0; i < 50; i++) await pool.run({ x }, { signal: connection.signal });
    // One listener for all of the signal's requests, however many came.
    expect(getEventListeners(connection.signal, 'abort')).toHaveLength(1);
    const { pool: slow, x: big } = await slowPool();
    const running = slow.run({ x: big }, { signal: connection.signal });
    // The signal's one listener, for every pool, and the running run's own (it terminates the run).
    expect(getEventListeners(connection.signal, 'abort')).toHaveLength(2);
    const queued = slow.run({ x: big }, { signal: connection.signal });
    const timed = slow.run({ x: big }, { signal: connection.signal, timeoutMs: 60_000 }); // a deadline too
    expect(getEventListeners(connection.signal, 'abort')).toHaveLength(2); // waiting adds none
    connection.abort(new Error('the client went away'));
    await expect(running).rejects.toThrow('the client went away');
    await expect(queued).rejects.toThrow('the client went away');
    await expect(timed).rejects.toThrow('the client went away');
    expect(slow.stats()).toMatchObject({ aborted: 3 });
    expect(getEventListeners(connection.signal, 'abort')).toHaveLength(0);
    await Promise.all([pool.close(), slow.close()]);
  });

  test('a signal that outlives its pool (one for the whole application) does not keep the closed pool alive', async () => {
    if (!globalThis.gc) throw new Error('run with --expose-gc (vitest.config.mts sets it)');
    const appWide = new AbortController();
    const x = new Tensor('float32', new Float32Array([1, 2]), [2]);
    let pool: Ort.SessionPool | undefined = await SessionPool.create(identity('float32', ['n']));
    await pool.run({ x }, { signal: appWide.signal });
    const ref = new WeakRef(pool);
    await pool.close();
    pool = undefined;
    for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
      await new Promise((r) => setImmediate(r));
      globalThis.gc();
    }
    expect(ref.deref()).toBeUndefined();
    expect(getEventListeners(appWide.signal, 'abort')).toHaveLength(1); // the signal's one, holding no request now
    appWide.abort(); // and its listener, finding no request, does nothing
  });

  test('bad feeds are refused before queueing, with the session’s own messages', async () => {
    const pool = await SessionPool.create(mlp());
    await expect(pool.run({ z: rowsOf(1, 1) } as never)).rejects.toThrow("feeds is missing input 'x'");
    await expect(pool.run({ x: rowsOf(1, 1) }, { deadline: 5 } as never)).rejects.toThrow("pool run options has an unknown option 'deadline'");
    expect(pool.stats().queued).toBe(0);
    await pool.close();
  });

  test('close waits for queued and running requests, then refuses new ones', async () => {
    const { pool, x } = await slowPool();
    const runs = [pool.run({ x }), pool.run({ x }), pool.run({ x })];
    const closed = pool.close();
    await expect(pool.run({ x })).rejects.toBeInstanceOf(ReleasedError);
    const results = await Promise.all(runs);
    expect(results).toHaveLength(3);
    await closed;
    expect(pool.stats()).toMatchObject({ completed: 3, inFlight: 0, queued: 0 });
    await expect(pool.sessions[0].run({ x })).rejects.toBeInstanceOf(ReleasedError);
  });

  test('a session that fails to load fails create', async () => {
    await expect(SessionPool.create(new Uint8Array([1, 2, 3]), { size: 2 })).rejects.toMatchObject({ code: 'INVALID_PROTOBUF' });
    await expect(SessionPool.create(mlp(), { size: 2, placement: [{}] })).rejects.toThrow('pool options.placement has 1 entries but size is 2');
    await expect(SessionPool.create(mlp(), { size: 2, placement: (i) => (i === 1 ? { logId: 5 as never } : {}) })).rejects.toThrow('session options.logId must be a string');
  });

  test('placement gives each session its own options', async () => {
    const pool = await SessionPool.create(mlp(), { size: 2, placement: (i) => ({ maxConcurrentRuns: i + 1 }) });
    expect(pool.sessions.map((s) => s._maxConcurrentRuns)).toEqual([1, 2]);
    await pool.close();
  });

  test('publishes one event per request on diagnostics_channel', async () => {
    const seen: Ort.PoolRunEvent[] = [];
    const listener = (event: unknown) => seen.push(event as Ort.PoolRunEvent);
    subscribe(POOL_CHANNEL, listener);
    try {
      const pool = await SessionPool.create(mlp(), { name: 'events' });
      await pool.run({ x: rowsOf(2, 1) });
      await pool.run({ z: rowsOf(2, 1) } as never).catch(() => undefined);
      await pool.close();
    } finally {
      unsubscribe(POOL_CHANNEL, listener);
    }
    expect(seen).toHaveLength(1); // the bad request never entered the pool
    expect(seen[0]).toMatchObject({ pool: 'events', outcome: 'ok', batchSize: 1, batchRows: 2 });
    expect(seen[0].runMs).toBeGreaterThan(0);
  });

  test('a request on a free slot that fails inside ONNX Runtime counts as failed, whether it ran on a runner or inline, and the pool goes on', async () => {
    // Symbolic dims: the session's checks pass a MatMul whose inner dims differ, ONNX Runtime fails it.
    const seen: Ort.PoolRunEvent[] = [];
    const listener = (event: unknown) => seen.push(event as Ort.PoolRunEvent);
    subscribe(POOL_CHANNEL, listener);
    const f32 = (dims: number[]) => new Tensor('float32', random(dims[0] * dims[1], 3), dims);
    const pool = await SessionPool.create(matmul(), { name: 'fails' });
    let onRunner: unknown;
    try {
      // The first runs are not yet measured: each goes to a runner, and fails there.
      onRunner = await pool.run({ x: f32([2, 3]), w: f32([4, 2]) }).catch((e: unknown) => e);
      expect(onRunner).toBeInstanceOf(OrtError);
      expect((onRunner as Error).stack).toContain('75.pool.test.ts');
      let right = 0;
      for (let i = 0; i < 300; i++) if ((await pool.run({ x: f32([2, 3]), w: f32([3, 4]) })).y.dims[1] === 4) right++;
      expect(right).toBe(300);
      // Measured short by now (test/52 warms a tiny model as long): its runs execute inline, on this
      // thread, and this one fails there, inside pool.run(). (The loop waits first: awaited inline
      // runs spend a budget that only a loop that waited renews, lib/inline.ts, and a spent one
      // sends runs to a runner.)
      await new Promise((resolve) => setTimeout(resolve, 5));
      const inline = await pool.run({ x: f32([2, 3]), w: f32([4, 2]) }).catch((e: unknown) => e);
      expect(inline).toBeInstanceOf(OrtError);
      expect((await pool.run({ x: f32([1, 3]), w: f32([3, 2]) })).y.dims).toEqual([1, 2]);
      expect(pool.stats()).toMatchObject({ completed: 301, failed: 2, inFlight: 0, queued: 0 });
    } finally {
      unsubscribe(POOL_CHANNEL, listener);
      await pool.close();
    }
    const mine = seen.filter((e) => e.pool === 'fails');
    expect(mine.map((e) => e.outcome)).toEqual(['error', ...Array(300).fill('ok'), 'error', 'ok']);
    expect(mine[0]).toMatchObject({ batchSize: 1, batchRows: 0, queueWaitMs: 0, error: onRunner }); // x and w differ in rows: no batch axis
  });

  test('a request held in its session for a slot that fails inside ONNX Runtime counts as failed, and the requests behind it run', async () => {
    const f32 = (dims: number[]) => new Tensor('float32', random(dims[0] * dims[1], 5), dims);
    const pool = await SessionPool.create(matmul(), { sessionOptions: { maxConcurrentRuns: 1 } });
    try {
      // One slot: the first runs, the others wait in the session (nothing can cancel them).
      const results = await Promise.allSettled([
        pool.run({ x: f32([2, 3]), w: f32([3, 4]) }),
        pool.run({ x: f32([2, 3]), w: f32([4, 2]) }),
        pool.run({ x: f32([1, 3]), w: f32([3, 5]) }),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(OrtError);
      expect((results[2] as PromiseFulfilledResult<Record<string, Ort.Tensor>>).value.y.dims).toEqual([1, 5]);
      expect(pool.stats()).toMatchObject({ completed: 2, failed: 1, inFlight: 0, queued: 0 });
    } finally {
      await pool.close();
    }
  });

  test('observe gives each request its own event (ran, timed out in the queue, refused by a full queue); an observer that throws fails its request', async () => {
    const { pool, x } = await slowPool({ maxQueue: 1 });
    const seen: Record<'ran' | 'late' | 'refused', Ort.PoolRunEvent[]> = { ran: [], late: [], refused: [] };
    const ran = pool.run({ x }, { observe: (e) => seen.ran.push(e) }); // starts at once
    const late = pool.run({ x }, { timeoutMs: 50, observe: (e) => seen.late.push(e) }); // queued behind it
    const refused = await pool.run({ x }, { observe: (e) => seen.refused.push(e) }).catch((e) => e);
    expect(refused).toBeInstanceOf(PoolBusyError);
    expect(await late.catch((e) => e)).toMatchObject({ name: 'TimeoutError' });
    await ran;
    expect(seen.refused).toEqual([expect.objectContaining({ outcome: 'rejected', batchSize: 0, error: refused })]);
    expect(seen.late).toEqual([expect.objectContaining({ outcome: 'timeout', runMs: 0, batchSize: 0 })]);
    expect(seen.late[0].queueWaitMs).toBeGreaterThanOrEqual(40);
    expect(seen.ran).toEqual([expect.objectContaining({ pool: pool.name, outcome: 'ok', batchSize: 1, batchRows: 384 })]);
    expect(seen.ran[0].runMs).toBeGreaterThan(0);
    expect(seen.ran[0].queueWaitMs).toBeLessThan(seen.ran[0].runMs);

    const boom = new Error('the observer failed');
    await expect(pool.run({ x }, { observe: () => { throw boom; } })).rejects.toBe(boom);
    await expect(pool.run({ x }, { observe: 'yes' as never })).rejects.toThrow(/pool run options\.observe/);
    await pool.run({ x }); // the pool goes on
    await pool.close();
  });
});

describe('dynamic batching', () => {
  test('batched outputs are bit-identical to lone runs, each caller getting exactly its rows', async () => {
    const pool = await SessionPool.create(mlp(), { batching: { maxBatchSize: 16, maxDelayMs: 5 } });
    const lone = await InferenceSession.create(mlp());
    const seen: Ort.PoolRunEvent[] = [];
    const listener = (e: unknown) => seen.push(e as Ort.PoolRunEvent);
    subscribe(POOL_CHANNEL, listener);
    const inputs = Array.from({ length: 30 }, (_, i) => rowsOf(1 + (i % 4), 100 + i));
    const results = await Promise.all(inputs.map((x) => pool.run({ x })));
    unsubscribe(POOL_CHANNEL, listener);
    for (const [i, x] of inputs.entries()) {
      const want = await lone.run({ x });
      expect(results[i].y.dims).toEqual([x.dims[0], 8]);
      expect(results[i].y.data).toEqual(want.y.data);
      expect(results[i].norm.data).toEqual(want.norm.data);
    }
    expect(Math.max(...seen.map((e) => e.batchSize))).toBeGreaterThan(1);
    expect(Math.max(...seen.map((e) => e.batchRows))).toBeLessThanOrEqual(16);
    await pool.close();
  });

  test('a request of zero rows batches with others and gets an empty answer', async () => {
    const pool = await SessionPool.create(mlp(), { batching: { maxBatchSize: 8, maxDelayMs: 20 } });
    const lone = await InferenceSession.create(mlp());
    const [none, two] = await Promise.all([pool.run({ x: rowsOf(0, 1) }), pool.run({ x: rowsOf(2, 2) })]);
    expect(none.y.dims).toEqual([0, 8]);
    expect(two.y.data).toEqual((await lone.run({ x: rowsOf(2, 2) })).y.data);
    await pool.close();
  });

  test('a request that cannot join a batch runs alone', async () => {
    const model = buildModel({
      inputs: [{ name: 'x', type: 'float32', dims: ['n', 'k'] }],
      outputs: [{ name: 'y', type: 'float32', dims: ['n', 'k'] }],
      nodes: [{ op: 'Neg', inputs: ['x'], outputs: ['y'] }],
    });
    const pool = await SessionPool.create(model, { batching: { maxBatchSize: 8, maxDelayMs: 5 } });
    const [narrow, wide] = await Promise.all([
      pool.run({ x: new Tensor('float32', new Float32Array([1, 2]), [1, 2]) }),
      pool.run({ x: new Tensor('float32', new Float32Array([1, 2, 3]), [1, 3]) }),
    ]);
    expect(Array.from(narrow.y.data as Float32Array)).toEqual([-1, -2]);
    expect(Array.from(wide.y.data as Float32Array)).toEqual([-1, -2, -3]);
    await pool.close();
  });

  test('an error in a batched run rejects each of its callers', async () => {
    // Gather with indices out of range for some rows fails the whole batched run.
    const model = buildModel({
      inputs: [{ name: 'i', type: 'int64', dims: ['n', 1] }],
      outputs: [{ name: 'y', type: 'float32', dims: ['n', 1] }],
      initializers: [{ name: 'table', type: 'float32', dims: [4], data: new Float32Array([10, 20, 30, 40]) }],
      nodes: [{ op: 'Gather', inputs: ['table', 'i'], outputs: ['y'] }],
    });
    const pool = await SessionPool.create(model, { batching: { maxBatchSize: 8, maxDelayMs: 20 } });
    const results = await Promise.allSettled([
      pool.run({ i: new Tensor('int64', new BigInt64Array([1n]), [1, 1]) }),
      pool.run({ i: new Tensor('int64', new BigInt64Array([99n]), [1, 1]) }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toBeInstanceOf(OrtError);
    expect(Array.from((await pool.run({ i: new Tensor('int64', new BigInt64Array([2n]), [1, 1]) })).y.data as Float32Array)).toEqual([30]);
    await pool.close();
  });

  test('a model without a batch axis is refused at creation, naming what lacks one', async () => {
    await expect(SessionPool.create(identity('float32', [4, 'k']), { batching: { maxBatchSize: 8, maxDelayMs: 1 } })).rejects.toThrow(
      "batching needs a dynamic first dim on every input and output; these have none: input 'x' (shape [4,k]), output 'y' (shape [4,k])",
    );
  });

  test('batching that never waits (maxDelayMs 0): a lone request starts at once, alone, checked once; bad feeds are refused uncounted', async () => {
    const pool = await SessionPool.create(mlp(), { name: 'no-wait', batching: { maxBatchSize: 8, maxDelayMs: 0 } });
    const lone = await InferenceSession.create(mlp());
    const seen: Ort.PoolRunEvent[] = [];
    const listener = (e: unknown) => seen.push(e as Ort.PoolRunEvent);
    subscribe(POOL_CHANNEL, listener);
    try {
      const x = rowsOf(3, 7);
      const connection = new AbortController();
      expect((await pool.run({ x })).y.data).toEqual((await lone.run({ x })).y.data);
      expect((await pool.run({ x }, { signal: connection.signal })).y.data).toEqual((await lone.run({ x })).y.data);
      await expect(pool.run({ z: x } as never)).rejects.toThrow("feeds is missing input 'x'");
      await expect(pool.run({ x: new Tensor('int32', new Int32Array(3 * 4), [3, 4]) } as never)).rejects.toThrow(/input 'x'/);
    } finally {
      unsubscribe(POOL_CHANNEL, listener);
    }
    expect(seen.filter((e) => e.pool === 'no-wait')).toMatchObject([
      { outcome: 'ok', batchSize: 1, batchRows: 3 },
      { outcome: 'ok', batchSize: 1, batchRows: 3 },
    ]);
    expect(pool.stats()).toMatchObject({ completed: 2, failed: 0, queued: 0, inFlight: 0 });
    // A waiting batcher still waits for company: maxDelayMs > 0 holds a lone request back.
    const waiting = await SessionPool.create(mlp(), { batching: { maxBatchSize: 8, maxDelayMs: 150 } });
    const started = performance.now();
    await waiting.run({ x: rowsOf(1, 1) });
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    await Promise.all([pool.close(), waiting.close(), lone.release()]);
  });

  test('preferred batch sizes dispatch without waiting out the delay', async () => {
    const pool = await SessionPool.create(mlp(), { batching: { maxBatchSize: 64, maxDelayMs: 10_000, preferredBatchSizes: [4] } });
    const start = performance.now();
    await Promise.all(Array.from({ length: 4 }, (_, i) => pool.run({ x: rowsOf(1, i + 1) })));
    expect(performance.now() - start).toBeLessThan(5_000);
    await pool.close();
  });
});
