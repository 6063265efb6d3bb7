// 53.wait-awake: a lone run's result finds its event loop awake (native/runner.h, "The wait for a
// result"; lib/wait.ts), the results stay right, and nothing breaks when the environment or the
// process goes while such a wake-up is due.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { matmul, random, slowChain } from './support/models.js';
import type { NativeSession } from '../lib/binding.js';
import { runSyncDescribed, tensorAt } from './support/native-run.js';

const tasksetFound = process.platform === 'linux' && spawnSync('taskset', ['--version']).status === 0;
const pressureFound = existsSync('/proc/pressure/cpu');
if (!pressureFound) console.log('[53.wait-awake] the wait under contended CPUs is not checked: /proc/pressure/cpu (Linux PSI) is absent here');
if (cpus().length < 2) console.log('[53.wait-awake] skipping the shorter run\'s wait: it needs a core beside the run\'s one, and this machine has 1');
if (process.platform !== 'linux') console.log('[53.wait-awake] the contention judgement is not checked: the pressure file (ORT_NAPI_PRESSURE_FILE) is read on Linux only');
import { InferenceSession, Tensor } from './support/ort.js';

const root = resolve(__dirname, '..');

/** A model file whose run takes at least `ms` here (one intra-op thread), and how long it took. */
async function slowModel(ms: number): Promise<{ path: string; runMs: number }> {
  const input = new Tensor('float32', random(512 * 512, 7), [512, 512]);
  for (let layers = 2; ; layers *= 2) {
    const bytes = slowChain(512, layers);
    const session = await InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    session.runSync({ x: input });
    const start = performance.now();
    session.runSync({ x: input });
    const runMs = performance.now() - start;
    await session.release();
    if (runMs >= ms) {
      const path = join(mkdtempSync(join(tmpdir(), 'ort-napi-wait-')), 'slow.onnx');
      writeFileSync(path, bytes);
      return { path, runMs };
    }
  }
}

function node(script: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
}

// The child's part common to the cases: a session on `model` whose runs are measured, and its input.
const prelude = (model: string) => `
  const fs = require('node:fs');
  const { InferenceSession, Tensor } = require('ort-napi');
  const x = new Tensor('float32', Float32Array.from({ length: 512 * 512 }, (_, i) => ((i * 7) % 13) / 13 - 0.5), [512, 512]);
  const open = async () => {
    const session = await InferenceSession.create(${JSON.stringify(model)}, { intraOpNumThreads: 1 });
    for (let i = 0; i < 4; i++) await session.run({ x }); // from the third run on, its length is known
    return session;
  };
  // Counts lib/wait.ts's wake-ups and loop turns: its setImmediate callback is named \`turn\`; one
  // scheduled from inside a turn continues a wait, any other starts one (waitAwake, from native).
  const schedule = globalThis.setImmediate;
  let wakes = 0, turns = 0, inTurn = false;
  const countTurns = (on) => {
    globalThis.setImmediate = !on ? schedule : (callback, ...args) => {
      if (callback.name !== 'turn') return schedule(callback, ...args);
      turns++;
      if (!inTurn) wakes++;
      return schedule(() => { inTurn = true; try { callback(); } finally { inTurn = false; } });
    };
  };`;

