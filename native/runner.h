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
//     only the environment's own thread may make them; the promise settles there too.
// Together they cost 10-30 µs of wake-ups, more than a small model's whole Run: a session whose
// runs are measured shorter than that runs them on the caller's thread instead (SessionWrap::Run,
// within lib/inline.ts's budget per loop turn), skipping both.
#pragma once

#include <napi.h>

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
  void Submit(Task* task);

 private:
  friend class Runners;
  Port() = default;
  bool Closed();
  void Finished(Task* task);  // runner thread, after Execute (or instead of it)
  static void CallJs(napi_env env, napi_value, void* context, void* data);
  static void Cleanup(void* arg);

  napi_env env_ = nullptr;
  napi_threadsafe_function tsfn_ = nullptr;
  size_t outstanding_ = 0;  // main thread only: submitted, not yet completed in JS

  std::mutex mutex_;
  std::condition_variable quiet_;
  std::unordered_set<Task*> executing_;  // submitted, not yet finished
  size_t delivering_ = 0;                // finished, their threadsafe-function call not yet made
  bool closed_ = false;
};

// At process exit: no new work starts, running work is terminated and waited for (bounded).
void StopRunnersAtExit();

// Number of runner threads (fixed at first use): ORT_NAPI_RUN_THREADS, else the core count, at least 2.
size_t RunnerCount();

}  // namespace ortn
