// 52.inline: a run shorter than a hand-off to a runner thread executes on the caller's thread
// (native/session.cc SessionWrap::Run, lib/inline.ts), within a budget per event-loop turn, so that
// awaiting such runs in a loop still lets timers and I/O in. Each case runs in a child process,
// since ORT_NAPI_INLINE_RUN_US is read once per process.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { identity, slowChain } from './support/models.js';
import { rmSync } from 'node:fs';

const root = resolve(__dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'ort-napi-inline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'tiny.onnx'), identity('float32', [4]));
writeFileSync(join(dir, 'slow.onnx'), slowChain(256, 8)); // a few milliseconds per run

interface Seen {
  /** The most awaited runs that completed between two turns of the event loop. */
  longestStreak: number;
  /** The longest stretch between two turns of the event loop while the runs were awaited, in ms. */
  longestTurnMs: number;
  /** The share of the runs that completed alone in their loop turn. */
  aloneShare: number;
  /** Every output was right. */
  correct: boolean;
}

function loop(model: string, inlineMicros: string | undefined, runs = 3000, withSignal = false, callers = 1, preamble = ''): Seen {
  const tiny = model === 'tiny.onnx';
  const script = `${preamble}
    const { InferenceSession, Tensor } = require('ort-napi');
    (async () => {
      const s = await InferenceSession.create(${JSON.stringify(join(dir, model))}, { intraOpNumThreads: 1 });
      const feeds = (i) => ({ x: new Tensor('float32', Float32Array.from({ length: ${tiny ? 4 : 256 * 256} }, (_, j) => ${tiny ? 'i + j' : '0'}), ${tiny ? '[4]' : '[256, 256]'}) });
      const controller = new AbortController();
      const options = ${withSignal ? '{ signal: controller.signal }' : 'undefined'};
      // Warm: the session's runs get measured, and this code compiled.
      for (let i = 0; i < ${tiny ? 300 : 5}; i++) await s.run(feeds(i), options);
      let streak = 0, longestStreak = 0, last = performance.now(), longestTurnMs = 0, done = false, correct = true, alone = 0;
      const tick = () => { const now = performance.now(); longestTurnMs = Math.max(longestTurnMs, now - last); last = now; if (streak === 1) alone++; streak = 0; if (!done) setImmediate(tick); };
      setImmediate(tick);
      await Promise.all(Array.from({ length: ${callers} }, async () => {
        for (let i = 0; i < ${Math.ceil(runs / callers)}; i++) {
          const { y } = await s.run(feeds(i), options);
          ${tiny ? 'if (y.data[3] !== i + 3) correct = false;' : ''}
          longestStreak = Math.max(longestStreak, ++streak);
        }
      }));
      done = true;
      await s.release();
      console.log(JSON.stringify({ longestStreak, longestTurnMs, correct, aloneShare: alone / ${runs} }));
    })().catch((e) => { console.log(JSON.stringify({ failed: String(e && e.stack) })); process.exit(3); });`;
  const env = { ...process.env };
  if (inlineMicros === undefined) delete env.ORT_NAPI_INLINE_RUN_US;
  else env.ORT_NAPI_INLINE_RUN_US = inlineMicros;
  const out = execFileSync(process.execPath, ['-e', script], { cwd: root, env, encoding: 'utf8', timeout: 120_000 });
  return JSON.parse(out.trim().split('\n').pop()!) as Seen;
}

describe('short runs on the calling thread', () => {
  test('a session whose runs are shorter than the bound runs them inline: awaited runs complete without waiting for the loop', () => {
    // A generous bound, so the test does not depend on this machine's speed.
    const seen = loop('tiny.onnx', '10000');
    expect(seen.correct).toBe(true);
    expect(seen.longestStreak).toBeGreaterThan(5);
    expect(seen.aloneShare).toBeLessThan(0.2); // from the runners, most runs end alone in their turn (below)
    // ...yet the loop turns: 3,000 awaited runs are not one unbroken stretch.
    expect(seen.longestStreak).toBeLessThan(3000);
  });

  test('a run with an AbortSignal runs inline too (it is over before the signal could stop it); an aborted one never starts', async () => {
    const seen = loop('tiny.onnx', '10000', 3000, true);
    expect(seen.correct).toBe(true);
    expect(seen.longestStreak).toBeGreaterThan(5);
    expect(seen.aloneShare).toBeLessThan(0.2);
    const script = `const { InferenceSession, Tensor } = require('ort-napi');
      (async () => {
        const s = await InferenceSession.create(${JSON.stringify(join(dir, 'tiny.onnx'))});
        const x = new Tensor('float32', new Float32Array(4), [4]);
        for (let i = 0; i < 5; i++) await s.run({ x });
        const c = new AbortController();
        c.abort(new Error('stopped before it started'));
        console.log(await s.run({ x }, { signal: c.signal }).then(() => 'ran', (e) => e.message));
      })();`;
    const out = execFileSync(process.execPath, ['-e', script], { cwd: root, env: { ...process.env, ORT_NAPI_INLINE_RUN_US: '10000' }, encoding: 'utf8' });
    expect(out.trim()).toBe('stopped before it started');
  });

  test('ORT_NAPI_INLINE_RUN_US=0 sends every run to the runners: the loop turns between runs', () => {
    const seen = loop('tiny.onnx', '0');
    expect(seen.correct).toBe(true);
    // A result comes back through the loop: in its poll phase (the runner's threadsafe-function
    // call) or in its check phase (the turn kept for a lone run polls for it, lib/wait.ts), so a
    // loop iteration ends one run or two, at times three (a runner woken from sleep may preempt the
    // main thread inside the wake-up call and hand back its result before the loop goes on, seen
    // on 2 cores). Runs executed inline would end hundreds to a turn (the first test).
    expect(seen.longestStreak).toBeLessThanOrEqual(8);
  });

  test('results delivered from the runners do not keep the loop from turning either: four callers awaiting tiny runs', () => {
    // Node delivers up to 1,000 threadsafe-function calls per turn, and each caller's next run,
    // started inside that delivery, finishes in microseconds and joins it: streaks of a hundred runs
    // and more (10-20 ms) without a turn, before the turn budget. Here the clock run() reads moves
    // 0.4 ms further at every read, so the 1 ms budget is spent within a run or two whatever this
    // machine's speed: with the budget, no streak grows past a few runs per caller.
    const fastClock = 'const realNow = performance.now.bind(performance); let skew = 0; performance.now = () => realNow() + (skew += 0.4);';
    const seen = loop('tiny.onnx', '0', 4000, false, 4, fastClock);
    console.log(`[52.inline] four callers: longest streak ${seen.longestStreak} runs between loop turns`);
    expect(seen.correct).toBe(true);
    expect(seen.longestStreak).toBeLessThanOrEqual(12);
  });

  test('callers of a session whose runs go inline keep running inline while another run of it is on a runner', () => {
    // Four callers from the start: the session's first runs are not measured yet and go to the
    // runners, and later a run now and then does (the budget spent between its two checks). Each
    // run computes on its calling thread alone (one intra-op thread), so another caller's short
    // run may still run inline beside it; were inline runs allowed only alone on the session, one
    // run on a runner kept every other caller's off the calling thread while it was in flight,
    // and with four callers one often was: 5-25% of the runs went to the runners here (4 callers
    // of the tiny model: 55,000 runs/s with the runners busy, against 136,000), against under
    // 0.1% now. Counted by wrapping the native session's run(): an array is a run done inline, a
    // promise one submitted to a runner. Runners that sleep between tasks (no spin) hand runs back
    // later, so runs overlap longer.
    const script = `const { native } = require(${JSON.stringify(join(root, 'dist', 'binding.js'))});
      const create = native.createSession;
      let inline = 0, submitted = 0, counting = false;
      native.createSession = async (...args) => {
        const session = await create.apply(native, args);
        const run = session.run;
        Object.defineProperty(session, 'run', { value: function (...a) {
          const result = run.apply(this, a);
          if (counting) { if (Array.isArray(result)) inline++; else if (result) submitted++; }
          return result;
        } });
        return session;
      };
      const { InferenceSession, Tensor } = require('ort-napi');
      (async () => {
        const s = await InferenceSession.create(${JSON.stringify(join(dir, 'tiny.onnx'))}, { intraOpNumThreads: 1 });
        const x = new Tensor('float32', Float32Array.from([1, 2, 3, 4]), [4]);
        let started = 0;
        const start = performance.now();
        await Promise.all(Array.from({ length: 4 }, async () => {
          while (performance.now() - start < 1000) {
            if (++started === 200) counting = true; // past the first, unmeasured runs
            await s.run({ x });
          }
        }));
        console.log(JSON.stringify({ inline, submitted }));
      })().catch((e) => { console.log(JSON.stringify({ failed: String(e && e.stack) })); process.exit(3); });`;
    const env = { ...process.env, ORT_NAPI_INLINE_RUN_US: '10000', ORT_NAPI_RUN_SPIN_US: '0', ORT_NAPI_RUN_WAIT: 'sleep' };
    const out = execFileSync(process.execPath, ['-e', script], { cwd: root, env, encoding: 'utf8', timeout: 120_000 });
    const { inline, submitted } = JSON.parse(out.trim().split('\n').pop()!);
    expect(inline).toBeGreaterThan(1000);
    expect(submitted / (inline + submitted)).toBeLessThan(0.01);
  });

  test('sixteen callers whose runs all stay inline share one budget per loop turn, not one each', () => {
    // Callers waiting for the turn resume together after it; were the budget restarted for each
    // of them, sixteen callers would get sixteen budgets in one turn. The fast clock (0.4 ms a
    // read) spends a budget within a few runs: one budget per turn lets through the runs that
    // were already under way and a few more (19 here), one budget per caller twice that (32-34).
    const fastClock = 'const realNow = performance.now.bind(performance); let skew = 0; performance.now = () => realNow() + (skew += 0.4);';
    const seen = loop('tiny.onnx', '10000', 4000, false, 16, fastClock);
    console.log(`[52.inline] sixteen callers, inline runs: longest streak ${seen.longestStreak} runs between loop turns`);
    expect(seen.correct).toBe(true);
    expect(seen.longestStreak).toBeLessThanOrEqual(24);
  });

  test('a SessionPool over such a session frees an inline run\'s slot within the call: callers that come while its promise settles do not queue', () => {
    // The pool counts a request as running until its run is over. An inline run is over when
    // the session's call returns; were its slot freed only once the run's promise settled (a
    // microtask later), every caller resuming in between would find the slots taken and queue (a
    // job, a promise and a second check of its feeds each): 5 of 4,000 requests started without
    // waiting at 8 callers, where 3,000 do now.
    const script = `
      const { SessionPool, Tensor } = require('ort-napi');
      const { subscribe } = require('node:diagnostics_channel');
      (async () => {
        const pool = await SessionPool.create(${JSON.stringify(join(dir, 'tiny.onnx'))});
        const feeds = (i) => ({ x: new Tensor('float32', Float32Array.from({ length: 4 }, (_, j) => i + j), [4]) });
        for (let i = 0; i < 300; i++) await pool.run(feeds(i)); // measured: its runs are short
        const waits = [];
        subscribe('ort-napi:pool:run', (e) => waits.push(e.queueWaitMs));
        await new Promise((r) => setTimeout(r, 20)); // the loop waits: a turn's budget of its own
        // The clock stands still meanwhile: runs after a sleep are slow (cold caches), and a slow
        // machine would spend the turn's budget within these eight, sending the rest to the runners.
        const realNow = performance.now.bind(performance);
        const now = realNow();
        performance.now = () => now;
        const calls = [];
        const inFlight = [];
        for (let i = 0; i < 8; i++) {
          calls.push(pool.run(feeds(i)).then(({ y }) => y.data[3] === i + 3));
          inFlight.push(pool.stats().inFlight + pool.stats().queued);
        }
        performance.now = realNow;
        const sameTurn = { inFlight, correct: (await Promise.all(calls)).every(Boolean), waits: waits.splice(0) };
        let correct = true;
        await Promise.all(Array.from({ length: 8 }, async (_, c) => {
          for (let k = 0; k < 250; k++) {
            const i = c * 1000 + k;
            const { y } = await pool.run(feeds(i));
            if (y.data[3] !== i + 3) correct = false;
          }
        }));
        const loops = { correct, unqueued: waits.filter((w) => w === 0).length / waits.length };
        // A burst made in one go: inline until the turn's budget is spent, then queued and started
        // from the pool's loop as slots free, inline again once the loop has turned.
        const burst = (await Promise.all(Array.from({ length: 300 }, (_, i) => pool.run(feeds(i)).then(({ y }) => y.data[3] === i + 3)))).every(Boolean);
        const stats = pool.stats();
        await pool.close();
        console.log(JSON.stringify({ sameTurn, loops, burst, stats }));
      })().catch((e) => { console.log(JSON.stringify({ failed: String(e && e.stack) })); process.exit(3); });`;
    const out = execFileSync(process.execPath, ['-e', script], { cwd: root, env: { ...process.env, ORT_NAPI_INLINE_RUN_US: '10000' }, encoding: 'utf8', timeout: 120_000 });
    const seen = JSON.parse(out.trim().split('\n').pop()!);
    console.log(`[52.inline] pool, 8 callers: ${(seen.loops.unqueued * 100).toFixed(1)}% of requests started without queueing`);
    // Eight calls in one turn: each ran within its call, so none found a slot taken.
    expect(seen.sameTurn).toEqual({ inFlight: [0, 0, 0, 0, 0, 0, 0, 0], correct: true, waits: [0, 0, 0, 0, 0, 0, 0, 0] });
    expect(seen.loops.correct).toBe(true);
    // Only runs past a turn's budget wait now (a few per millisecond); before, nearly all did.
    expect(seen.loops.unqueued).toBeGreaterThan(0.1);
    expect(seen.burst).toBe(true);
    expect(seen.stats).toMatchObject({ inFlight: 0, queued: 0, completed: 300 + 8 + 2000 + 300, failed: 0 });
  });

  test('runs longer than the bound (the default, 30 µs) stay off the main thread', () => {
    const seen = loop('slow.onnx', undefined, 40);
    expect(seen.longestStreak).toBeLessThanOrEqual(3);
  });

  test('the budget per loop turn bounds inline work: runs of a few ms, allowed inline, still let the loop turn every run or two', () => {
    const seen = loop('slow.onnx', '10000', 40);
    // One run spends the 1 ms budget; the next goes to a runner and the loop turns.
    expect(seen.longestStreak).toBeLessThanOrEqual(3);
  });
});
