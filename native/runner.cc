// runner.cc: the runner threads and the per-environment delivery of finished work.
#include "runner.h"

#include "addon.h"
#include "ort_api.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

namespace ortn {

Task::Task(Napi::Env env) { NAPI_THROW_IF_FAILED_VOID(env, napi_create_promise(env, &deferred_, &promise_)); }

void Task::Resolve(Napi::Env env, Napi::Value value) {
  napi_resolve_deferred(env, deferred_, value);
  deferred_ = nullptr;
}

void Task::Reject(Napi::Env env, Napi::Value error) {
  napi_reject_deferred(env, deferred_, error);
  deferred_ = nullptr;
}

size_t RunnerCount() {
  static const size_t count = [] {
    if (const char* text = std::getenv("ORT_NAPI_RUN_THREADS")) {
      long n = std::strtol(text, nullptr, 10);
      if (n >= 1 && n <= 1024) return static_cast<size_t>(n);
    }
    size_t cores = std::thread::hardware_concurrency();
    return cores < 2 ? size_t{2} : cores;
  }();
  return count;
}

// One step of a spin-wait: tells the core this thread is waiting (the other hyperthread gets it).
inline void Pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Whether the CPUs have lately been contended, from Linux's pressure stall information: some task
// waited for a CPU in more than 15% of a window of at least 2 s. A loop kept awake for a run takes
// a CPU that something else then waits for: measured on 2 vCPUs with the v2 server, 4 clients and
// wrk on the same machine (26-59% stalled), one process answered 2-12% fewer requests a second
// with its loop awake, and two (35-87%) 20% fewer. A lone caller on a quiet machine sees 0-10%.
// The window is long so that a burst does not count: a process's start (V8 compiling on its own
// threads, models loading beside another process) stalls for a few hundred milliseconds, 53-63%
// in four 50 ms samples in a row when the bench's node and floor processes loaded side by side,
// and a judgement over 200 ms (the first version) then held a lone caller's loop asleep for 10 s.
// Sampled by the runners after a task, at most every 50 ms; the window is the time between
// samples, so it is exact however few there are. Once contended, the loops sleep for a hold that
// doubles each time contention is found again (10 s to about 5 minutes), so that a busy machine
// is not re-probed all the time. Where PSI is not available, nothing is known and nothing changes.
// ORT_NAPI_PRESSURE_FILE names another file of the same format: a container's own cgroup
// (/sys/fs/cgroup/.../cpu.pressure) where only its tasks' waits should count.
class Pressure {
 public:
  static Pressure& Get() {
    static Pressure* pressure = new Pressure();  // never destroyed: runners may sample at exit
    return *pressure;
  }

  bool Contended() const noexcept { return contended_.load(std::memory_order_relaxed); }

  // A runner, between tasks.
  void Sample() noexcept {
    const int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
    if (now - last_ns_.load(std::memory_order_relaxed) < kInterval || unavailable_.load(std::memory_order_relaxed)) return;
    std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return;  // another runner is sampling
    const int64_t total = ReadStallMicros();
    if (total < 0) {
      unavailable_.store(true, std::memory_order_relaxed);
      return;
    }
    const int64_t since = now - last_ns_.load(std::memory_order_relaxed);
    last_ns_.store(now, std::memory_order_relaxed);
    if (window_total_ < 0 || since > 1000 * kInterval) {  // the first sample, or one after an idle spell: start afresh
      window_start_ = now;
      window_total_ = total;
      return;
    }
    if (contended_.load(std::memory_order_relaxed) && now >= hold_until_) {
      contended_.store(false, std::memory_order_relaxed);  // try again, from a new window
      window_start_ = now;
      window_total_ = total;
      return;
    }
    const int64_t elapsed = now - window_start_;
    if (elapsed < kWindow) return;
    // Stalled (µs) over elapsed (ns).
    const bool over = (total - window_total_) * 1000 * 100 > elapsed * 15;
    window_start_ = now;
    window_total_ = total;
    if (over && !contended_.load(std::memory_order_relaxed)) {
      if (now - found_at_ > 40 * hold_ns_) hold_ns_ = kFirstHold;  // long quiet since the last: start over
      found_at_ = now;
      hold_until_ = now + hold_ns_;
      hold_ns_ = std::min<int64_t>(2 * hold_ns_, 32 * kFirstHold);
      contended_.store(true, std::memory_order_relaxed);
    }
  }

 private:
  static constexpr int64_t kInterval = 50000000;      // ns
  static constexpr int64_t kWindow = 2000000000;      // ns
  static constexpr int64_t kFirstHold = 10000000000;  // ns

  // The "some" line's total, in µs; -1 if unreadable.
  static int64_t ReadStallMicros() noexcept {
#if defined(__linux__)
    static const char* const path = [] {
      const char* named = std::getenv("ORT_NAPI_PRESSURE_FILE");
      return named != nullptr && *named != '\0' ? named : "/proc/pressure/cpu";
    }();
    std::FILE* file = std::fopen(path, "r");
    if (file == nullptr) return -1;
    char text[256] = {};
    const size_t read = std::fread(text, 1, sizeof text - 1, file);
    std::fclose(file);
    text[read] = '\0';
    const char* total = std::strstr(text, "total=");
    if (std::strncmp(text, "some", 4) != 0 || total == nullptr) return -1;
    return std::strtoll(total + 6, nullptr, 10);
#else
    return -1;
#endif
  }

