// runner.h: ONNX Runtime work off the main thread, on the addon's own threads, and its hand-back to JS.
//
// Why own threads and not libuv's pool (napi_async_work): libuv has 4 threads shared with fs, dns,
// zlib and crypto. Four model loads or long runs would park all of them, and every fs call in the
// process would wait behind inference. Our runners are a separate, fixed set, sized to the cores
// (each Run already fans out over ONNX Runtime's intra-op threads, so more runners only contend).
// ONNX Runtime's RunAsync was the other choice; it executes on the session's intra-op pool, which
// would take a compute thread from every run and fails outright with one intra-op thread.
//
// The hand-offs of one async run, and why each exists:
//  1. main thread -> runner (Runners::Post): the run must not block the event loop. A runner still
//     spinning after its last task takes it without a futex wake-up; a sleeping one is woken. How
//     long a runner spins follows how soon its tasks have been arriving (Runners::SpinBudget).
//  2. runner -> main thread (Port::Finished, a threadsafe function): outputs become JS values, and
//     only the environment's own thread may make them; the promise settles there too. A loop kept
//     turning for a lone run (below) takes that run's result itself as it finishes (Port::Poll,
//     watching for it for up to 20 µs around its expected end), rather than through the threadsafe
//     function's eventfd and the loop's next poll phase: 4-7 µs less a run, measured in one process
//     with the poll switched on and off in alternating blocks (silero and classifier models). Only
//     once the loop has stopped turning does the runner make a threadsafe-function call, without
//     the task, so that a result the loop has not picked up is settled all the same (Port::polling_).
// Together they cost 10-30 µs of wake-ups, more than a small model's whole Run: a session whose
// runs are measured shorter than that runs them on the caller's thread instead (SessionWrap::Run,
// within lib/inline.ts's budget per loop turn), skipping both.
//
// System calls. Between two runs, a runner makes none where it can: no sched_yield while it spins
// (but every 50 µs, or where another thread may want its core), no threadsafe-function call while
// the loop polls for its result, and it releases the outputs it copied itself (run.cc,
// StageOutputs). On a host with page-table isolation and no PCID (this 2-vCPU guest: "Mitigation:
// PTI", no pcid flag), every entry into the kernel flushes the TLB, and the next Run refills it:
// in C++ around the floor (silero, a worker thread handed each run by a spinning caller), one
// getppid() between runs made each Run 22-35 µs slower (135 -> 170 µs). The runner made 2-3
// system calls a run (an eventfd write, a futex, a sched_yield), and its Runs took 15-25 µs longer
// than the same Run on the main thread on the same CPU.
//
// The wait for a result. An event loop with nothing else to do sleeps while its run executes. On a
// virtual machine its idle vCPU halts, and the hypervisor lends the core out: waking it again for
// the result took 50-70 µs, and the caches it came back to were cold (measured on a 2-vCPU KVM
// guest with an 850 µs run: 50 µs from the end of Run to the start of the hand-back, 45 µs to
// build the outputs, against 11 and 30 with the loop kept busy). So when a run is the only one in
// flight on its environment and its session's runs are measured (not a first one):
// - at about 300 µs or more, the Waker wakes that loop shortly before the run is due to end, and
//   the loop then turns without sleeping (lib/wait.ts) until the result is in or a bound passes.
//   The result then finds the loop awake. The window spans where 19 of 20 of the session's runs
//   have been ending (SessionCore::RecordRun), 15 µs more each way and at most 215 µs each way,
//   and 100 µs more past the late end (its turns fall only on runs still executing then), where
//   the run leaves a core free (below); elsewhere 30 µs and a sixteenth of the run each way.
//   The cost is the loop's turns in that window, as the wake-up is moved earlier by its usual
//   lateness. Measured on the 2-vCPU VM (classifier, 460 µs, one caller, the two windows in
//   alternating blocks of one process): twice the mean deviation each way left 8-22% of results to
//   a sleeping loop, 17-36 µs a run from the end of the hand-back's copy to its settling; the
//   percentile window 6-11 µs, for 30-50 µs more of the loop's CPU a run.
// - shorter (runs under 30 µs execute inline and never get here), a wake-up would be due about
//   as soon as the run starts: the loop stays awake from the submission instead, for the run's
//   expected time and a margin, if the run leaves a core free for it (its session computes on
//   fewer threads than the CPUs the process may use, and nothing else runs on the runners).
//   Measured on a 2-vCPU KVM guest with a 170 µs run: 90 µs from the end of Run to the hand-back
//   with the loop asleep, 9.5 awake; and a runner woken from sleep for the next run took 16 µs,
//   one still watching (the caller's next run now comes sooner) 1.5. The cost is the loop's CPU
//   for the run's length, on a core the run does not use.
// The loop's wait counts from the run's start: where a runner asleep must be woken for it first,
// the loop turns longer by twice the runners' average wake-up (Runners::WakeNanos), and a loop
// whose run has not started 20 µs in yields its CPU every 20 µs, in case the runner shares it
// (Port::Poll).
// Runs of several callers at once get none of it (their results keep the loop awake anyway), nor
// does a process confined to one CPU; while the CPUs are contended (runner.cc, Pressure), no run
// counts as leaving a core free. ORT_NAPI_RUN_WAIT=sleep turns it all off; =awake ignores the
// contention.
#pragma once

#include <napi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <unordered_set>

namespace ortn {

// One piece of off-thread work with a promise. Built on the main thread from plain C++ data.
class Task {
 public:
  explicit Task(Napi::Env env);
  virtual ~Task() = default;
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  // On a runner thread. Never calls Node-API; records failures instead of throwing.
  virtual void Execute() noexcept = 0;
  // On the submitting environment's thread: settle the promise. May throw; the promise is then rejected.
  virtual void Complete(Napi::Env env) = 0;
  // Any thread: ask a queued or running Execute to stop soon (an environment is going away).
  virtual void Cancel() noexcept {}

