// wait.ts: keeping the event loop awake for a run's result that is about to come.
//
// A loop with nothing else to do sleeps while its run executes; on a virtual machine waking it for
// the result costs 50-70 µs and cold caches (native/runner.h, "The wait for a result"). For a run
// that is the only one in flight, native wakes the loop shortly before the run is due to end and
// calls waitAwake(micros): the loop then turns without sleeping (a pending immediate makes it poll
// for I/O without waiting) until the run's result has been handed back (session.ts calls
// resultIn) or `micros` have passed, whichever is first.
import { performance } from 'node:perf_hooks';

let until = 0;
let turning = false;

function turn(): void {
  if (performance.now() < until) setImmediate(turn);
  else turning = false;
}

/** Called by native (Port::Wait): keep the loop turning for up to `micros`. */
export function waitAwake(micros: number): void {
  until = performance.now() + micros / 1000;
  if (!turning) {
    turning = true;
    setImmediate(turn);
  }
}

/** A run's result is in: the loop may sleep again. */
export function resultIn(): void {
  until = 0;
}
