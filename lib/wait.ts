// wait.ts: keeping the event loop awake for a run's result that is about to come.
//
// A loop with nothing else to do sleeps while its run executes; on a virtual machine waking it for
// the result costs 50-70 µs and cold caches (native/runner.h, "The wait for a result"). For a run
// that is the only one in flight, native wakes the loop shortly before the run is due to end and
// calls waitAwake(micros): the loop then turns without sleeping (a pending immediate makes it poll
// for I/O without waiting) until the run's result has been handed back (session.ts calls
// resultIn) or `micros` have passed, whichever is first.
// Each turn asks native whether the run has finished, and settles it then and there
// (native/runner.cc, Port::Poll): the threadsafe function that hands back every other result
// needs a write to an eventfd by the runner and the loop's next poll phase to see it, 9 µs from
// the end of Run to the hand-back with the loop awake.
import { performance } from 'node:perf_hooks';

let until = 0;
let turning = false;
let poll: (last: boolean) => boolean = () => false;

/** binding.ts: the native poll (settles the watched run if it has finished). */
export function pollWith(native: (last: boolean) => boolean): void {
  poll = native;
}

function turn(): void {
  const last = performance.now() >= until;
  // Settled here: the caller's continuation runs as this callback returns (its microtasks), and
  // its next run, if any, starts a new wait.
  if (poll(last) || last) turning = false;
  else setImmediate(turn);
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