  std::mutex mutex_;
  std::atomic<int64_t> last_ns_{0};
  std::atomic<bool> unavailable_{false};
  std::atomic<bool> contended_{false};
  int64_t window_start_ = 0;  // under mutex_, as are the four below
  int64_t window_total_ = -1;  // the stall total at window_start_ (µs); -1 before the first sample
  int64_t found_at_ = 0;
  int64_t hold_until_ = 0;
  int64_t hold_ns_ = kFirstHold;
};

// The process-wide runner threads. Never destroyed: at process exit a runner may still be inside
// ONNX Runtime, and joining it from a static destructor would hang the exit.
unsigned AvailableCpus() noexcept;

class Runners {
 public:
  static Runners& Get() {
    static Runners* runners = new Runners();
    return *runners;
  }

  // Throws std::system_error when no runner thread exists and none can be started; the task is
  // then not queued, and stays the caller's. Whether a runner still spinning will take it: false
  // where one asleep was woken for it (a wake-up first: WakeNanos).
  bool Post(Task* task, std::shared_ptr<Port> port) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (exiting_) throw std::system_error(std::make_error_code(std::errc::operation_canceled), "the process is exiting");
      // Threads start on demand: one more whenever queued work outnumbers the idle runners.
      if (threads_.size() < RunnerCount() && queue_.size() + 1 > idle_) {
        try {
          threads_.emplace_back([this, slot = threads_.size()] { Loop(slot); });
          threads_.back().detach();
          ++idle_;
          ++spinning_;
        } catch (const std::system_error&) {
          // No thread to be had: the runners already started take the work.
          if (threads_.empty()) throw;
        }
      }
      queue_.push_back(Queued{task, std::move(port), std::chrono::steady_clock::now()});
      queued_.store(queue_.size(), std::memory_order_relaxed);
      if (queue_.size() <= spinning_) return true;  // spinning runners will see it
    }
    ready_.notify_one();
    return false;
  }

  // How long a runner asleep has been taking to start a task posted for it, on average (0 until
  // one has been woken). Measured on the 2-vCPU VM: 30-90 µs, 129 at worst in 400 wake-ups.
  int64_t WakeNanos() const { return wake_nanos_.load(std::memory_order_relaxed); }

  // Whether no task is queued or executing, in any environment: the cores are the caller's.
  bool Quiet() {
    std::lock_guard<std::mutex> lock(mutex_);
    return queue_.empty() && idle_ == threads_.size();
  }

  // Takes the queued (not yet started) tasks of `port` out of the queue and returns them.
  std::vector<Task*> Withdraw(const Port* port) {
    std::vector<Task*> taken;
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (it->port.get() == port) {
        taken.push_back(it->task);
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    queued_.store(queue_.size(), std::memory_order_relaxed);
    return taken;
  }

  // At process exit (atexit, registered once ONNX Runtime is loaded, so it runs before ONNX
  // Runtime's own static destructors): start nothing more, terminate what runs, and wait a bounded
  // time for it to leave ONNX Runtime. Runners are never joined: one stuck inside a kernel that
  // ignores the terminate flag must not hang the exit.
  void StopForExit() {
    std::unique_lock<std::mutex> lock(mutex_);
    exiting_ = true;
    queue_.clear();  // their memory goes with the process
    queued_.store(0, std::memory_order_relaxed);
    for (Task* task : running_)
      if (task != nullptr) task->Cancel();
    idle_wait_.wait_for(lock, std::chrono::seconds(2), [this] {
      for (Task* task : running_)
        if (task != nullptr) return false;
      return true;
    });
  }

 private:
  void Loop(size_t slot) {
#if defined(__linux__)
    pthread_setname_np(pthread_self(), "ort-napi-run");  // in top -H, perf, gdb
#endif
    ScheduleAsBatch();
    // How soon tasks have come after this runner's last one, on average (an exponential moving
    // average of the gaps from finishing one task to the posting of the next; see SpinBudget).
    double gap_micros = 0;
    double task_micros = 0;  // how long this runner's last task took
    auto finished_at = std::chrono::steady_clock::now();
    for (;;) {
      const bool seen = Spin(SpinBudget(gap_micros, task_micros));
      Queued item;
      bool slept = false;  // waited for the task asleep (WakeNanos)
      {
        std::unique_lock<std::mutex> lock(mutex_, std::defer_lock);
        // Work seen while spinning is posted under the lock, which Post may still hold for a few
        // instructions: wait for it awake too, or this runner would sleep on the lock until Post's
        // unlock woke it, the very wake-up the spin is there to save.
        for (unsigned i = 0; seen && i < 4096 && !lock.try_lock(); ++i) Pause();
        if (!lock.owns_lock()) lock.lock();
        --spinning_;
        slept = queue_.empty();
        ready_.wait(lock, [this] { return !queue_.empty(); });
        --idle_;
        item = std::move(queue_.front());
        queue_.pop_front();
        queued_.store(queue_.size(), std::memory_order_relaxed);
        running_[slot] = item.task;
      }
      // From this runner's last task to the posting of this one: the runner's own wake-up is not
      // counted, or a runner that once slept would measure its wake-ups and never spin again.
      const double gap = std::max(0.0, std::chrono::duration<double, std::micro>(item.posted - finished_at).count());
      gap_micros += (std::min(gap, 4.0 * MaxSpinMicros()) - gap_micros) / 8;
      const auto started_at = std::chrono::steady_clock::now();
      item.port->Started(item.task);
      if (slept) {
        const int64_t woke = std::chrono::duration_cast<std::chrono::nanoseconds>(started_at - item.posted).count();
        const int64_t average = wake_nanos_.load(std::memory_order_relaxed);
        wake_nanos_.store(average == 0 ? woke : average + (woke - average) / 8, std::memory_order_relaxed);
      }
      // A task whose environment has gone is not started at all.
      if (!item.port->Closed()) item.task->Execute();
      finished_at = std::chrono::steady_clock::now();
      task_micros = std::chrono::duration<double, std::micro>(finished_at - started_at).count();
      {
        // Available again before the result is delivered, so the caller's next run finds it.
        std::lock_guard<std::mutex> lock(mutex_);
        running_[slot] = nullptr;
        ++idle_;
        ++spinning_;
        if (exiting_) {
          idle_wait_.notify_all();
          continue;  // the process is going: deliver nothing, touch nothing more
        }
      }
      item.port->Finished(item.task);
      Pressure::Get().Sample();
    }
  }

  // Runs are long computations, the event loop's thread short bursts that answer clients. As
  // SCHED_BATCH threads (Linux), runners do not preempt a running thread when woken: a run posted
  // while the machine is busy waits for a free core, or the scheduler's next pick, instead of
  // taking the core from the main thread inside its Submit. Their share of the CPU is unchanged.
  // Measured with the v2 server on 2 cores, 64 clients of an MLP: run() calls of over 100 us (the
  // main thread descheduled in Submit) fell from 13-26% to 7-9%, requests/s rose about 6% (medians
  // of 8 alternating runs each).
  // ORT_NAPI_RUN_SCHED=other keeps the default policy.
  static void ScheduleAsBatch() {
#if defined(__linux__)
    const char* policy = std::getenv("ORT_NAPI_RUN_SCHED");
    if (policy != nullptr && std::strcmp(policy, "other") == 0) return;
    sched_param param{};
    param.sched_priority = 0;
    sched_setscheduler(0, SCHED_BATCH, &param);  // refused (a seccomp filter, say): the default stays
#endif
  }

  static long MaxSpinMicros() {
    static const long micros = [] {
      const char* text = std::getenv("ORT_NAPI_RUN_SPIN_US");
      long n = text ? std::strtol(text, nullptr, 10) : kSpinMicros;
      return n < 0 ? 0 : n > 100000 ? 100000 : n;
    }();
    return micros;
  }

  // Whether to spin, from how long tasks have been arriving after the last one finished. A caller
  // awaiting runs one after another submits the next within tens of microseconds, and callers
  // with runs queued leave gaps of none at all but for the moments the main thread is busy
  // handing results back: the full spin catches those (a shorter one, tried, cost the
  // 4-input model 7% of its throughput at 4 and 8 callers). A server answering one client gets
  // its next request a network round trip later (hundreds of microseconds): spinning then only
  // burns a core that the event loop and the client need (measured on 2 cores: up to 100 µs of CPU
  // a request, for nothing). A runner that sleeps still measures its gaps, so the spin comes back
  // when tasks come close together again.
  // After a long task the watch may be longer, up to a quarter of that task and 3x the base: the
  // gap before a sequential caller's next run grows with its outputs (built on caches the run has
  // just gone through), 100-150 µs after an 850 µs run of the 4-in/3-out model, and the futex
  // wake-up that a sleeping runner then needs cost that caller 20-50 µs a run here. Such a watch
  // costs at most a quarter of the CPU the run itself took.
  static long SpinBudget(double gap_micros, double task_micros) {
    const long base = MaxSpinMicros();
    const long budget = std::max(base, std::min(static_cast<long>(task_micros / 4), 3 * base));
    return gap_micros < budget ? budget : 0;
  }

  // Before sleeping, watch the queue for a moment: a runner still awake takes the next task
  // without a futex wake-up (tens of microseconds on a busy or virtual machine). Post wakes a
  // sleeper only when no runner is spinning, so a sleeper is not woken just to spin beside it.
  // Whether work was seen.
  // The spin gives its core up (sched_yield) every 50 µs, or at each check where another thread
  // may want the core: the CPUs contended (Pressure), or one CPU for the process. Yielding at every
  // check, as it did, made a system call before most runs (runner.h, "System calls").
  bool Spin(long spin_micros) {
    if (spin_micros == 0) return false;
    const auto start = std::chrono::steady_clock::now();
    const auto until = start + std::chrono::microseconds(spin_micros);
    auto yield_at = start + std::chrono::microseconds(50);
    const bool share = Pressure::Get().Contended() || single_cpu_;
    for (unsigned i = 1; queued_.load(std::memory_order_relaxed) == 0; ++i) {
      Pause();
      if ((i & 63) == 0) {
        const auto now = std::chrono::steady_clock::now();
        if (now > until) return false;
        if (share || now >= yield_at) {
          std::this_thread::yield();  // a core shared with the event loop's thread goes to it first
          yield_at = now + std::chrono::microseconds(50);
        }
      }
    }
    return true;
  }
  const bool single_cpu_ = AvailableCpus() <= 1;

  static constexpr long kSpinMicros = 100;

  std::mutex mutex_;
  std::condition_variable ready_;
  struct Queued {
    Task* task;
    std::shared_ptr<Port> port;
    std::chrono::steady_clock::time_point posted;
  };
  std::deque<Queued> queue_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;                  // runners not executing a task (spinning or asleep)
  size_t spinning_ = 0;              // idle runners still in Spin()
  std::vector<Task*> running_ = std::vector<Task*>(RunnerCount(), nullptr);  // per runner: its task now
  std::condition_variable idle_wait_;  // StopForExit waits on it for running_ to empty
  bool exiting_ = false;
  std::atomic<size_t> queued_{0};    // queue_.size(), readable without the lock
  std::atomic<int64_t> wake_nanos_{0};  // WakeNanos (any runner writes it; a lost update only delays it)
};