describe('waiting for a lone run awake', () => {
  test('the loop is kept turning for the results of lone runs, which stay right; ORT_NAPI_RUN_WAIT=sleep turns it off', async () => {
    const { path } = await slowModel(3);
    // Counts the loop turns kept for 40 lone runs, and on Linux lists the threads with their
    // scheduling policy.
    const script = `${prelude(path)}
      (async () => {
        const session = await open();
        const expected = Buffer.from(session.runSync({ x }).y.data.buffer);
        countTurns(true);
        let same = 0;
        for (let i = 0; i < 40; i++) {
          const { y } = await session.run({ x });
          if (Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength).equals(expected)) same++;
        }
        countTurns(false);
        const threads = process.platform !== 'linux' ? [] : fs.readdirSync('/proc/self/task').map((tid) => {
          const stat = fs.readFileSync('/proc/self/task/' + tid + '/stat', 'utf8');
          const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          return { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), policy: Number(fields[38]) };
        });
        console.log(JSON.stringify({ wakes, turns, same, threads }));
      })().catch((e) => { console.error(e); process.exit(9); });`;
    const outcome = (env: NodeJS.ProcessEnv) => {
      const result = node(script, env);
      expect(result.status, result.stderr).toBe(0);
      return JSON.parse(result.stdout.trim().split('\n').pop()!) as { wakes: number; turns: number; same: number; threads: { name: string; policy: number }[] };
    };
    const SCHED_IDLE = 5;

    const awake = outcome({ ORT_NAPI_RUN_WAIT: '' });
    expect(awake.same).toBe(40);
    // At least one of the 40 wake-ups came before its result (the waker is SCHED_IDLE: on a machine
    // kept busy by other processes some come late, and a late one keeps nothing turning).
    expect(awake.wakes).toBeGreaterThan(0);
    expect(awake.wakes).toBeLessThanOrEqual(40);
    if (process.platform === 'linux') {
      const wakers = awake.threads.filter((t) => t.name === 'ort-napi-wake');
      expect(wakers).toHaveLength(1);
      expect(wakers[0].policy).toBe(SCHED_IDLE);
    } else {
      console.log(`[53.wait-awake] the waker's name and SCHED_IDLE policy are not checked: /proc/self/task is Linux's, this is ${process.platform}`);
    }

    const asleep = outcome({ ORT_NAPI_RUN_WAIT: 'sleep' });
    expect(asleep.same).toBe(40);
    expect(asleep.wakes).toBe(0);
    expect(asleep.turns).toBe(0);
    expect(asleep.threads.filter((t) => t.name === 'ort-napi-wake')).toHaveLength(0);
  });

  // A run too short for the waker (its wake-up would be due about as it starts) keeps the loop
  // turning from its submission, where it leaves a core for the loop: its session computes on fewer
  // threads than there are cores. Runs are kept off the calling thread (ORT_NAPI_INLINE_RUN_US=0),
  // so a model of a few µs stands for one of 30-300 µs on any machine, with nothing timed.
  test.skipIf(cpus().length < 2)('a shorter lone run keeps the loop turning from its start, where its session leaves a core free', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'ort-napi-wait-')), 'short.onnx');
    writeFileSync(path, slowChain(16, 2));
    const script = `${prelude(path)}
      const small = new Tensor('float32', Float32Array.from({ length: 256 }, (_, i) => i / 256), [16, 16]);
      const lone = async (options) => {
        const session = await InferenceSession.create(${JSON.stringify(path)}, options);
        // The first runs set up kernels and threads (1-12 ms here, the parallel executor's
        // longest), and each moves the session's average run a quarter of the way (RecordRun):
        // 20 of them bring it back to the model's few µs. Then the slowest run, in µs of wall
        // time: one that long can make the average long enough for a long run's wait (a wake-up
        // shortly before its end).
        for (let i = 0; i < 20; i++) await session.run({ x: small });
        let slowest = 0;
        const timed = async (run) => { const t = performance.now(); const out = await run(); slowest = Math.max(slowest, (performance.now() - t) * 1000); return out; };
        const expected = Buffer.from((await timed(() => session.runSync({ x: small }))).y.data.buffer);
        wakes = turns = 0;
        const [quiet0, called0] = native.handBackCounts();
        countTurns(true);
        let same = 0;
        for (let i = 0; i < 40; i++) {
          const { y } = await timed(() => session.run({ x: small }));
          if (Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength).equals(expected)) same++;
        }
        countTurns(false);
        const [quiet1, called1] = native.handBackCounts();
        await session.release();
        return { wakes, turns, same, quietly: quiet1 - quiet0, withCall: called1 - called0, slowest: Math.round(slowest) };
      };
      const { native } = require(require.resolve('ort-napi').replace(/index\.js$/, 'binding.js'));
      (async () => {
        const one = await lone({ intraOpNumThreads: 1 });
        const every = await lone({}); // ONNX Runtime's default: a thread per core
        const parallel = await lone({ intraOpNumThreads: 1, executionMode: 'parallel' });
        console.log(JSON.stringify({ one, every, parallel }));
      })().catch((e) => { console.error(e); process.exit(9); });`;
    type Counts = { wakes: number; turns: number; same: number; quietly: number; withCall: number; slowest: number };
    const outcome = (env: NodeJS.ProcessEnv, pinned = false) => {
      const args = ['-e', script];
      const result = pinned
        ? spawnSync('taskset', ['-c', '0', process.execPath, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ORT_NAPI_INLINE_RUN_US: '0', ...env }, timeout: 120_000 })
        : node(script, { ORT_NAPI_INLINE_RUN_US: '0', ...env });
      expect(result.status, result.stderr).toBe(0);
      return JSON.parse(result.stdout.trim().split('\n').pop()!) as { one: Counts; every: Counts; parallel: Counts };
    };

    // ORT_NAPI_RUN_WAIT=awake: the test files running beside this one may contend for the CPUs,
    // which would otherwise make the loop sleep (the next test).
    const awake = outcome({ ORT_NAPI_RUN_WAIT: 'awake' });
    for (const counts of Object.values(awake)) expect(counts.same).toBe(40);
    // One thread of 2 or more cores: the loop turns through the runs (one wait may span several,
    // the next run submitted before the last wait's turn ended, and a turn may settle its run).
    expect(awake.one.wakes).toBeGreaterThan(0);
    expect(awake.one.turns).toBeGreaterThanOrEqual(awake.one.wakes);
    // A run the turning loop polls for is left to it by its runner with no threadsafe-function call
    // (no system call between the runner's runs: native/runner.h, "System calls"), save those
    // finishing after the loop's last poll. Before, every one had its call. (How many are polled at
    // all is a race with a model this short: a runner can finish one before the loop starts
    // watching for it. Seen in CI: 28-35 of 40, and once none.)
    console.log(`[53.wait-awake] of 40 lone runs, ${awake.one.quietly} left to the loop's polls with no call by their runner, ${awake.one.withCall} with one`);
    expect(awake.one.withCall).toBeLessThanOrEqual(awake.one.quietly);
    expect(awake.every).toMatchObject({ quietly: 0, withCall: 0 });
    // A run that may take every core, or more threads than its intra-op ones: the loop sleeps
    // through it from its start. Unless a run of that session took long enough (250 µs; seen in
    // CI's fresh-clone stage, the 5 µs model's parallel runs on a loaded machine) to put the
    // session's average among the runs whose loop is woken shortly before their end, a narrow
    // window then (native/runner.h): that case is not this one, and is said.
    for (const [name, counts] of [['every', awake.every], ['parallel', awake.parallel]] as const) {
      if (counts.slowest >= 250) console.log(`[53.wait-awake] the ${name} session's check skipped: one of its runs took ${counts.slowest} µs (${counts.wakes} wake-ups, ${counts.turns} turns)`);
      else expect(counts, name).toMatchObject({ wakes: 0, turns: 0 });
    }

    const asleep = outcome({ ORT_NAPI_RUN_WAIT: 'sleep' });
    expect(asleep.one).toMatchObject({ wakes: 0, turns: 0, same: 40, quietly: 0, withCall: 0 });

    // Confined to one CPU (taskset, a container's cpuset), the loop would take it from the run:
    // no wait at all, though the machine has more cores online (measured with the silero model:
    // run() 493 µs with the loop turning on the run's CPU, 234 without).
    if (!tasksetFound) {
      console.log('[53.wait-awake] a process confined to one CPU is not checked: taskset (util-linux) is not installed');
      return;
    }
    const confined = outcome({ ORT_NAPI_RUN_WAIT: 'awake' }, true);
    expect(confined.one).toMatchObject({ wakes: 0, turns: 0, same: 40 });
  });

  // Contended CPUs (Linux's pressure stall information: tasks waiting for a CPU) make the loops
  // sleep: a turning loop would take a CPU that something else waits for.
  test.skipIf(cpus().length < 2 || !pressureFound)('a shorter lone run leaves the loop asleep while the CPUs are contended', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'ort-napi-wait-')), 'short.onnx');
    writeFileSync(path, slowChain(16, 2));
    const script = `${prelude(path)}
      const small = new Tensor('float32', Float32Array.from({ length: 256 }, (_, i) => i / 256), [16, 16]);
      (async () => {
        const session = await InferenceSession.create(${JSON.stringify(path)}, { intraOpNumThreads: 1 });
        for (let i = 0; i < 4; i++) await session.run({ x: small });
        process.send('load');
        await new Promise((r) => process.once('message', r));
        // Runs for 3 s under load: the runners judge the pressure over windows of 2 s.
        for (const end = Date.now() + 3000; Date.now() < end; ) await session.run({ x: small });
        countTurns(true);
        for (let i = 0; i < 40; i++) await session.run({ x: small });
        countTurns(false);
        console.log(JSON.stringify({ wakes, turns }));
      })().catch((e) => { console.error(e); process.exit(9); });`;
    const child = spawn(process.execPath, ['-e', script], { cwd: root, env: { ...process.env, ORT_NAPI_INLINE_RUN_US: '0', ORT_NAPI_RUN_WAIT: '' }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    // Two busy processes per CPU, started once the child's session is measured.
    const burners: ChildProcess[] = [];
    child.on('message', () => {
      for (let i = 0; i < 2 * cpus().length; i++) burners.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
      setTimeout(() => child.send('go'), 300);
    });
    try {
      const code = await new Promise((r) => child.on('exit', r));
      expect(code, err).toBe(0);
    } finally {
      for (const burner of burners) burner.kill('SIGKILL');
    }
    // The same session on a quiet machine waits awake (the test above); under load, never.
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ wakes: 0, turns: 0 });
  });

  // The judgement itself, on a pressure file whose stall total this test writes (the format of
  // /proc/pressure/cpu, named by ORT_NAPI_PRESSURE_FILE): a burst such as a process's start makes
  // (a few hundred ms, as the bench's node and floor processes loading side by side stalled 53-63%)
  // leaves the wait on; contention that lasts turns it off.
  test.skipIf(cpus().length < 2 || process.platform !== 'linux')('a burst of contention leaves the wait on; contention that lasts turns it off', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ort-napi-wait-'));
    const path = join(dir, 'short.onnx');
    writeFileSync(path, slowChain(16, 2));
    const file = join(dir, 'cpu.pressure');
    // The stall total grows at `share` of the time that passes, rewritten every 5 ms (atomically).
    let total = 0;
    let share = 0;
    let at = performance.now();
    const write = () => {
      const now = performance.now();
      total += (now - at) * 1000 * share;
      at = now;
      writeFileSync(`${file}.new`, `some avg10=0.00 avg60=0.00 avg300=0.00 total=${Math.round(total)}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n`);
      renameSync(`${file}.new`, file);
    };
    write();
    const writer = setInterval(write, 5);
    const script = `${prelude(path)}
      const small = new Tensor('float32', Float32Array.from({ length: 256 }, (_, i) => i / 256), [16, 16]);
      const phase = (name) => new Promise((r) => { process.send(name); process.once('message', r); });
      const count = async (session) => {
        wakes = turns = 0;
        countTurns(true);
        for (let i = 0; i < 40; i++) await session.run({ x: small });
        countTurns(false);
        return { wakes, turns };
      };
      (async () => {
        const session = await InferenceSession.create(${JSON.stringify(path)}, { intraOpNumThreads: 1 });
        for (let i = 0; i < 4; i++) await session.run({ x: small });
        await phase('burst');
        // 300 ms stalled at 60%, then 2%: more than a window of runs, the burst inside it.
        for (const end = Date.now() + 2600; Date.now() < end; ) await session.run({ x: small });
        const burst = await count(session);
        await phase('lasting');
        // 30% from now on: the window under way when it began may end below 15%, the next not.
        for (const end = Date.now() + 4600; Date.now() < end; ) await session.run({ x: small });
        const lasting = await count(session);
        console.log(JSON.stringify({ burst, lasting }));
      })().catch((e) => { console.error(e); process.exit(9); });`;
    const child = spawn(process.execPath, ['-e', script], {
      cwd: root,
      env: { ...process.env, ORT_NAPI_INLINE_RUN_US: '0', ORT_NAPI_RUN_WAIT: '', ORT_NAPI_PRESSURE_FILE: file },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    child.on('message', (name) => {
      write();
      share = name === 'burst' ? 0.6 : 0.3;
      if (name === 'burst')
        setTimeout(() => {
          write();
          share = 0.02;
        }, 300);
      child.send('go');
    });
    try {
      const code = await new Promise((r) => child.on('exit', r));
      expect(code, err).toBe(0);
    } finally {
      clearInterval(writer);
    }
    const { burst, lasting } = JSON.parse(out.trim().split('\n').pop()!);
    expect(burst.wakes).toBeGreaterThan(0);
    expect(burst.turns).toBeGreaterThanOrEqual(burst.wakes);
    expect(lasting).toEqual({ wakes: 0, turns: 0 });
  });

  // The turning loop settles the lone run itself (lib/wait.ts, native Port::Poll), without the
  // threadsafe function: right results, also when the loop was blocked as the run ended, and the
  // result is freed when its Worker goes before the loop turned again.
  test.skipIf(cpus().length < 2)('the turning loop settles a lone run itself; a result it never picks up is freed with its Worker', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'ort-napi-wait-')), 'short.onnx');
    writeFileSync(path, slowChain(16, 2));
    const setup = `${prelude(path)}
      const small = new Tensor('float32', Float32Array.from({ length: 256 }, (_, i) => i / 256), [16, 16]);
      // Counts the runs settled by the loop's poll: wait.ts is handed a poll that wraps native's.
      const wait = require(${JSON.stringify(join(root, 'dist', 'wait.js'))});
      const { native } = require(${JSON.stringify(join(root, 'dist', 'binding.js'))});
      let polled = 0;
      wait.pollWith((last) => { const settled = native.pollRun(last); if (settled) polled++; return settled; });
      const same = (y, expected) => Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength).equals(expected);
      const busy = (ms) => { for (const end = Date.now() + ms; Date.now() < end; ); };`;
    const script = `${setup}
      const { Worker } = require('node:worker_threads');
      (async () => {
        const session = await InferenceSession.create(${JSON.stringify(path)}, { intraOpNumThreads: 1 });
        for (let i = 0; i < 4; i++) await session.run({ x: small });
        const expected = Buffer.from(session.runSync({ x: small }).y.data.buffer);
        let right = 0;
        for (let i = 0; i < 40; i++) if (same((await session.run({ x: small })).y, expected)) right++;
        const lone = polled;
        // The loop blocked past the run's end: the result waits for the loop's next turn.
        let blockedRight = 0;
        for (let i = 0; i < 5; i++) {
          const pending = session.run({ x: small });
          busy(30);
          if (same((await pending).y, expected)) blockedRight++;
        }
        // A Worker whose loop is blocked when its run ends, terminated before it turns again.
        for (let round = 0; round < 3; round++) {
          const w = new Worker(${JSON.stringify(`${setup}
            const { parentPort } = require('node:worker_threads');
            (async () => {
              const session = await InferenceSession.create(${JSON.stringify(path)}, { intraOpNumThreads: 1 });
              for (let i = 0; i < 6; i++) await session.run({ x: small });
              session.run({ x: small });
              parentPort.postMessage('submitted');
              busy(60000);
            })();`)}, { eval: true });
          await new Promise((r) => w.once('message', r));
          await new Promise((r) => setTimeout(r, 40));
          await w.terminate();
        }
        const after = same((await session.run({ x: small })).y, expected);
        console.log(JSON.stringify({ lone, right, blockedRight, after }));
      })().catch((e) => { console.error(e); process.exit(9); });`;
    const result = node(script, { ORT_NAPI_INLINE_RUN_US: '0', ORT_NAPI_RUN_WAIT: 'awake' });
    expect(result.signal, result.stderr).toBeNull();
    expect(result.status, result.stderr).toBe(0);
    const outcome = JSON.parse(result.stdout.trim().split('\n').pop()!);
    // Lone runs settled by the loop's poll; the others by the runner's threadsafe-function call,
    // when the loop's poll phase came before its next turn.
    expect(outcome.lone).toBeGreaterThan(0);
    expect(outcome).toMatchObject({ right: 40, blockedRight: 5, after: true });

    // Runs whose lengths jump (1 row to 256, at random): the session's measured length is off
    // either way, so waker wake-ups come for runs already over, or late, beside loops kept turning
    // from the start; at times the loop is blocked. Every run settles, with its own result.
    const jumpy = join(mkdtempSync(join(tmpdir(), 'ort-napi-wait-')), 'matmul.onnx');
    writeFileSync(jumpy, matmul(512, 512));
    const mixed = node(`${setup}
      (async () => {
        const session = await InferenceSession.create(${JSON.stringify(jumpy)}, { intraOpNumThreads: 1 });
        const w = new Tensor('float32', Float32Array.from({ length: 512 * 512 }, (_, i) => ((i * 7) % 13) / 13 - 0.5), [512, 512]);
        const input = (rows) => new Tensor('float32', Float32Array.from({ length: rows * 512 }, (_, i) => ((i * 5) % 11) / 11), [rows, 512]);
        const sizes = [1, 1, 160, 192, 224, 256];
        const inputs = {}, expected = {};
        for (const rows of sizes) {
          inputs[rows] = input(rows);
          expected[rows] = Buffer.from(session.runSync({ x: inputs[rows], w }).y.data.buffer);
        }
        let seed = 12345, right = 0;
        const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) / 65536;
        for (let i = 0; i < 400; i++) {
          const rows = sizes[Math.floor(next() * sizes.length)];
          const pending = session.run({ x: inputs[rows], w });
          if (next() < 0.1) busy(2);
          if (same((await pending).y, expected[rows])) right++;
        }
        console.log(JSON.stringify({ right, polled: polled > 0 }));
      })().catch((e) => { console.error(e); process.exit(9); });`, { ORT_NAPI_INLINE_RUN_US: '0', ORT_NAPI_RUN_WAIT: 'awake' });
    expect(mixed.signal, mixed.stderr).toBeNull();
    expect(mixed.status, mixed.stderr).toBe(0);
    expect(JSON.parse(mixed.stdout.trim().split('\n').pop()!)).toEqual({ right: 400, polled: true });
  });

  // A lone run is expected to end after its session's average run, and its loop turns for as far
  // before and after that as 19 runs in 20 have been ending (SessionCore::RecordRun). Read here
  // directly (runTimes), as a turning loop's catch depends on the machine's wake-ups. Runs
  // alternating between two lengths: each run moves the average a quarter of the way, and both
  // estimates grow to the distance from it to either length. Until 2026-11-28 every run over
  // 120 µs replaced the average, which swung the whole distance at each run, and the spread was
  // never measured. Nothing is compared with lengths timed apart from the alternation: on a busy
  // machine (a sanitizer's files beside this one) those were no guide to the alternating runs.
  test('the expected end of a run and the window around it follow how the session\'s runs vary', async () => {
    const require = createRequire(import.meta.url);
    const { native, loadOrt } = require('../dist/binding.js') as typeof import('../lib/binding.js');
    loadOrt();
    const model = slowChain(256, 8, 'rows');
    const data = (rows: number) => new Float32Array(rows * 256).fill(0.5);
    const runOf = (session: NativeSession) => (rows: number, input: Float32Array) =>
      runSyncDescribed(session, [1, 1, ...tensorAt(0, 1, [rows, 256]), 0, -1], [input]); // y into ONNX Runtime's memory
    // Rows for a run of 0.2 ms or more (the average is read in ns), found on a session of its own:
    // each new length moves the estimates.
    let rows = 8;
    const probe = await native.createSession(model, { intraOpNumThreads: 1 } as never);
    for (; rows < 8192; rows *= 2) {
      const input = data(rows);
      for (let i = 0; i < 4; i++) runOf(probe)(rows, input);
      if (probe.runTimes()[1] >= 200_000) break;
    }
    const short = data(rows), long = data(2 * rows);
    probe.release();
    const session = await native.createSession(model, { intraOpNumThreads: 1 } as never);
    const run = runOf(session);
    for (let i = 0; i < 40; i++) run(rows, short);
    const [measured, steady, steadyLate, steadyEarly] = session.runTimes();
    expect(measured).toBe(3);
    const swings: number[] = [];
    let before = steady;
    for (let i = 0; i < 160; i++) {
      if (i % 2) run(rows, short);
      else run(2 * rows, long);
      const now = session.runTimes()[1];
      if (i >= 80) swings.push(Math.abs(now - before));
      before = now;
    }
    const swing = swings.sort((a, b) => a - b)[swings.length >> 1];
    const [, average, late, early] = session.runTimes();
    const ms = (ns: number) => (ns / 1e6).toFixed(3);
    console.log(`[53.wait-awake] runs of ${ms(steady)} ms (19 in 20 within ${ms(steadyLate)} ms after that, ${ms(steadyEarly)} before), then alternating with runs of twice the rows: average ${ms(average)} ms after a short one, moving ${ms(swing)} ms a run (median), 19 in 20 within ${ms(late)} ms after it and ${ms(early)} ms before`);
    // The average moves a quarter of each run's distance from it, a seventh of the distance D
    // between the lengths; each estimate reaches that distance, 4/7 of D: four times the swing
    // (none, and a swing of D, where each run replaced the average).
    expect(late).toBeGreaterThan(2 * swing);
    expect(early).toBeGreaterThan(2 * swing);
    session.release();
  });

  test('several runs in flight at once arm no wake-up: their results keep the loop busy', async () => {
    const { path } = await slowModel(3);
    const script = `${prelude(path)}
      (async () => {
        const session = await open();
        countTurns(true);
        // Four callers: after the first submission, every run starts with others outstanding.
        let started = 0;
        await Promise.all(Array.from({ length: 4 }, async () => { for (let i = 0; i < 10; i++) { started++; await session.run({ x }); } }));
        console.log(JSON.stringify({ wakes, started }));
      })().catch((e) => { console.error(e); process.exit(9); });`;
    const result = node(script);
    expect(result.status, result.stderr).toBe(0);
    const { wakes, started } = JSON.parse(result.stdout.trim().split('\n').pop()!) as { wakes: number; started: number };
    expect(started).toBe(40);
    // Only a run submitted while none other is outstanding is watched: with four callers that is
    // the very first, and any moment all four happened to be between runs at once.
    expect(wakes).toBeLessThan(10);
  });

  test('a Worker terminated, or the process exiting, while a wake-up for its run is due: a clean end', async () => {
    const { path, runMs } = await slowModel(20);
    // The wake-up is due a little before the run's end: leave at about 90% of the run.
    const at = Math.max(1, Math.round(runMs * 0.9));
    const worker = `${prelude(path)}
      const { Worker } = require('node:worker_threads');
      const body = ${JSON.stringify(`${prelude(path)}
        const { parentPort } = require('node:worker_threads');
        (async () => {
          const session = await open();
          parentPort.postMessage('measured');
          for (;;) await session.run({ x });
        })();`)};
      (async () => {
        for (let round = 0; round < 3; round++) {
          const w = new Worker(body, { eval: true });
          await new Promise((r) => w.once('message', r));
          await new Promise((r) => setTimeout(r, ${at} + round * ${Math.max(1, Math.round(runMs / 3))}));
          await w.terminate();
        }
        // This environment's own runs still work.
        const session = await open();
        const { y } = await session.run({ x });
        console.log('ok', y.dims.join('x'));
      })().catch((e) => { console.error(e); process.exit(9); });`;
    const terminated = node(worker);
    expect(terminated.signal, terminated.stderr).toBeNull();
    expect(terminated.status, terminated.stderr).toBe(0);
    expect(terminated.stdout).toContain('ok 512x512');

    const exiting = node(`${prelude(path)}
      (async () => {
        const session = await open();
        session.run({ x });
        setTimeout(() => process.exit(7), ${at});
      })().catch((e) => { console.error(e); process.exit(9); });`);
    expect(exiting.signal, exiting.stderr).toBeNull();
    expect(exiting.status, exiting.stderr).toBe(7);
  });
});
