// inline.ts: how long one event-loop turn may spend starting runs.
//
// Two ways a caller awaiting runs in a loop could keep the event loop from turning, and so keep
// timers and I/O waiting for as long as it loops:
// - A run of a session measured to be shorter than a hand-off to a runner thread executes on the
//   calling thread (native/session.cc, SessionWrap::Run): its promise settles without the loop.
// - Results come back through a threadsafe function, whose callback delivers up to 1,000 of them
//   per turn; each resolves a caller, who starts the next run at once, whose result (a tiny model
//   takes microseconds) joins the same delivery: 20 ms and more without a turn, measured with four
//   callers on a tiny model.
// So runs have a budget: 1 ms from the first run started since the loop last turned. Once it is
// spent, run() waits for the loop to turn (a setImmediate) before it starts, and it runs inline
// only within the budget.
//
// How a turn is seen: the loop's idle time (performance.nodeTiming.idleTime, 70 ns to read) grows
// whenever the loop has waited for I/O, which it does between the requests of a lightly loaded
// server; a loop that never waits turns through run()'s own setImmediate once the budget is spent.
// An earlier version armed a setImmediate at the first run of every turn to see its end: a pending
// immediate makes the loop poll without waiting, an extra loop iteration (and epoll call, 10-20 µs
// on a virtual machine) per request for a server answering one client.
import { performance } from 'node:perf_hooks';

const BUDGET_MS = 1;
const timing = performance.nodeTiming;

let windowStart = -1;
let idleSeen = -1;

/** Whether the runs since the loop last turned have spent the budget (the first one starts its clock). */
export function turnSpent(): boolean {
  const now = performance.now();
  const idle = timing.idleTime;
  if (windowStart < 0 || idle !== idleSeen) {
    windowStart = now;
    idleSeen = idle;
    return false;
  }
  return now - windowStart >= BUDGET_MS;
}

let turn: Promise<void> | undefined;

/**
 * Resolves once the event loop has turned; the budget starts again. Every run waiting now waits for
 * the same turn: one setImmediate for all of them, so that the budget restarts once per turn, not
 * once per waiting caller (which would give each of N callers its own 1 ms in one turn).
 */
export function nextTurn(): Promise<void> {
  turn ??= new Promise((resolve) =>
    setImmediate(() => {
      turn = undefined;
      windowStart = -1;
      resolve();
    }),
  );
  return turn;
}