// Wakes event loops shortly before the lone run they wait for is due to end ("The wait for a
// result", runner.h). One thread for the process, started on first use, never destroyed (like the
// runners). It runs as SCHED_IDLE on Linux: it only takes a core nobody else wants, so arming it
// never preempts the event loop or a runner, and on a busy machine (where the loop is not asleep
// anyway) it simply comes late; a wake-up for a run that has already finished does nothing.
class Waker {
 public:
  static Waker& Get() {
    static Waker* waker = new Waker();
    return *waker;
  }

  // Main thread. False when no waker thread can be had (the run then waits as before).
  bool Arm(std::weak_ptr<Port> port, const Task* task, std::chrono::steady_clock::time_point at) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (failed_ || stopped_) return false;
      if (!started_) {
        try {
          std::thread([this] { Loop(); }).detach();
          started_ = true;
        } catch (const std::system_error&) {
          failed_ = true;
          return false;
        }
      }
      entries_.push_back(Entry{at, std::move(port), task});
      armed_.store(entries_.size(), std::memory_order_relaxed);
    }
    ready_.notify_one();
    return true;
  }

  // At process exit: wake nothing more (the runners deliver nothing more either).
  void Stop() {
    std::lock_guard<std::mutex> lock(mutex_);
    stopped_ = true;
    entries_.clear();
    armed_.store(0, std::memory_order_relaxed);
  }

  // Any thread: `task` needs no wake-up any more (it finished, or was never queued).
  void Disarm(const Task* task) {
    if (armed_.load(std::memory_order_relaxed) == 0) return;
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.erase(std::remove_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.task == task; }),
                   entries_.end());
    armed_.store(entries_.size(), std::memory_order_relaxed);
  }

 private:
  struct Entry {
    std::chrono::steady_clock::time_point at;
    std::weak_ptr<Port> port;
    const Task* task;
  };

  void Loop() {
#if defined(__linux__)
    pthread_setname_np(pthread_self(), "ort-napi-wake");
    sched_param param{};
    sched_setscheduler(0, SCHED_IDLE, &param);  // refused: it runs at the default policy
#endif
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (entries_.empty()) {
        ready_.wait(lock);
        continue;
      }
      auto next = std::min_element(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) { return a.at < b.at; })->at;
      auto now = std::chrono::steady_clock::now();
      if (now < next) {
        // Woken early (an earlier entry came, or one was disarmed): look again.
        ready_.wait_until(lock, next);
        continue;
      }
      std::vector<Entry> due;
      for (auto it = entries_.begin(); it != entries_.end();) {
        if (it->at <= now) {
          due.push_back(std::move(*it));
          it = entries_.erase(it);
        } else {
          ++it;
        }
      }
      armed_.store(entries_.size(), std::memory_order_relaxed);
      lock.unlock();
      for (const Entry& entry : due)
        if (std::shared_ptr<Port> port = entry.port.lock()) port->WakeFor(entry.task, entry.at);
      lock.lock();
      if (stopped_) entries_.clear();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<Entry> entries_;  // a few: one per environment waiting on a lone run
  std::atomic<size_t> armed_{0};  // entries_.size(), readable without the lock
  bool started_ = false;
  bool failed_ = false;
  bool stopped_ = false;
};

