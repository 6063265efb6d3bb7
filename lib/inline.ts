// inline.ts: how much of one event-loop turn runs executed on the calling thread may take.
//
// A run of a session measured to be shorter than a hand-off to a runner thread and back executes on
// the calling thread (native/session.cc, SessionWrap::Run): a few microseconds instead of 20 or
// more. A caller that awaits such runs one after another never leaves the microtask queue, though,
// and would keep timers and I/O waiting for as long as it loops. So inline runs draw on a budget per
// loop turn; once it is spent, runs go to the runners (their results come back through the loop)
// until a setImmediate, which runs once the loop has turned, restores it.
const BUDGET_MS = 1;

let spent = 0;
let resetPending = false;

function reset(): void {
  spent = 0;
  resetPending = false;
}

export function inlineAllowed(): boolean {
  return spent < BUDGET_MS;
}

export function chargeInline(ms: number): void {
  spent += ms;
  if (!resetPending) {
    resetPending = true;
    setImmediate(reset).unref();
  }
}
