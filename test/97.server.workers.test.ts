// 97.server.workers: `ort-napi serve --workers N` (lib/server/cluster.ts): worker processes on one
// port, /metrics for all of them, repository changes on all (replayed by a replacement), a killed
// worker replaced, SIGTERM draining every worker, a failed start leaving no process behind, and
// workers that outlive a killed primary only as long as their drain.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCli as startServe } from './97.server.support.js';
import { linear } from './support/models.js';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
const root = resolve(__dirname, '..');
const cli = join(root, 'dist', 'cli.js');
const children: ChildProcess[] = [];
const stray: number[] = [];
const linux = existsSync('/proc/self/stat');

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const pid of stray) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
});

/** The processes whose parent is `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const startCli = (args: string[]) => startServe(args, children);

/** One request on a connection of its own (the primary deals out connections, not requests). */
function once(url: string, method = 'GET', body?: string): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = request(url, { method, agent: false, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => done({ status: res.statusCode!, body: text }));
    });
    req.on('error', fail);
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${method} ${url} within 10 s`)));
    req.end(body);
  });
}

const infer = (base: string, v: number) => once(`${base}/v2/models/lin/infer`, 'POST', JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [v, 0, 0] }] }));
const served = async (base: string) => Number(/^ort_napi_inference_request_success_total\{model="lin",version="1",protocol="http"\} (\d+)$/m.exec((await once(`${base}/metrics`)).body)?.[1] ?? 0);
const readiness = async (base: string, n: number) => (await Promise.all(Array.from({ length: n }, () => once(`${base}/v2/models/lin/ready`)))).map((r) => r.status);

describe.skipIf(!linux)('ort-napi serve --workers', () => {
  if (!linux) console.log('[97.server.workers] skipped: finding the worker processes reads /proc, which this system lacks');

  it('two workers on one port: both answer, /metrics counts both, repository changes reach both (and a replacement), a killed worker is replaced, SIGTERM drains all', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ort-napi-workers-'));
    writeFileSync(join(dir, 'lin.onnx'), linear());
    const server = await startCli([join(dir, 'lin.onnx'), '--workers', '2', '--http-port', '0', '--grpc-port', '0', '--host', '127.0.0.1', '--log-level', 'warn']);
    expect(server.stdout()).toMatch(/^ort-napi serve: HTTP http:\/\/127\.0\.0\.1:\d+ \(v2 REST, \/metrics\)\nort-napi serve: gRPC 127\.0\.0\.1:\d+ \(inference\.GRPCInferenceService\)\nort-napi serve: 2 workers\n$/);
    const primary = server.child.pid!;
    const workers = childrenOf(primary);
    stray.push(...workers);
    expect(workers).toHaveLength(2);

    // 24 requests, each on a connection of its own: every answer right, and /metrics (asked of
    // whichever worker) counts all 24.
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => infer(server.http, i)));
    answers.forEach((r, i) => expect([r.status, JSON.parse(r.body).outputs[0].data]).toEqual([200, [i + 0.5, -0.5]]));
    expect(await served(server.http)).toBe(24);
    // gRPC shares its port the same way.
    const definition = protoLoader.loadSync(join(root, 'lib', 'server', 'grpc_predict_v2.proto'), { keepCase: true, longs: String, defaults: true });
    const Service = (grpc.loadPackageDefinition(definition) as any).inference.GRPCInferenceService; // eslint-disable-line @typescript-eslint/no-explicit-any
    const client = new Service(server.grpc!, grpc.credentials.createInsecure());
    const viaGrpc = await new Promise<number[]>((done, fail) =>
      client.ModelInfer({ model_name: 'lin', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], contents: { fp32_contents: [7, 0, 0] } }] }, (error: Error | null, res: { raw_output_contents: Buffer[] }) =>
        error ? fail(error) : done(Array.from(new Float32Array(new Uint8Array(res.raw_output_contents[0]).buffer))),
      ),
    );
    expect(viaGrpc).toEqual([7.5, -0.5]);
    // Statistics, asked of whichever worker over either protocol, sum every worker's: 25 requests.
    const succeeded = async () => JSON.parse((await once(`${server.http}/v2/models/lin/stats`)).body).model_stats[0].inference_stats.success.count as number;
    expect(await succeeded()).toBe(25);
    const viaGrpcStats = await new Promise<{ model_stats: { inference_stats: { success: { count: string } }; execution_count: string }[] }>((done, fail) =>
      client.ModelStatistics({ name: 'lin' }, (error: Error | null, res: never) => (error ? fail(error) : done(res))),
    );
    client.close();
    expect([viaGrpcStats.model_stats.length, viaGrpcStats.model_stats[0].inference_stats.success.count, viaGrpcStats.model_stats[0].execution_count]).toEqual([1, '25', '25']);

    // A worker killed: another takes its place, the service answers throughout, and the count
    // now is the survivor's alone, which shows that both had answered some.
    // (A connection dealt to it in the moment before the primary saw it die is lost with it.)
    process.kill(workers[0], 'SIGKILL');
    await until('the primary to see it', () => server.stderr().includes('starting another'));
    expect((await infer(server.http, 1)).status).toBe(200);
    await until('a replacement worker', () => /worker 3 \(pid \d+\) listening/.test(server.stderr()));
    const replaced = childrenOf(primary).filter((pid) => alive(pid));
    stray.push(...replaced);
    expect(replaced).toContain(workers[1]);
    expect(server.stderr()).toMatch(new RegExp(`worker 1 \\(pid ${workers[0]}\\) exited \\(signal SIGKILL\\); starting another`));
    const survivor = await served(server.http);
    expect(survivor).toBeGreaterThan(0);
    expect(survivor).toBeLessThan(25);
    // The dead worker's statistics went with it, as its metrics did (these count gRPC calls too).
    const servedAll = [...(await once(`${server.http}/metrics`)).body.matchAll(/^ort_napi_inference_request_success_total\{model="lin",version="1",protocol="\w+"\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    expect(await succeeded()).toBe(servedAll);
    expect(servedAll).toBeLessThan(26);

    // Unloaded through one worker: unloaded on all; loaded again (over gRPC, Triton's RPC): on all.
    expect((await once(`${server.http}/v2/repository/models/lin/unload`, 'POST')).status).toBe(200);
    expect(new Set(await readiness(server.http, 8))).toEqual(new Set([503]));
    const loader = new Service(server.grpc!, grpc.credentials.createInsecure());
    await new Promise<void>((done, fail) => loader.RepositoryModelLoad({ model_name: 'lin' }, (error: Error | null) => (error ? fail(error) : done())));
    loader.close();
    expect(new Set(await readiness(server.http, 8))).toEqual(new Set([200]));

    // A replacement carries out what the others were told: unloaded, a worker killed, its
    // replacement has the model unloaded too.
    expect((await once(`${server.http}/v2/repository/models/lin/unload`, 'POST')).status).toBe(200);
    const before = childrenOf(primary).filter(alive);
    process.kill(before[0], 'SIGKILL');
    await until('a second replacement', () => /worker 4 \(pid \d+\) listening/.test(server.stderr()));
    stray.push(...childrenOf(primary));
    // It caught up before it listened: no connection finds the model loaded.
    expect(new Set(await readiness(server.http, 8))).toEqual(new Set([503]));

    // SIGTERM: every worker drains and exits, then the primary, with 0.
    const last = childrenOf(primary).filter(alive);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    for (const pid of last) expect(alive(pid)).toBe(false);
  });

  it('a worker that cannot start stops them all: exit 1, the reason on stderr, no process left behind', async () => {
    const missing = join(mkdtempSync(join(tmpdir(), 'ort-napi-workers-missing-')), 'absent.onnx');
    const run = spawnSync(process.execPath, [cli, 'serve', missing, '--workers', '2', '--http-port', '0', '--no-grpc', '--log-level', 'silent'], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`does not exist`);
    expect(run.stderr).toMatch(/a worker exited \(code 1\) before it listened; stopped/);
    // Nothing still runs with that path in its arguments.
    const left = readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p)).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(missing);
      } catch {
        return false;
      }
    });
    expect(left).toEqual([]);
  });

  it('workers whose primary is killed drain and exit rather than linger', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ort-napi-workers-orphan-'));
    writeFileSync(join(dir, 'lin.onnx'), linear());
    const server = await startCli([join(dir, 'lin.onnx'), '--workers', '2', '--http-port', '0', '--no-grpc', '--host', '127.0.0.1', '--log-level', 'silent']);
    const workers = childrenOf(server.child.pid!);
    stray.push(...workers);
    expect(workers).toHaveLength(2);
    server.child.kill('SIGKILL');
    await until('the workers to exit', () => workers.every((pid) => !alive(pid)));
  });

  it('workers that keep dying stop the server: exit 1 after the sixth death within a minute', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ort-napi-workers-dying-'));
    writeFileSync(join(dir, 'lin.onnx'), linear());
    const server = await startCli([join(dir, 'lin.onnx'), '--workers', '2', '--http-port', '0', '--no-grpc', '--host', '127.0.0.1', '--log-level', 'silent']);
    const primary = server.child.pid!;
    const killed: number[] = [];
    let status: number | null | undefined;
    void server.exited.then((code) => (status = code));
    while (status === undefined && !server.stderr().includes('stopping') && killed.length < 10) {
      await until('a worker to kill', () => status !== undefined || childrenOf(primary).some((pid) => alive(pid) && !killed.includes(pid)));
      const victim = childrenOf(primary).find((pid) => alive(pid) && !killed.includes(pid));
      if (victim === undefined) break;
      stray.push(victim);
      killed.push(victim);
      process.kill(victim, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await server.exited).toBe(1);
    // The sixth stops it (one more may have been killed as it stopped).
    expect(killed.length).toBeGreaterThanOrEqual(6);
    expect(server.stderr()).toMatch(/exited \(signal SIGKILL\); 6 workers exited within a minute: stopping/);
  });

  it('--workers auto: the CPUs this process may use, capped by a cgroup CPU quota (a container CPU limit)', () => {
    const { availableCpus, cgroupCpuQuota } = require(join(root, 'dist', 'server', 'cluster.js')) as typeof import('../lib/server/cluster.js');
    const files = (map: Record<string, string>) => (path: string) => map[path];
    const cores = availableParallelism();
    // cgroup v2: "quota period", or "max" for none.
    expect(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' }))).toBe(1.5);
    expect(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' }))).toBeUndefined();
    // cgroup v1: -1 for none.
    expect(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '200000\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' }))).toBe(2);
    expect(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' }))).toBeUndefined();
    expect(cgroupCpuQuota(files({}))).toBeUndefined();
    // A limit of 1.5 CPUs: 2 workers (or fewer cores); none: the cores; a tiny one: still 1.
    expect(availableCpus(files({ '/sys/fs/cgroup/cpu.max': '150000 100000' }))).toBe(Math.min(cores, 2));
    expect(availableCpus(files({}))).toBe(cores);
    expect(availableCpus(files({ '/sys/fs/cgroup/cpu.max': '1000 100000' }))).toBe(1);
    // This machine's own answer is one of those.
    expect(availableCpus()).toBe(Math.max(1, Math.min(cores, Math.ceil(cgroupCpuQuota() ?? cores))));
  });

  it('refuses a worker count that is not a whole number from 1', () => {
    for (const bad of ['0', 'many', '-1']) {
      const run = spawnSync(process.execPath, [cli, 'serve', 'm.onnx', '--workers', bad], { encoding: 'utf8', timeout: 30_000 });
      expect(run.status).toBe(2);
      expect(run.stderr).toContain(`--workers must be an integer from 1 to 1024 or 'auto', not '${bad}'`);
    }
  });
});