// The data of the threadsafe-function calls that are not a Task: the waker's, for a loop to turn
// for a lone run's result (Wait); and a runner's, after leaving that result for the loop (Poll).
char g_wake_marker;
char g_poll_marker;

#if defined(__linux__)
// A cgroup's CPU quota in CPUs, rounded up (cgroup v2's cpu.max, or v1's cfs quota), 0 if none
// is set or none can be read.
unsigned QuotaCpus() noexcept {
  auto read = [](const std::string& path) {
    std::string text;
    if (std::FILE* file = std::fopen(path.c_str(), "r")) {
      char buffer[256] = {};
      text.assign(buffer, std::fread(buffer, 1, sizeof buffer - 1, file));
      std::fclose(file);
    }
    return text;
  };
  const auto ceil_div = [](long long quota, long long period) {
    return quota > 0 && period > 0 ? static_cast<unsigned>((quota + period - 1) / period) : 0u;
  };
  try {
    // /proc/self/cgroup: "0::/path" (v2), "N:cpu,cpuacct:/path" (v1).
    std::string lines = read("/proc/self/cgroup");
    for (size_t at = 0; at < lines.size();) {
      const size_t end = std::min(lines.find('\n', at), lines.size());
      const std::string line = lines.substr(at, end - at);
      at = end + 1;
      const size_t first = line.find(':'), second = line.find(':', first + 1);
      if (first == std::string::npos || second == std::string::npos) continue;
      const std::string controllers = line.substr(first + 1, second - first - 1), path = line.substr(second + 1);
      if (controllers.empty()) {
        long long quota = 0, period = 0;
        if (std::sscanf(read("/sys/fs/cgroup" + path + "/cpu.max").c_str(), "%lld %lld", &quota, &period) == 2)
          return ceil_div(quota, period);
      } else if ((',' + controllers + ',').find(",cpu,") != std::string::npos) {
        for (const char* root : {"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"}) {
          const long long quota = std::atoll(read(root + path + "/cpu.cfs_quota_us").c_str());
          const long long period = std::atoll(read(root + path + "/cpu.cfs_period_us").c_str());
          if (period > 0) return ceil_div(quota, period);
        }
      }
    }
  } catch (...) {
  }
  return 0;
}
#endif

