// compare.ts: runs one comparison of suite.ts in this (fresh) process and prints its figures as one
// JSON line: for each side, one record per repeat.
//   argv[2]: the comparison as JSON; argv[3]: the folder of generated models and feeds;
//   argv[4]: the floor program. ORT_DYLIB_PATH names the libonnxruntime every side uses.
//
// How sides are compared: every side of a comparison lives in this one process (the floor in a
// long-lived child process driven from here), warmed up by one unrecorded round, then measured in
// blocks, one side at a time, the order rotating from repeat to repeat (A B C, B C A, C A B, ...).
// A block is a fixed stretch of work (about blockMs) for one side; a ratio is taken between the
// sides' blocks of the same repeat, so slow drift of the machine hits every side alike, and the
// repeats give the spread (run.ts reports each ratio's median, min and max over them).
//
// Sessions: latency and throughput give each side several sessions of the model (one a repeat, up
// to SESSIONS; the floor loads as many), each warmed up, and repeat r runs the (r mod SESSIONS)-th
// of every side, so that each repeat's ratio pairs sessions loaded apart. Where a session's memory
// lands moves its runs by several percent for as long as it lives: on the 2-vCPU guest, eight
// silero sessions in one floor process, their blocks interleaved, ran 116 µs in one and 126-128 in
// the others; eight of ort-napi's in one node process 124-131 µs, of onnxruntime-node's 133-143.
// One session a side made each comparison one draw of that, which no count of repeats averaged
// out: silero's run() read 1.08-1.16× the floor from one bench run to the next on one build.
// - latency: sequential runs, awaited one by one (runSync() back to back); a block's figure is the
//   median time per run. Sides: the floor (ONNX Runtime's C API from C++, bench/floor.cc),
//   ort-napi's run() and runSync(), onnxruntime-node's run(). Every side of one repeat computes on
//   the same CPU (Placement, below).
// - throughput: `callers` async loops, each awaiting one run after another, for blockMs: runs/s.
//   One caller is placed as in latency (Placement); several are left free.
//   monitorEventLoopDelay (1 ms resolution) records the event loop's delay during each block, and an
//   'idle' side does nothing for blockMs, so that the loop's own p99 on this machine, measured in
//   the same rotation, is the baseline for the others'.
// - pool: an unbatched SessionPool of one session against run() called on that same session,
//   both with `callers` async callers: µs per request (one caller: the median request; several:
//   the block's time over its requests), and the main thread's busy time per request
//   (performance.eventLoopUtilization), the pool's own work, less exposed to the machine's noise.
//   With one caller the sides alternate request by request within each block (A B, B A, A B, ...):
//   a block of a 1 ms model moves by ±100 µs from one to the next on a busy VM, which no count of
//   blocks brings down to the few µs being measured, while requests side by side share the drift.
// - batching: a SessionPool with dynamic batching against an unbatched one, 64 callers of one row
//   each: requests/s and the callers' latency.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { MODELS } from './models.js';
import { median, quantile, rotation } from './stats.js';
import { SESSION_OPTIONS, SESSIONS, type Comparison } from './suite.js';

// compiled to bench/build/ts/bench/
const root = resolve(__dirname, '..', '..', '..', '..');
type Figures = Record<string, number>;

/** The floor program, kept running: `load` once, then `run` blocks on demand. */
class Floor {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;

