// tracing.ts: one OpenTelemetry span per inference request, through @opentelemetry/api alone
// (a no-op unless the application registers an SDK).
import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';

const tracer = trace.getTracer('ort-napi');

export function startInferSpan(protocol: 'http' | 'grpc', model: string, version: string | undefined): Span {
  return tracer.startSpan(`infer ${model}`, {
    kind: SpanKind.SERVER,
    attributes: { 'inference.protocol': protocol, 'inference.model.name': model, ...(version ? { 'inference.model.version': version } : {}) },
  });
}

export function endSpan(span: Span, error?: { message: string; kind?: string }): void {
  if (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    if (error.kind) span.setAttribute('inference.error.kind', error.kind);
  }
  span.end();
}