// The CPUs this process may use: those online, narrowed to its affinity (taskset, a container's
// cpuset) and to its cgroup's quota, on Linux. Read once.
unsigned AvailableCpus() noexcept {
  static const unsigned cpus = [] {
    unsigned n = std::max(1u, std::thread::hardware_concurrency());  // online CPUs only
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = std::min(n, static_cast<unsigned>(std::max(1, CPU_COUNT(&set))));
    if (const unsigned quota = QuotaCpus()) n = std::min(n, quota);
#endif
    return n;
  }();
  return cpus;
}

// ORT_NAPI_RUN_WAIT: how loops wait for a lone run's result. `sleep`: asleep, always; `awake`:
// awake where a core is free, even while the CPUs are contended (Pressure), for a machine whose
// cores are known to be the process's; unset (or anything else): awake where a core is free and
// the CPUs are not contended.
enum class WaitMode { kSleep, kAwake, kAuto };
WaitMode RunWait() {
  static const WaitMode mode = [] {
    const char* text = std::getenv("ORT_NAPI_RUN_WAIT");
    if (text != nullptr && std::strcmp(text, "sleep") == 0) return WaitMode::kSleep;
    if (text != nullptr && std::strcmp(text, "awake") == 0) return WaitMode::kAwake;
    return WaitMode::kAuto;
  }();
  return mode;
}

std::shared_ptr<Port> Port::Create(Napi::Env env) {
  std::shared_ptr<Port> port(new Port());
  port->env_ = env;
  napi_value name = Napi::String::New(env, "ort-napi");
  // The threadsafe function holds its own reference, so the port outlives every call it dispatches.
  auto* own = new std::shared_ptr<Port>(port);
  napi_status status = napi_create_threadsafe_function(
      env, nullptr, nullptr, name, 0, 1, own,
      [](napi_env, void* data, void*) { delete static_cast<std::shared_ptr<Port>*>(data); }, port.get(), CallJs,
      &port->tsfn_);
  if (status != napi_ok) {
    delete own;
    NAPI_THROW_IF_FAILED(env, status, nullptr);
  }
  // An idle port must not keep the process alive; Submit refs it while work is outstanding.
  napi_unref_threadsafe_function(env, port->tsfn_);
  // Added after the threadsafe function, so this hook runs before Node tears that function down.
  NAPI_THROW_IF_FAILED(env, napi_add_env_cleanup_hook(env, Cleanup, new std::shared_ptr<Port>(port)), nullptr);
  return port;
}