  napi_value promise() const { return promise_; }  // valid in the scope that built the task
  void Resolve(Napi::Env env, Napi::Value value);
  void Reject(Napi::Env env, Napi::Value error);

 private:
  // Raw handles: if the environment is torn down first, a task is freed without touching them.
  napi_deferred deferred_ = nullptr;
  napi_value promise_ = nullptr;
};

// What is known of a run's length, for the wait for its result (above). All 0: nothing.
struct RunExpected {
  int64_t nanos = 0;         // how long its session's runs take (a moving average)
  int64_t late_nanos = 0;    // how far past that they end, 19 runs in 20 (an estimate)
  int64_t early_nanos = 0;   // how far before it they end, 19 runs in 20 (an estimate)
  unsigned threads = 0;      // the threads it computes on; 0 if they may be every core
};

// The hand-back point of one Node environment. Runner threads deliver finished tasks here; the
// environment's loop completes them. When the environment is torn down (a Worker terminated), its
// cleanup hook cancels its tasks and waits until no runner touches them, so nothing it lent
// (input buffers) is freed under a running inference.
class Port : public std::enable_shared_from_this<Port> {
 public:
  static std::shared_ptr<Port> Create(Napi::Env env);
  ~Port() = default;

  // Main thread. Takes ownership of `task` and queues it on the runners; throws OrtFailure (the
  // task freed) when no runner thread can be had.
  void Submit(Task* task, RunExpected expected = {});

  // Main thread, from the loop kept turning for a lone run (lib/wait.ts): settles that run here if
  // it has finished, and says whether it did. `last`: the loop stops turning after this call, so
  // a run still executing is left to be handed back as any other.
  bool Poll(Napi::Env env, bool last);
  // Of the runs the loop watched for (TurnFor) and found finished: how many the runner left to its
  // polls with no call of its own, and how many it made the marker call for (Finished). For tests.
  uint64_t PolledQuietly() const noexcept { return polled_quietly_.load(std::memory_order_relaxed); }
  uint64_t PolledWithCall() const noexcept { return polled_with_call_.load(std::memory_order_relaxed); }

 private:
  friend class Runners;
  friend class Waker;
  using Clock = std::chrono::steady_clock;
  Port() = default;
  bool Closed();
  void Finished(Task* task);  // runner thread, after Execute (or instead of it)
  // Runner thread, as it takes `task` (before Execute): read by Poll, never dereferenced.
  void Started(const Task* task) noexcept { started_.store(task, std::memory_order_relaxed); }
  void WakeFor(const Task* task, Clock::time_point at);  // waker thread: `task` is due to finish soon
  void Wait(Napi::Env env);  // main thread, woken by WakeFor: keep the loop turning
  // Main thread: calls lib/wait.ts's waitAwake(micros), the loop to pick up `task` itself (Poll).
  void TurnFor(Napi::Env env, Task* task, double micros);
  // Main thread: settles a finished task (takes it).
  void Settle(napi_env env, Task* task);
  // Main thread: settles the run left in `watch_`, if one has been; whether it did.
  bool SettleWatched(napi_env env);
  // Makes a threadsafe-function call unless the environment is going; false if none was made.
  bool Deliver(void* data);
  static void CallJs(napi_env env, napi_value, void* context, void* data);
  static void Cleanup(void* arg);

  napi_env env_ = nullptr;
  napi_threadsafe_function tsfn_ = nullptr;
  size_t outstanding_ = 0;  // main thread only: submitted, not yet completed in JS

  // Main thread only: the wait for a lone run's result.
  Clock::time_point due_;        // when the watched run should end
  Clock::time_point wake_at_;    // when the loop is to be woken for it
  int64_t wait_margin_ns_ = 0;   // how long past `due_` the loop keeps turning
  int64_t wake_late_ns_ = 100000;  // how late the woken loop starts, on average (first guess 100 µs)

  std::mutex mutex_;
  std::condition_variable quiet_;
  std::unordered_set<Task*> executing_;  // submitted, not yet finished
  size_t delivering_ = 0;                // finished, their threadsafe-function call not yet made
  std::atomic<int64_t> woken_for_{0};    // when the waker's last wake-up here was due (steady clock)
  Task* watched_ = nullptr;              // main thread only: the lone run the waker is armed for
  // The lone run whose result the turning loop takes itself (Poll), without the threadsafe
  // function: set by the main thread as its loop starts turning for the run, tagged (| 1) by the
  // runner that finishes that run, cleared by the main thread as it settles it or stops turning.
  // Non-zero only while the loop turns, so a result left here is always picked up.
  std::atomic<uintptr_t> watch_{0};
  // Whether the loop turns for the run in `watch_` and will poll again: set by TurnFor, cleared by
  // the loop's last poll (Port::Poll). While it is set, the runner that tags the run makes no
  // threadsafe-function call for it (Finished): no system call between two runs on the runner
  // ("System calls", above).
  std::atomic<bool> polling_{false};
  // The last task a runner took for this port (Started), and, main thread only, since when the
  // turning loop has waited for the run in `watch_` to start (Poll).
  std::atomic<const Task*> started_{nullptr};
  Clock::time_point unstarted_since_;
  std::atomic<uint64_t> polled_quietly_{0}, polled_with_call_{0};
  bool closed_ = false;
};

// At process exit: no new work starts, running work is terminated and waited for (bounded).
void StopRunnersAtExit();

// Number of runner threads (fixed at first use): ORT_NAPI_RUN_THREADS, else the core count, at least 2.
size_t RunnerCount();

}  // namespace ortn
