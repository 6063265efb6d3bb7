// 12.env: ONNX Runtime's log reaches JS loggers, log levels, available providers, shared thread pools.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, test } from 'vitest';
import { addMul } from './support/models.js';
import { env, InferenceSession, type Ort } from './support/ort.js';

const root = resolve(__dirname, '..');
const nodeEval = (code: string) => spawnSync(process.execPath, ['-e', code], { cwd: root, encoding: 'utf8' });
const settle = () => new Promise((r) => setTimeout(r, 50));

describe('logging', () => {
  test("a session's log reaches env.logger with its severity, category and log id", async () => {
    const heard: Parameters<Ort.Logger>[] = [];
    env.logger = (...args) => heard.push(args);
    try {
      await InferenceSession.create(addMul(), { logSeverityLevel: 0, logId: 'logged-session' });
      await settle();
    } finally {
      env.logger = undefined;
    }
    const mine = heard.filter(([, , logId]) => logId === 'logged-session');
    expect(mine.length).toBeGreaterThan(5);
    expect(mine.some(([, , , , message]) => message.includes('Initializing session'))).toBe(true);
    expect(new Set(mine.map(([severity]) => severity))).toEqual(new Set(['verbose', 'info']));
    expect(mine[0][1]).toBe('onnxruntime');
    const count = heard.length;
    await InferenceSession.create(addMul(), { logSeverityLevel: 0, logId: 'unheard' });
    await settle();
    expect(heard.length).toBe(count); // unset: back to stderr
  });

  test('without a logger, warnings go to stderr; quieter levels do not', () => {
    const r = nodeEval(`const { InferenceSession } = require('ort-napi');
      InferenceSession.create('test/fixtures/linear.onnx', { logSeverityLevel: 0, logId: 'to-stderr' }).then(() => setTimeout(() => {}, 20));`);
    expect(r.stderr).toMatch(/\[I:onnxruntime:to-stderr, .*\] Initializing session\./);
    const quiet = nodeEval(`require('ort-napi').InferenceSession.create('test/fixtures/linear.onnx', { logId: 'quiet' })`);
    expect(quiet.stderr).toBe('');
  });

  test('env.logLevel reads and sets the environment level, and refuses unknown names', () => {
    expect(env.logLevel).toBe('warning');
    env.logLevel = 'error';
    expect(env.logLevel).toBe('error');
    env.logLevel = 'warning';
    expect(() => (env.logLevel = 'loud' as never)).toThrow("env.logLevel must be one of 'verbose', 'info', 'warning', 'error', 'fatal'");
    expect(() => (env.logger = 'console' as never)).toThrow('env.logger must be a function or undefined');
  });

  test('a Worker has its own logger, and one terminated with a logger set goes quietly', async () => {
    const worker = new Worker(resolve(__dirname, 'fixtures', 'worker-logger.cjs'), { workerData: { model: addMul() } });
    const heard = await new Promise((res, rej) => (worker.once('message', res), worker.once('error', rej)));
    expect(heard).toBeGreaterThan(5);
    expect(await worker.terminate()).toBe(1);
  });
});

describe('environment', () => {
  test('getAvailableProviders lists the CPU provider of the bundled build', () => {
    expect(env.getAvailableProviders()).toContain('CPUExecutionProvider');
  });

  test('sessions share the global thread pools when asked, in a process that made them', () => {
    const r = nodeEval(`const o = require('ort-napi');
      o.env.init({ globalThreadPools: { intraOpNumThreads: 1, allowSpinning: false } });
      const seen = [];
      o.env.logger = (s, c, id, at, message) => seen.push(message);
      o.InferenceSession.create('test/fixtures/linear.onnx', { useGlobalThreadPools: true, logSeverityLevel: 0 }).then(async (s) => {
        const { y } = await s.run({ x: new o.Tensor('float32', new Float32Array([1, 2, 3]), [1, 3]) });
        setTimeout(() => {
          console.log(Array.from(y.data).join(','));
          console.log(seen.some((m) => m.startsWith('Using global/env threadpools')));
          try { o.env.init({ globalThreadPools: {} }) } catch (e) { console.log(e.message) }
        }, 30);
      });`);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual([
      '4.5,4.5',
      'true',
      "ONNX Runtime's environment already exists (a session was created in this process); choose globalThreadPools in env.init() before the first session",
    ]);
  });

  test('useGlobalThreadPools without the shared pools is refused by name', async () => {
    await expect(InferenceSession.create(addMul(), { useGlobalThreadPools: true })).rejects.toThrow(
      'session options.useGlobalThreadPools needs the shared pools: call env.init({ globalThreadPools: {...} }) before the first session',
    );
    expect(() => env.init({ globalThreadPools: { intraOpNumThreads: -2 } })).toThrow('env.init options.globalThreadPools.intraOpNumThreads must be an integer from 0 to 65536');
  });
});