void Port::Submit(Task* task, RunExpected expected) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    executing_.insert(task);
  }
  // A lone run of a known length: wake the loop a little before it is due, by how late woken loops
  // have been starting plus a margin for the run's own spread. The margins are bounded, and so is
  // the CPU the wait costs: a run whose end strays further finds the loop asleep, and loses a
  // wake-up's worth of time. The learned lateness only moves the wake-up, so a busy spell that made
  // wake-ups late does not turn the wait off for good.
  // Where the run leaves a core for the loop (its threads fewer than the CPUs this process may use,
  // nothing else of it on the runners), the loop's turns take nothing from the run: the window
  // spans from as early as 19 of the session's runs in 20 end to as late as 19 in 20 end
  // (SessionCore::RecordRun's estimates), 15 µs more each way, at least 30 µs and at most 215
  // each way, and 100 µs more past the late end (kPastLateNs). Where it does not, a turning loop
  // takes a core from the run's own threads, and the margin stays narrow: 30 µs and a sixteenth
  // of the run, each way.
  // A run too short for the loop to sleep through half of it (with a wake-up 100 µs late, as they
  // are on an idle VM) has its wake-up due about as it starts: where it leaves a core for the
  // loop, it keeps the loop awake from here instead, up to its expected end plus 30 µs and a
  // quarter of the run or its late estimate (at most 200 µs); elsewhere the loop sleeps.
  // With one CPU to use there is no wait at all: a turning loop would take it from the run. Nor
  // is a core free while the CPUs are contended (Pressure).
  const unsigned cpus = AvailableCpus();  // read once: /sys costs 8 µs a read, measured
  const int64_t nanos = expected.nanos;
  const bool lone = outstanding_ == 0 && nanos > 0 && cpus > 1 && RunWait() != WaitMode::kSleep &&
                    !AddonData::Of(Napi::Env(env_)).wait_hook.IsEmpty();
  const bool core_free = lone && expected.threads != 0 && expected.threads < cpus &&
                         (RunWait() == WaitMode::kAwake || !Pressure::Get().Contended()) && Runners::Get().Quiet();
  // What a window takes from the run's length or its spread estimates is bounded, so that no
  // estimate, however a busy spell moved it, keeps the loop turning for long.
  static constexpr int64_t kMaxFromRunNs = 200000;
  const int64_t base_margin = 30000 + std::min<int64_t>(nanos / 16, kMaxFromRunNs);
  const auto learned = [](int64_t estimate) { return std::max<int64_t>(30000, 15000 + std::min<int64_t>(estimate, kMaxFromRunNs)); };
  // Past the late end the loop turns only for a run still executing (it stops at the result), so
  // the turns there fall on the late runs alone, and each one caught saves a sleeping loop's
  // wake-up (50-150 µs here). Measured on the 2-vCPU VM, one caller, with and without it in
  // alternating blocks of one process: the classifier's results that found the loop asleep after
  // its window fell from 1.2-1.3% to 0.07%, its mean run 0.5-0.7% shorter, the process's CPU a run
  // no higher; the detector's from 3.2% to 0.8%.
  static constexpr int64_t kPastLateNs = 100000;
  const bool long_run = nanos >= 2 * (100000 + base_margin);
  bool watched = false;
  if (lone && long_run) {
    wait_margin_ns_ = core_free ? learned(expected.late_nanos) + kPastLateNs : base_margin;
    due_ = Clock::now() + std::chrono::nanoseconds(nanos);
    wake_at_ = due_ - std::chrono::nanoseconds(wake_late_ns_ + (core_free ? learned(expected.early_nanos) : base_margin));
    watched = Waker::Get().Arm(weak_from_this(), task, wake_at_);
    if (watched) watched_ = task;
  }
  const bool awake_now = core_free && !long_run;
  if (awake_now) due_ = Clock::now() + std::chrono::nanoseconds(nanos);
  bool spinner = true;
  try {
    spinner = Runners::Get().Post(task, shared_from_this());
  } catch (const std::system_error& error) {
    if (watched) Waker::Get().Disarm(task);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      executing_.erase(task);
    }
    delete task;
    throw OrtFailure(ORT_RUNTIME_EXCEPTION, std::string("no runner thread could take the work: ") + error.what());
  }
  if (outstanding_++ == 0) napi_ref_threadsafe_function(env_, tsfn_);
  if (awake_now) {
    // A runner asleep starts the run only once woken, 30-90 µs later here: the wait covers that
    // too (twice the runners' average wake-up, 50 to 200 µs). Without it a short run had not even
    // started when the loop stopped turning; its result then waited for the loop to be woken
    // (150-500 µs for a 5 µs run), and with the next run submitted that much later the runner
    // slept again before each: some processes stayed that way for every run (test/53).
    int64_t wake = 0;
    if (!spinner) {
      const int64_t woken_in = Runners::Get().WakeNanos();
      due_ += std::chrono::nanoseconds(woken_in);
      wake = std::clamp<int64_t>(2 * woken_in, 50000, kMaxFromRunNs);
    }
    const int64_t after = 30000 + wake + std::max(nanos / 4, std::min<int64_t>(expected.late_nanos, kMaxFromRunNs));
    TurnFor(Napi::Env(env_), task, static_cast<double>((nanos + after) / 1000));
  }
}

