// 97.server.metrics: what /metrics reports after a known number of requests (the request path
// only adds to per-series numbers; prom-client gets them at each scrape): counts per model,
// version and protocol, failures in the same duration series, cumulative buckets ending at the
// count, plausible sums, batch sizes, scrapes that do not count twice, series kept after an unload.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { server as api, type ServerApi } from './97.server.support.js';
import { linear } from './support/models.js';

const require = createRequire(import.meta.url);
const prom = require('prom-client') as typeof import('prom-client');
const { POOL_CHANNEL } = require('ort-napi') as typeof import('../lib/index.js');

let srv: ServerApi.V2Server;

beforeAll(async () => {
  srv = api.createServer({
    models: { linear: linear(), batched: { model: linear(), config: { batching: { maxBatchSize: 8, maxDelayMs: 20 } } } },
    http: false, // fastify's inject(): no socket
  });
  await srv.start();
});

afterAll(async () => {
  await srv?.stop();
});

const infer = (model: string, body: unknown = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }) =>
  srv.http.inject({ method: 'POST', url: `/v2/models/${model}/infer`, payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

async function scrape(): Promise<string> {
  const res = await srv.http.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  return res.body;
}

/** The value of the sample `name{labels}` (labels in the order the text has them), or undefined. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** A histogram series: its buckets in order (le, cumulative value), sum, count. */
function histogram(text: string, name: string, labels: string) {
  const buckets: [string, number][] = [];
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}_bucket\\{le="([^"]+)",${labels.replace(/[{}()[\]\\.+*?^$|]/g, '\\$&')}\\} (\\S+)$`).exec(line);
    if (m) buckets.push([m[1], Number(m[2])]);
  }
  return { buckets, sum: sample(text, `${name}_sum`, labels), count: sample(text, `${name}_count`, labels) };
}

/** Buckets nondecreasing, bounds increasing, the last one +Inf, equal to the count. */
function expectConsistent(h: ReturnType<typeof histogram>, count: number, bounds: number[]): void {
  expect(h.count).toBe(count);
  expect(h.buckets.map(([le]) => le)).toEqual([...bounds.map(String), '+Inf']);
  for (let i = 1; i < h.buckets.length; i++) expect(h.buckets[i][1]).toBeGreaterThanOrEqual(h.buckets[i - 1][1]);
  expect(h.buckets.at(-1)![1]).toBe(count);
}

const SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH = [1, 2, 4, 8, 16, 32, 64, 128, 256];
const LINEAR = 'model="linear",version="1"';
const BATCHED = 'model="batched",version="1"';
const ours = (text: string) => text.split('\n').filter((l) => l.startsWith('ort_napi_inference_')).join('\n');