  constructor(program: string) {
    this.#child = spawn(program, [process.env.ORT_DYLIB_PATH!, String(SESSION_OPTIONS.intraOpNumThreads)]);
    this.#child.stderr.pipe(process.stderr);
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  async send(command: string): Promise<Figures> {
    this.#child.stdin.write(`${command}\n`);
    const { value, done } = await this.#lines.next();
    if (done) throw new Error(`the floor exited before answering '${command}'`);
    const answer = JSON.parse(value);
    if (answer.error) throw new Error(`the floor: ${answer.error}`);
    return answer;
  }

  close(): void {
    this.#child.stdin.end('quit\n');
  }
}

/** Runs each side once unrecorded, then `repeats` rounds in rotating order; one record per side per round. */
async function interleave(
  sides: readonly string[],
  repeats: number,
  block: (side: string, repeat: number) => Promise<Figures>,
): Promise<Record<string, Figures[]>> {
  for (const side of sides) await block(side, -1);
  const out: Record<string, Figures[]> = Object.fromEntries(sides.map((s) => [s, []]));
  for (let r = 0; r < repeats; r++) {
    for (const side of rotation(sides, r)) out[side].push(await block(side, r));
  }
  return out;
}

/**
 * Placement, for latency and one caller's throughput (Linux, 2 CPUs or more): every side of a
 * repeat computes on the same CPU, and the repeats take the CPUs in turn. A virtual machine's
 * vCPUs need not be alike: on the 2-vCPU
 * guest of the README the floor's silero run took 137 µs pinned to one and 186 pinned to the
 * other, and which one was faster changed within the hour (run.ts prints both). Left free, each
 * side's runs stay on whichever vCPU the scheduler last gave its thread, so a ratio to the floor
 * measured where the two had landed as much as the binding: silero's run() read 1.26× one day and
 * 1.95× another, on the same build.
 * What computes where: the floor's process; the main thread for runSync() and onnxruntime-node's
 * run() (both run on it); ort-napi's runner threads for its run(), the main thread then on the
 * other CPUs, where it awaits (as the scheduler places them when free: one awaits while the other
 * computes), and with it ort-napi's waker thread, which wakes it. The floor program sets the
 * affinity of the threads named (sched_setaffinity).
 * The waker moves with the main thread because it is made with the main thread's affinity of the
 * moment and keeps it: until 2026-11-28 it stayed on the CPU the main thread had at the first
 * wake-up, which was the runners' CPU in every other repeat. There, at the lowest priority
 * (SCHED_IDLE), it waited behind the run it was to wake the loop for: one caller's classifier
 * runs/s read 0.74-0.84× onnxruntime-node's in those repeats, and 0.97-1.04× in the others.
 * `npm run bench -- --unpinned` leaves every thread free.
 */
class Placement {
  readonly #cpus = cpus().length;

  private constructor(private readonly floor: Floor) {}

  static of(floor: Floor, pinned: boolean): Placement | undefined {
    return pinned && process.platform === 'linux' && cpus().length >= 2 ? new Placement(floor) : undefined;
  }

  /** The CPU of repeat `repeat` (the unrecorded warm-up round, -1, takes the first). */
  cpu(repeat: number): number {
    return Math.max(0, repeat) % this.#cpus;
  }