void Port::TurnFor(Napi::Env env, Task* task, double micros) {
  // Watched before the loop turns: the runner may finish the run at any moment from here. A run
  // already finished and waiting there for the loop's poll is kept (overwritten, it would never be
  // settled): a waker's wake-up for an earlier run can arrive after it (Wait).
  uintptr_t current = watch_.load(std::memory_order_acquire);
  while ((current & 1) == 0 &&
         !watch_.compare_exchange_weak(current, reinterpret_cast<uintptr_t>(task), std::memory_order_seq_cst)) {
  }
  polling_.store(true, std::memory_order_seq_cst);
  unstarted_since_ = Clock::now();
  try {  // nothing may leave as an exception: the task is posted
    AddonData::Of(env).wait_hook.Call({Napi::Number::New(env, micros)});
    return;
  } catch (...) {
  }
  // The loop is not turning: nothing would pick the result up from `watch_`.
  polling_.store(false, std::memory_order_seq_cst);
  const uintptr_t watched = watch_.exchange(0, std::memory_order_seq_cst);
  if ((watched & 1) != 0) {
    Task* finished = reinterpret_cast<Task*>(watched & ~uintptr_t{1});
    if (!Deliver(finished)) delete finished;
  }
}

bool Port::SettleWatched(napi_env env) {
  const uintptr_t watched = watch_.load(std::memory_order_acquire);
  if ((watched & 1) == 0) return false;  // none, or still executing
  watch_.store(0, std::memory_order_relaxed);  // tagged: no runner touches it any more
  Settle(env, reinterpret_cast<Task*>(watched & ~uintptr_t{1}));
  return true;
}

bool Port::Poll(Napi::Env env, bool last) {
  // After its last poll the loop stops turning: from then on the runner is to make the
  // threadsafe-function call itself (Finished). Cleared before `watch_` is read for the last time:
  // all four accesses sequentially consistent, either the runner reads `polling_` cleared and
  // calls, or this poll reads its tag and settles the run.
  if (last) polling_.store(false, std::memory_order_seq_cst);
  uintptr_t watched = watch_.load(std::memory_order_seq_cst);
  if (watched == 0) return false;
  // Not started yet, 20 µs after the loop began turning for it: a runner still spinning takes a
  // run within a microsecond, so this one is waking, or it shares this thread's CPU, where a
  // turning loop leaves it none (a runner's SCHED_BATCH does not preempt). The loop gives the CPU
  // up (sched_yield) every 20 µs until it starts. Seen on the 2-vCPU VM: the main thread and a
  // spinning runner placed on one CPU, the other idle, for all 40 runs of a 5 µs model in one
  // process; each run then took 85-140 µs, its loop turning out its window before the runner ran
  // (test/53, about one process in twelve).
  if ((watched & 1) == 0 && !last && started_.load(std::memory_order_relaxed) != reinterpret_cast<const Task*>(watched)) {
    const auto now = Clock::now();
    if (now - unstarted_since_ >= std::chrono::microseconds(20)) {
      std::this_thread::yield();
      unstarted_since_ = Clock::now();
    }
    return false;
  }
  // Within a few µs of the run's expected end, watch for it here rather than go round the loop
  // once more (an epoll call and the loop's phases: 2-4 µs a turn on a virtual machine), up to
  // 20 µs: the loop's timers and I/O wait no longer than that.
  if ((watched & 1) == 0 && !last) {
    const auto now = Clock::now();
    if (now + std::chrono::microseconds(5) >= due_) {
      const auto until = now + std::chrono::microseconds(20);
      for (unsigned i = 1; ((watched = watch_.load(std::memory_order_acquire)) & 1) == 0; ++i) {
        Pause();
        if ((i & 63) == 0 && Clock::now() >= until) break;
      }
    }
  }
  if ((watched & 1) == 0) {
    if (!last) return false;  // still executing
    // The loop stops turning: the runner is to hand the result back as any other. Unless it
    // finished just now, and tagged it.
    if (watch_.compare_exchange_strong(watched, 0, std::memory_order_seq_cst)) return false;
  }
  // Settled here, and the loop stops turning; `polling_` stays set, as the runner that tagged the run
  // may not have read it yet (cleared now, it would make the call this poll has made needless).
  // Set only matters while a run is in `watch_`, which only TurnFor puts there, setting it again.
  return SettleWatched(env);
}

void StopRunnersAtExit() {
  Waker::Get().Stop();
  Runners::Get().StopForExit();
}

bool Port::Closed() {
  std::lock_guard<std::mutex> lock(mutex_);
  return closed_;
}

void Port::Finished(Task* task) {
  Waker::Get().Disarm(task);
  // The loop turning for this run takes it from here (Poll), sooner than the threadsafe function
  // hands it back through the loop's poll phase (9 µs with the loop awake). Tagged before the task
  // leaves `executing_`, so that Cleanup, which waits for that, finds it there.
  uintptr_t watched = reinterpret_cast<uintptr_t>(task);
  const bool polled = watch_.compare_exchange_strong(watched, watched | 1, std::memory_order_seq_cst);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    executing_.erase(task);
  }
  if (polled) {
    // The loop still turning for it polls again (Poll) and settles it: nothing more to do here,
    // and no system call (runner.h, "System calls"). Otherwise one threadsafe-function call, carrying
    // no task, settles it (CallJs), so no result waits on turns that have stopped. (Left in
    // `watch_` if the environment is going: Cleanup frees it.)
    if (polling_.load(std::memory_order_seq_cst)) {
      polled_quietly_.fetch_add(1, std::memory_order_relaxed);
      quiet_.notify_all();  // Cleanup may be waiting for the task just taken out of `executing_`
      return;
    }
    polled_with_call_.fetch_add(1, std::memory_order_relaxed);
    Deliver(&g_poll_marker);
    return;
  }
  if (!Deliver(task)) delete task;  // its environment is gone: free native resources only
}

