// tracing.ts: one OpenTelemetry span per inference request, through @opentelemetry/api alone
// (a no-op unless the application registers an SDK).
import { context, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { PoolRunEvent } from '../pool.js';

const tracer = trace.getTracer('ort-napi');

const OPTIONS = { kind: SpanKind.SERVER };

/**
 * The span of one request: a child of the caller's trace where the request carries its context
 * (`traceparent` and whatever the application's propagator reads) and a propagator is registered.
 */
export function startInferSpan(protocol: 'http' | 'grpc', model: string, version: string | undefined, carrier?: () => Record<string, unknown>): Span {
  const parent = carrier && propagation.fields().length > 0 ? propagation.extract(context.active(), carrier()) : undefined;
  const span = tracer.startSpan(`infer ${model}`, OPTIONS, parent);
  // Attributes only where an SDK records them: the no-op span would drop them, after their objects were made.
  if (span.isRecording()) {
    span.setAttribute('inference.protocol', protocol);
    span.setAttribute('inference.model.name', model);
    if (version) span.setAttribute('inference.model.version', version);
  }
  return span;
}

/**
 * Where the request's time went inside the server: waiting in its model's queue, then the run that
 * served it (a batch of `inference.batch.size` requests, `inference.batch.rows` rows, when batched).
 * Recorded as the pool settles the request, timed by the pool's own clock reads.
 */
export function recordPoolRun(span: Span, event: PoolRunEvent): void {
  span.setAttributes({
    'inference.queue.duration_ms': event.queueWaitMs,
    'inference.compute.duration_ms': event.runMs,
    'inference.batch.size': event.batchSize,
    'inference.batch.rows': event.batchRows,
  });
}

export function endSpan(span: Span, error?: { message: string; kind?: string }): void {
  if (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    if (error.kind) span.setAttribute('inference.error.kind', error.kind);
  }
  span.end();
}