  /** Moves the computing thread of `where` onto `cpu` and the main thread, unless it computes, off it. */
  async computeOn(cpu: number, where: 'floor' | 'main' | 'runners'): Promise<void> {
    const others = Array.from({ length: this.#cpus }, (_, c) => c).filter((c) => c !== cpu).join(',');
    const main = String(process.pid); // the main thread's id is the process's
    const named = (name: string) => readdirSync('/proc/self/task').filter((tid) => readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === name);
    if (where === 'floor') await this.floor.send(`pin ${cpu}`);
    if (where === 'runners') {
      const runners = named('ort-napi-run');
      if (runners.length === 0) throw new Error('no ort-napi runner thread to pin: run() has not run yet');
      await this.floor.send(`pin ${cpu} ${runners.join(' ')}`);
    }
    // The waker, once there is one (the first run that waits for a wake-up makes it), goes where the main thread goes.
    await this.floor.send(`pin ${where === 'main' ? cpu : others} ${[main, ...named('ort-napi-wake')].join(' ')}`);
  }
}

/**
 * One caller, the sides taking turns request by request (A B, B A, A B, ...) for blockMs, `repeats`
 * times after one unrecorded block: per side and block, its median request and its main thread's
 * busy time per request.
 */
async function alternating(sides: Record<string, () => Promise<unknown>>, repeats: number, blockMs: number): Promise<Record<string, Figures[]>> {
  const names = Object.keys(sides);
  const block = async (): Promise<Record<string, Figures>> => {
    const latencies: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    const busy: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
    const deadline = performance.now() + blockMs;
    for (let pair = 0; performance.now() < deadline; pair++) {
      for (let i = 0; i < names.length; i++) {
        const side = names[pair % 2 === 0 ? i : names.length - 1 - i];
        const before = performance.eventLoopUtilization();
        const t = performance.now();
        await sides[side]();
        latencies[side].push(performance.now() - t);
        busy[side] += performance.eventLoopUtilization(before).active;
      }
    }
    return Object.fromEntries(names.map((n) => [n, { medianUs: median(latencies[n]) * 1000, loopBusyUsPerRequest: (busy[n] * 1000) / latencies[n].length }]));
  };
  await block();
  const out: Record<string, Figures[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < repeats; r++) {
    const figures = await block();
    for (const n of names) out[n].push(figures[n]);
  }
  return out;
}

/**
 * `count` sessions of each binding over `model`, each warmed up, with the feeds the floor reads too
 * (see "Sessions", above).
 * onnxruntime-node is loaded first: both register as onnxruntime-common's 'cpu' backend, and
 * onnxruntime-common keeps the first that registered (lib/backend.ts), so that code written for
 * onnxruntime-node runs on ort-napi where ort-napi loaded first. Until 2026-11-27 this bench loaded
 * ort-napi first, and its "onnxruntime-node" side was ort-napi behind onnxruntime-common's session
 * (found when ort-napi's runner thread showed that side's CPU time). The check below keeps it honest.
 */
async function open(model: string, dir: string, count: number) {
  const ortNode = require('onnxruntime-node');
  const napi = require(join(root, 'dist', 'index.js'));
  const path = join(dir, `${model}.onnx`);
  const feeds = MODELS[model as keyof typeof MODELS].feeds(1);
  const feedsOf = (lib: { Tensor: new (type: string, data: unknown, dims: number[]) => unknown }) =>
    Object.fromEntries(feeds.map((f) => [f.name, new lib.Tensor(f.type, f.data, f.dims)]));
  const napiFeeds = feedsOf(napi);
  const nodeFeeds = feedsOf(ortNode);
  const nodeSessions = [];
  const napiSessions = [];
  for (let k = 0; k < count; k++) {
    const nodeSession = await ortNode.InferenceSession.create(path, { ...SESSION_OPTIONS, executionProviders: ['cpu'] });
    const handler = (nodeSession as { handler?: object }).handler;
    if (handler?.constructor.name !== 'OnnxruntimeSessionHandler')
      throw new Error(`the onnxruntime-node side's session runs on ${handler?.constructor.name ?? 'an unknown'} handler, not onnxruntime-node's`);
    nodeSessions.push(await warm(nodeSession, nodeFeeds));
    napiSessions.push(await warm(await napi.InferenceSession.create(path, { ...SESSION_OPTIONS }), napiFeeds));
  }
  return { napi, path, napiFeeds, napiSessions, nodeFeeds, nodeSessions };
}

/**
 * `session` after 200 ms of runs (10 at least): the first set up kernels and the arena, and
 * ort-napi's then learn how long the session's runs take and how they spread, which places the
 * wait for each result (native/runner.h). A session measured after its first 10 runs gave one
 * caller's classifier 3-9% fewer runs/s in its first block than in its later ones here, where the
 * mean counts each result that found the loop asleep.
 */
async function warm<S extends { run(feeds: Record<string, unknown>): Promise<unknown> }>(session: S, feeds: Record<string, unknown>): Promise<S> {
  const until = performance.now() + 200;
  for (let i = 0; i < 10 || performance.now() < until; i++) await session.run(feeds);
  return session;
}

/** Which of a side's sessions repeat `repeat` runs (the unrecorded warm-up round, -1, the first). */
const sessionOf = (repeat: number, count: number) => Math.max(0, repeat) % count;

/** `callers` async loops, each awaiting `once` again and again until blockMs is up. */
async function callersFor(callers: number, blockMs: number, once: () => Promise<unknown>, latencies?: number[]): Promise<{ requests: number; elapsedMs: number }> {
  let requests = 0;
  const start = performance.now();
  const deadline = start + blockMs;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        await once();
        latencies?.push(performance.now() - t);
        requests++;
      }
    }),
  );
  return { requests, elapsedMs: performance.now() - start };
}