void Port::WakeFor(const Task* task, Clock::time_point at) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Finished already (or a new task at the same address: one needless wait, bounded).
    if (executing_.count(const_cast<Task*>(task)) == 0) return;
  }
  woken_for_.store(at.time_since_epoch().count(), std::memory_order_relaxed);
  Deliver(&g_wake_marker);
}

bool Port::Deliver(void* data) {
  bool open = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    open = !closed_;
    if (open) ++delivering_;
  }
  // The call that wakes the main thread is made outside the lock: made under it, the woken main
  // thread (on a busy 2-core machine, often preempting this runner) blocked in its next Submit
  // until this runner ran again. Cleanup waits for `delivering_` to fall to zero, so the threadsafe
  // function outlives the call; one that finds it closing returns an error.
  bool delivered = open && napi_call_threadsafe_function(tsfn_, data, napi_tsfn_nonblocking) == napi_ok;
  if (open) {
    std::lock_guard<std::mutex> lock(mutex_);
    --delivering_;
  }
  // Always: Cleanup may be waiting for the task that Finished has just taken out of `executing_`.
  quiet_.notify_all();
  return delivered;
}

void Port::Wait(Napi::Env env) {
  const auto now = Clock::now();
  // How late this wake-up came, averaged: the next run's wake-up comes that much earlier. Counted
  // also when the result came first, so that wake-ups that keep missing move earlier.
  const int64_t late = now.time_since_epoch().count() - woken_for_.load(std::memory_order_relaxed);
  wake_late_ns_ += (std::clamp<int64_t>(late, 0, 1000000) - wake_late_ns_) / 8;
  // The result came first; or this wake-up was for an earlier run, sent just as it finished, and
  // arrives after the next run was armed (that one has its own).
  if (outstanding_ == 0 || watched_ == nullptr ||
      woken_for_.load(std::memory_order_relaxed) != wake_at_.time_since_epoch().count())
    return;
  const int64_t micros =
      std::chrono::duration_cast<std::chrono::microseconds>(due_ + std::chrono::nanoseconds(wait_margin_ns_) - now).count();
  if (micros <= 0) return;
  TurnFor(env, watched_, static_cast<double>(std::min<int64_t>(micros, 2000)));
}

void Port::CallJs(napi_env env, napi_value, void* context, void* data) {
  auto* port = static_cast<Port*>(context);
  if (data == &g_wake_marker) {
    if (env != nullptr) port->Wait(Napi::Env(env));
    return;
  }
  if (data == &g_poll_marker) {
    if (env != nullptr) port->SettleWatched(env);  // the run left there, if the loop has not settled it
    return;
  }
  if (env == nullptr) {  // the threadsafe function is being torn down with its environment
    delete static_cast<Task*>(data);
    return;
  }
  port->Settle(env, static_cast<Task*>(data));
}

void Port::Settle(napi_env env, Task* settled) {
  std::unique_ptr<Task> task(settled);
  if (settled == watched_) watched_ = nullptr;  // no wake-up may turn the loop for it now (Wait)
  if (--outstanding_ == 0) napi_unref_threadsafe_function(env, tsfn_);
  Napi::Env napi_env(env);
  // Nothing may leave this C callback as an exception. An environment that is terminating makes
  // every Node-API call fail (and node-addon-api throw): the promise is then unobservable anyway.
  try {
    try {
      task->Complete(napi_env);
    } catch (const Napi::Error& error) {
      task->Reject(napi_env, error.Value());
    } catch (const std::exception& error) {
      task->Reject(napi_env, Napi::Error::New(napi_env, error.what()).Value());
    }
  } catch (...) {
  }
}

void Port::Cleanup(void* arg) {
  std::unique_ptr<std::shared_ptr<Port>> holder(static_cast<std::shared_ptr<Port>*>(arg));
  Port& port = **holder;
  {
    std::lock_guard<std::mutex> lock(port.mutex_);
    port.closed_ = true;
  }
  // Work not yet started never starts: it leaves at once, with what it pinned. Only what is
  // executing is waited for, once told to stop (a run's terminate flag, a load's cancel flag).
  std::vector<Task*> withdrawn = Runners::Get().Withdraw(&port);
  std::unique_lock<std::mutex> lock(port.mutex_);
  for (Task* task : withdrawn) {
    port.executing_.erase(task);
    delete task;
  }
  for (Task* task : port.executing_) task->Cancel();
  port.quiet_.wait(lock, [&] { return port.executing_.empty() && port.delivering_ == 0; });
  // A run finished for a loop that no longer turns: its memory only.
  const uintptr_t watched = port.watch_.exchange(0, std::memory_order_acq_rel);
  if ((watched & 1) != 0) delete reinterpret_cast<Task*>(watched & ~uintptr_t{1});
}

}  // namespace ortn
