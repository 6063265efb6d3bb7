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
// So a turn has a budget: from the first run started in it, 1 ms. Once that is spent, run() waits
// for the loop to turn (a setImmediate) before it starts, and it runs inline only within the budget.
const BUDGET_MS = 1;

let turnStart = -1;

function reset(): void {
  turnStart = -1;
}

/** Whether the current turn has spent its budget (the first call of a turn starts its clock). */
export function turnSpent(): boolean {
  const now = performance.now();
  if (turnStart < 0) {
    turnStart = now;
    setImmediate(reset).unref(); // runs once the loop has reached this turn's check phase
    return false;
  }
  return now - turnStart >= BUDGET_MS;
}

/** Resolves once the event loop has turned. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