async function latency(c: Extract<Comparison, { kind: 'latency' }>, dir: string, floorProgram: string) {
  const count = Math.min(c.repeats, SESSIONS);
  const s = await open(c.model, dir, count);
  const floor = new Floor(floorProgram);
  // The floor's sessions `${id}#k`, as many as each side's.
  const loadFloor = async (id: string, placement = '') => {
    for (let k = 0; k < count; k++) await floor.send(`load ${id}#${k} ${s.path} ${join(dir, `${c.model}.feeds`)} ${placement}`);
  };
  await loadFloor(c.model);
  const timed = async (n: number, once: () => unknown): Promise<Figures> => {
    const times = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await once();
      times[i] = (performance.now() - t) * 1000;
    }
    return { medianUs: median(times), meanUs: times.reduce((a, b) => a + b, 0) / n, p90Us: quantile(times, 0.9) };
  };
  const timedSync = (n: number, once: () => unknown): Figures => {
    const times = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      once();
      times[i] = (performance.now() - t) * 1000;
    }
    return { medianUs: median(times), meanUs: times.reduce((a, b) => a + b, 0) / n, p90Us: quantile(times, 0.9) };
  };
  // A block: `n` runs of session `k` of its side.
  const blocks: Record<string, (n: number, k: number) => Promise<Figures> | Figures> = {
    floor: (n, k) => floor.send(`run ${c.model}#${k} ${n}`),
    'run()': async (n, k) => ({ ...(await timed(n, () => s.napiSessions[k].run(s.napiFeeds))), hugePageBytes: s.napiSessions[k].hugePageBytes }),
    'runSync()': (n, k) => timedSync(n, () => s.napiSessions[k].runSync(s.napiFeeds)),
    'onnxruntime-node': (n, k) => timed(n, () => s.nodeSessions[k].run(s.nodeFeeds)),
  };
  // Outputs written in place (README, "Outputs written in place"): the same runs, given tensors to
  // write their outputs into, made once from a first run's outputs. No output buffer is made a run,
  // nor freed by V8 afterwards: the binding's cost where a caller's loop saves that part.
  type Output = { type: string; data: { length: number; constructor: new (length: number) => unknown }; dims: readonly number[] };
  const first = (await s.napiSessions[0].run(s.napiFeeds)) as Record<string, Output>;
  const fetches = Object.fromEntries(Object.entries(first).map(([name, t]) => [name, new s.napi.Tensor(t.type, new t.data.constructor(t.data.length), t.dims)]));
  blocks['run(), outputs in place'] = (n, k) => timed(n, () => s.napiSessions[k].run(s.napiFeeds, fetches));
  blocks['runSync(), outputs in place'] = (n, k) => timedSync(n, () => s.napiSessions[k].runSync(s.napiFeeds, fetches));
  // Where the load's weights went onto huge pages (the default), the same model on small pages too,
  // in the binding and in the floor: what the placement is worth, measured in the same rotation.
  if (s.napiSessions[0].hugePageBytes > 0) {
    const small: (typeof s.napiSessions)[number][] = [];
    for (let k = 0; k < count; k++) small.push(await warm(await s.napi.InferenceSession.create(s.path, { ...SESSION_OPTIONS, hugePages: false }), s.napiFeeds));
    await loadFloor(`${c.model}-small`, 'nohuge');
    blocks['floor, small pages'] = (n, k) => floor.send(`run ${c.model}-small#${k} ${n}`);
    blocks['run(), small pages'] = (n, k) => timed(n, () => small[k].run(s.napiFeeds));
  }
  // Each side's iterations per block: about blockMs of its own runs, sized from a quarter block
  // (itself sized from 3 runs, the first of which may still be slow).
  const iterations: Record<string, number> = {};
  for (const [side, block] of Object.entries(blocks)) {
    const first = await block(3, 0);
    const { meanUs } = await block(Math.max(3, Math.round((c.blockMs * 250) / first.meanUs)), 0);
    iterations[side] = Math.max(5, Math.round((c.blockMs * 1000) / meanUs));
  }
  const placement = Placement.of(floor, c.pinned !== false);
  const computes = (side: string) => (side.startsWith('floor') ? 'floor' : side.startsWith('run()') ? 'runners' : 'main');
  const sides = await interleave(Object.keys(blocks), c.repeats, async (side, repeat) => {
    const cpu = placement?.cpu(repeat);
    if (placement && cpu !== undefined) await placement.computeOn(cpu, computes(side));
    return { ...(await blocks[side](iterations[side], sessionOf(repeat, count))), iterations: iterations[side], ...(cpu !== undefined && { cpu }) };
  });
  floor.close();
  return sides;
}

