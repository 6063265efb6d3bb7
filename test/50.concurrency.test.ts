// 50.concurrency: runs execute off the main thread, many at once on one session, each getting its own answer.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, test } from 'vitest';
import { matmul, random, slowSession } from './support/models.js';
import { InferenceSession, Tensor } from './support/ort.js';

describe('concurrency', () => {
  test('200 concurrent runs on one session each get the result for their own input', async () => {
    const session = await InferenceSession.create(matmul(16, 4));
    const w = random(64, 99);
    const inputs = Array.from({ length: 200 }, (_, i) => random(8 * 16, i + 1));
    const results = await Promise.all(
      inputs.map((x) => session.run({ x: new Tensor('float32', x, [8, 16]), w: new Tensor('float32', w, [16, 4]) })),
    );
    results.forEach(({ y }, r) => {
      const x = inputs[r];
      const got = y.data as Float32Array;
      for (let i = 0; i < 8; i++) {
        for (let j = 0; j < 4; j++) {
          let sum = 0;
          for (let p = 0; p < 16; p++) sum += x[i * 16 + p] * w[p * 4 + j];
          expect(got[i * 4 + j]).toBeCloseTo(sum, 4);
        }
      }
    });
    await session.release();
  });

  test('the event loop keeps turning while a long run computes', async () => {
    const { session, input, runMs } = await slowSession(200);
    let worstGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
    }, 1);
    const start = performance.now();
    const { y } = await session.run({ x: input });
    const asyncMs = performance.now() - start;
    clearInterval(timer);
    expect(y.dims).toEqual(input.dims);
    expect(asyncMs).toBeGreaterThanOrEqual(runMs * 0.5);
    // A blocked loop would show one gap as long as the run; a free one shows timer-sized gaps.
    expect(worstGap).toBeLessThan(Math.min(50, asyncMs / 4));
    await session.release();
  });

  test('runSync blocks the loop, as documented (the contrast that proves the test above)', async () => {
    const { session, input } = await slowSession(100);
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    await new Promise((r) => setTimeout(r, 5));
    const start = performance.now();
    session.runSync({ x: input });
    const blockedMs = performance.now() - start;
    await new Promise((r) => setTimeout(r, 5));
    histogram.disable();
    // The loop stood still for the whole call: one delay as long as the run (less the timer's 1 ms).
    expect(blockedMs).toBeGreaterThan(50);
    expect(histogram.max / 1e6).toBeGreaterThan(blockedMs * 0.5);
    await session.release();
  });

  // The runner threads run as SCHED_BATCH on Linux (native/runner.cc: woken, they do not preempt
  // the event loop's thread), under their own name; ORT_NAPI_RUN_SCHED=other keeps the default.
  test('runner threads are named ort-napi-run and scheduled as SCHED_BATCH unless ORT_NAPI_RUN_SCHED=other', (ctx) => {
    if (process.platform !== 'linux') {
      console.log(`[50.concurrency] runner scheduling skipped: SCHED_BATCH and /proc/self/task are Linux's, this is ${process.platform}`);
      ctx.skip();
    }
    const model = join(mkdtempSync(join(tmpdir(), 'ort-napi-sched-')), 'matmul.onnx');
    writeFileSync(model, matmul(16, 4));
    const script = `
      const fs = require('node:fs');
      const { InferenceSession, Tensor } = require('ort-napi');
      (async () => {
        const session = await InferenceSession.create(${JSON.stringify(model)});
        const x = new Tensor('float32', new Float32Array(16), [1, 16]), w = new Tensor('float32', new Float32Array(64), [16, 4]);
        await Promise.all(Array.from({ length: 8 }, () => session.run({ x, w })));
        const threads = fs.readdirSync('/proc/self/task').map((tid) => {
          const stat = fs.readFileSync('/proc/self/task/' + tid + '/stat', 'utf8');
          const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          return { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), policy: Number(fields[38]) }; // field 41: policy
        });
        console.log(JSON.stringify(threads));
      })().catch((e) => { console.error(e); process.exit(9); });`;
    const policies = (env: NodeJS.ProcessEnv) => {
      const result = spawnSync(process.execPath, ['-e', script], { cwd: resolve(__dirname, '..'), encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
      expect(result.status, result.stderr).toBe(0);
      return JSON.parse(result.stdout.trim().split('\n').pop()!) as { name: string; policy: number }[];
    };
    const SCHED_OTHER = 0, SCHED_BATCH = 3;
    const batch = policies({ ORT_NAPI_RUN_SCHED: '' });
    const runners = batch.filter((t) => t.name === 'ort-napi-run');
    expect(runners.length).toBeGreaterThan(0);
    for (const t of runners) expect(t.policy).toBe(SCHED_BATCH);
    expect(batch[0].policy).toBe(SCHED_OTHER); // the main thread (the first task) is left as it was
    const other = policies({ ORT_NAPI_RUN_SCHED: 'other' }).filter((t) => t.name === 'ort-napi-run');
    expect(other.length).toBeGreaterThan(0);
    for (const t of other) expect(t.policy).toBe(SCHED_OTHER);
  });
});