describe('/metrics after a known number of requests', () => {
  const N = 40;
  const BAD = 3;
  const CONCURRENT = 12;

  it('counts each request once, per model, version and protocol; histograms consistent with the counts', async () => {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) expect((await infer('linear')).statusCode).toBe(200);
    const sequentialSeconds = (performance.now() - t0) / 1000;
    // Refused after the model resolved: a failure of linear's, in the same duration series.
    for (let i = 0; i < BAD; i++) expect((await infer('linear', { inputs: [{ name: 'x', datatype: 'INT32', shape: [1, 3], data: [1, 2, 3] }] })).statusCode).toBe(400);
    // An unknown model: counted under the empty labels, not its own name.
    expect((await infer('nope')).statusCode).toBe(404);
    // At once, so that the batched model runs several requests together.
    const t1 = performance.now();
    const answers = await Promise.all(Array.from({ length: CONCURRENT }, () => infer('batched')));
    const concurrentSeconds = (performance.now() - t1) / 1000;
    expect(answers.map((a) => a.statusCode)).toEqual(Array(CONCURRENT).fill(200));

    const text = await scrape();
    expect(sample(text, 'ort_napi_inference_request_success_total', `${LINEAR},protocol="http"`)).toBe(N);
    expect(sample(text, 'ort_napi_inference_request_success_total', `${BATCHED},protocol="http"`)).toBe(CONCURRENT);
    expect(sample(text, 'ort_napi_inference_request_failure_total', `${LINEAR},protocol="http",reason="invalid_argument"`)).toBe(BAD);
    expect(sample(text, 'ort_napi_inference_request_failure_total', 'model="",version="",protocol="http",reason="not_found"')).toBe(1);
    expect(text).not.toMatch(/model="nope"/);

    const request = histogram(text, 'ort_napi_inference_request_duration_seconds', `${LINEAR},protocol="http"`);
    expectConsistent(request, N + BAD, SECONDS);
    const queue = histogram(text, 'ort_napi_inference_queue_duration_seconds', LINEAR);
    expectConsistent(queue, N, SECONDS);
    const compute = histogram(text, 'ort_napi_inference_compute_duration_seconds', LINEAR);
    expectConsistent(compute, N, SECONDS);
    // Each request's queue wait and run lie within its time in the server, all within the loop's.
    expect(compute.sum!).toBeGreaterThan(0);
    expect(queue.sum! + compute.sum!).toBeLessThanOrEqual(request.sum! + 1e-9);
    expect(request.sum!).toBeLessThanOrEqual(sequentialSeconds + 1e-9); // the failures came after
    expectConsistent(histogram(text, 'ort_napi_inference_request_duration_seconds', 'model="",version="",protocol="http"'), 1, SECONDS);

    // Unbatched: every run served one request.
    const linearBatch = histogram(text, 'ort_napi_inference_batch_size', LINEAR);
    expectConsistent(linearBatch, N, BATCH);
    expect(linearBatch.buckets[0]).toEqual(['1', N]);
    expect(linearBatch.sum).toBe(N);
    // Batched: each request counts the size of the run that served it (k requests of a run of k: k*k).
    const batchedBatch = histogram(text, 'ort_napi_inference_batch_size', BATCHED);
    expectConsistent(batchedBatch, CONCURRENT, BATCH);
    expect(batchedBatch.sum!).toBeGreaterThanOrEqual(CONCURRENT);
    expect(batchedBatch.sum!).toBeLessThanOrEqual(CONCURRENT * 8);
    expect(batchedBatch.buckets.find(([le]) => le === '8')![1]).toBe(CONCURRENT); // maxBatchSize 8
    const batchedRequest = histogram(text, 'ort_napi_inference_request_duration_seconds', `${BATCHED},protocol="http"`);
    expectConsistent(batchedRequest, CONCURRENT, SECONDS);
    expect(batchedRequest.sum!).toBeLessThanOrEqual(CONCURRENT * concurrentSeconds + 1e-9);

    // The same text, line for line, at the next scrape: nothing counted twice.
    expect(ours(await scrape())).toBe(ours(text));

    // More requests: added to what was there.
    for (let i = 0; i < 5; i++) expect((await infer('linear')).statusCode).toBe(200);
    const after = await scrape();
    expect(sample(after, 'ort_napi_inference_request_success_total', `${LINEAR},protocol="http"`)).toBe(N + 5);
    expectConsistent(histogram(after, 'ort_napi_inference_request_duration_seconds', `${LINEAR},protocol="http"`), N + BAD + 5, SECONDS);
    expectConsistent(histogram(after, 'ort_napi_inference_compute_duration_seconds', LINEAR), N + 5, SECONDS);
    expectConsistent(histogram(after, 'ort_napi_inference_batch_size', LINEAR), N + 5, BATCH);
    expect(sample(after, 'ort_napi_inference_request_success_total', `${BATCHED},protocol="http"`)).toBe(CONCURRENT);
  });

  it('getMetricsAsJSON() gives the histograms in prom-client\'s shape', async () => {
    const json = await srv.metrics.getMetricsAsJSON();
    const compute = json.find((m) => m.name === 'ort_napi_inference_compute_duration_seconds')!;
    expect(compute).toMatchObject({ type: 'histogram', help: 'Time of the ONNX Runtime run that served each request', aggregator: 'sum' });
    expect(compute.values).toContainEqual(expect.objectContaining({ metricName: 'ort_napi_inference_compute_duration_seconds_count', labels: { model: 'linear', version: '1' }, value: N + 5 }));
    expect(compute.values).toContainEqual(expect.objectContaining({ metricName: 'ort_napi_inference_compute_duration_seconds_bucket', labels: { le: '+Inf', model: 'linear', version: '1' }, value: N + 5 }));
  });

  it('an unloaded version keeps its series (its pending gauge goes); loaded again, it counts on', async () => {
    await srv.unloadModel('batched');
    const unloaded = await scrape();
    expect(sample(unloaded, 'ort_napi_inference_request_success_total', `${BATCHED},protocol="http"`)).toBe(CONCURRENT);
    expect(histogram(unloaded, 'ort_napi_inference_compute_duration_seconds', BATCHED).count).toBe(CONCURRENT);
    expect(unloaded).not.toMatch(/^ort_napi_inference_pending_requests\{model="batched"/m);
    await srv.loadModel('batched');
    expect((await infer('batched')).statusCode).toBe(200);
    const reloaded = await scrape();
    expect(sample(reloaded, 'ort_napi_inference_request_success_total', `${BATCHED},protocol="http"`)).toBe(CONCURRENT + 1);
    expectConsistent(histogram(reloaded, 'ort_napi_inference_compute_duration_seconds', BATCHED), CONCURRENT + 1, SECONDS);
    expectConsistent(histogram(reloaded, 'ort_napi_inference_batch_size', BATCHED), CONCURRENT + 1, BATCH);
    expect(reloaded).toMatch(/^ort_napi_inference_pending_requests\{model="batched",version="1",state="queued"\} 0$/m);
  });

  it('registry.resetMetrics() starts every series from nothing, as prom-client does', async () => {
    expect((await infer('linear')).statusCode).toBe(200); // counted, not scraped yet
    srv.metrics.resetMetrics();
    expect(ours(await scrape())).not.toMatch(/_(total|count)\{/);
    for (let i = 0; i < 2; i++) expect((await infer('linear')).statusCode).toBe(200);
    const text = await scrape();
    expect(sample(text, 'ort_napi_inference_request_success_total', `${LINEAR},protocol="http"`)).toBe(2);
    expectConsistent(histogram(text, 'ort_napi_inference_request_duration_seconds', `${LINEAR},protocol="http"`), 2, SECONDS);
    expectConsistent(histogram(text, 'ort_napi_inference_queue_duration_seconds', LINEAR), 2, SECONDS);
    expect(histogram(text, 'ort_napi_inference_compute_duration_seconds', BATCHED).count).toBeUndefined();
  });
});

describe("the histograms' text", () => {
  it("is prom-client's own Histogram's, line for line, sums included, for the same values", async () => {
    const one = api.createServer({ models: { linear: linear() }, http: false });
    await one.start();
    const events: { queueWaitMs: number; runMs: number; batchSize: number; outcome: string }[] = [];
    const record = (message: unknown) => void events.push(message as (typeof events)[number]);
    subscribe(POOL_CHANNEL, record); // after the server's: sees the events in the order it did
    try {
      const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] });
      for (let i = 0; i < 30; i++) expect((await one.http.inject({ method: 'POST', url: '/v2/models/linear/infer', payload: body })).statusCode).toBe(200);
    } finally {
      unsubscribe(POOL_CHANNEL, record);
    }
    expect(events.length).toBe(30);
    const registry = new prom.Registry();
    const labels = { model: 'linear', version: '1' };
    const make = (name: string, help: string, buckets: number[]) => new prom.Histogram({ name, help, labelNames: ['model', 'version'], buckets, registers: [registry] });
    const queue = make('ort_napi_inference_queue_duration_seconds', "Time requests waited in the model's queue", SECONDS);
    const compute = make('ort_napi_inference_compute_duration_seconds', 'Time of the ONNX Runtime run that served each request', SECONDS);
    const batch = make('ort_napi_inference_batch_size', 'Requests in the run that served each request (1 when unbatched)', BATCH);
    for (const e of events) {
      queue.observe(labels, e.queueWaitMs / 1000);
      compute.observe(labels, e.runMs / 1000);
      batch.observe(labels, e.batchSize);
    }
    for (const name of ['ort_napi_inference_queue_duration_seconds', 'ort_napi_inference_compute_duration_seconds', 'ort_napi_inference_batch_size']) {
      expect(await one.metrics.getSingleMetricAsString(name)).toBe(await registry.getSingleMetricAsString(name));
    }
    await one.stop();
  });
});