async function throughput(c: Extract<Comparison, { kind: 'throughput' }>, dir: string, floorProgram: string) {
  const count = Math.min(c.repeats, SESSIONS);
  const s = await open(c.model, dir, count);
  const loads: Record<string, ((k: number) => Promise<unknown>) | null> = {
    'ort-napi': (k) => s.napiSessions[k].run(s.napiFeeds),
    'onnxruntime-node': (k) => s.nodeSessions[k].run(s.nodeFeeds),
    idle: null,
  };
  // One caller computes on one thread at a time, as in latency: placed alike (the floor program,
  // started for its `pin` command alone, sets the threads' affinity). Several callers of ort-napi
  // compute on every runner by design, and are left free.
  const floor = c.callers === 1 && c.pinned !== false ? new Floor(floorProgram) : undefined;
  const placement = floor && Placement.of(floor, true);
  const sides = await interleave(Object.keys(loads), c.repeats, async (side, repeat) => {
    if (placement) await placement.computeOn(placement.cpu(repeat), side === 'ort-napi' ? 'runners' : 'main');
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const once = loads[side];
    let runsPerSec = 0;
    if (once) {
      const k = sessionOf(repeat, count);
      const { requests, elapsedMs } = await callersFor(c.callers, c.blockMs, () => once(k));
      runsPerSec = (requests / elapsedMs) * 1000;
    } else {
      await sleep(c.blockMs);
    }
    loop.disable();
    return { runsPerSec, loopP99Ms: loop.percentile(99) / 1e6, loopMaxMs: loop.max / 1e6 };
  });
  floor?.close();
  return sides;
}

async function pool(c: Extract<Comparison, { kind: 'pool' }>, dir: string) {
  const napi = require(join(root, 'dist', 'index.js'));
  const feeds = Object.fromEntries(MODELS[c.model].feeds(1).map((f) => [f.name, new napi.Tensor(f.type, f.data, f.dims)]));
  const pool = await napi.SessionPool.create(join(dir, `${c.model}.onnx`), { sessionOptions: { ...SESSION_OPTIONS } });
  // The pool's own session, run directly: the same weights in the same memory, only the pool differs.
  const session = pool.sessions[0];
  const sides: Record<string, () => Promise<unknown>> = {
    pool: () => pool.run(feeds),
    'run()': () => session.run(feeds),
  };
  const blocks = async (side: string) => {
    const latencies: number[] = [];
    const before = performance.eventLoopUtilization();
    const { requests, elapsedMs } = await callersFor(c.callers, c.blockMs, sides[side], latencies);
    const busy = performance.eventLoopUtilization(before);
    return { usPerRequest: (elapsedMs * 1000) / requests, medianUs: median(latencies) * 1000, loopBusyUsPerRequest: (busy.active * 1000) / requests };
  };
  const out = c.callers === 1 ? await alternating(sides, c.repeats, c.blockMs) : await interleave(Object.keys(sides), c.repeats, blocks);
  await pool.close();
  return out;
}

async function batching(c: Extract<Comparison, { kind: 'batching' }>, dir: string) {
  const napi = require(join(root, 'dist', 'index.js'));
  const path = join(dir, `${c.model}.onnx`);
  const feeds = Object.fromEntries(MODELS[c.model].feeds(1).map((f) => [f.name, new napi.Tensor(f.type, f.data, f.dims)]));
  const options = { sessionOptions: { ...SESSION_OPTIONS }, maxQueue: 1 << 20 };
  const pools: Record<string, { run(f: unknown): Promise<unknown>; close(): Promise<void> }> = {
    unbatched: await napi.SessionPool.create(path, options),
    batched: await napi.SessionPool.create(path, { ...options, batching: { maxBatchSize: c.maxBatchSize, maxDelayMs: c.maxDelayMs } }),
  };
  const out = await interleave(Object.keys(pools), c.repeats, async (side) => {
    const latencies: number[] = [];
    const { requests, elapsedMs } = await callersFor(c.callers, c.blockMs, () => pools[side].run(feeds), latencies);
    return { requestsPerSec: (requests / elapsedMs) * 1000, p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99) };
  });
  await Promise.all(Object.values(pools).map((p) => p.close()));
  return out;
}

async function main(): Promise<Record<string, Figures[]>> {
  const c = JSON.parse(process.argv[2]) as Comparison;
  const dir = process.argv[3];
  readFileSync(join(dir, `${c.model}.onnx`)); // fail early, with the path, if run.ts did not write it
  switch (c.kind) {
    case 'latency':
      return latency(c, dir, process.argv[4]);
    case 'throughput':
      return throughput(c, dir, process.argv[4]);
    case 'pool':
      return pool(c, dir);
    case 'batching':
      return batching(c, dir);
  }
}

main().then(
  (sides) => {
    process.stdout.write(JSON.stringify(sides) + '\n');
    process.exit(0); // sessions are left to the process's end
  },
  (error) => {
    process.stderr.write(String(error?.stack ?? error) + '\n');
    process.exit(1);
  },
);
