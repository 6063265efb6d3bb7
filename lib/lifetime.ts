// lifetime.ts: the safety net for objects never released: the collector frees their native memory
// (late), and the first of each kind to go that way gets one warning naming it.
const warned = new Set<string>();
let warnings = true;

export function releaseWarnings(): boolean {
  return warnings;
}

export function setReleaseWarnings(on: boolean): void {
  warnings = on;
}

interface Dropped {
  kind: string; // 'InferenceSession', 'SessionPool'
  what: string; // names the object: the model it was made from
  release: string; // the call that should have been made
}

const registry = new FinalizationRegistry<Dropped>((dropped) => {
  if (!warnings || warned.has(dropped.kind)) return;
  warned.add(dropped.kind);
  process.emitWarning(
    `${dropped.what} was garbage-collected without ${dropped.release}; the collector freed it, later than you would have. ` +
      `Call ${dropped.release} when done with it, in a finally block; \`await using\` does that for you on Node 24+ (or compiled by TypeScript). (Warned once per kind; env.releaseWarnings = false silences it.)`,
    { type: 'OrtNapiWarning', code: 'ORT_NAPI_NOT_RELEASED' },
  );
});

/** Watches `target`; `token` unwatches it once released. */
export function watch(target: object, dropped: Dropped, token: object): void {
  registry.register(target, dropped, token);
}

export function unwatch(token: object): void {
  registry.unregister(token);
}

/** How a model source is named in messages. */
export function describeModel(model: unknown): string {
  return typeof model === 'string' ? `'${model}'` : 'model bytes';
}
