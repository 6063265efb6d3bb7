// options.h: session and run options, read from JS into plain C++ and applied to ONNX Runtime.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include <utility>
#include <vector>

#include "ort_api.h"
#include "providers.h"
#include "value.h"

namespace ortn {

// Session options as plain data, so the session can be built off the main thread. -1: ORT's default.
struct SessionConfig {
  int intra_op_threads = -1;
  int inter_op_threads = -1;
  int graph_optimization_level = -1;  // GraphOptimizationLevel
  int execution_mode = -1;            // ExecutionMode
  int log_severity_level = -1;
  int log_verbosity_level = -1;
  int cpu_mem_arena = -1;  // -1 default, 0 off, 1 on
  int mem_pattern = -1;
  bool huge_pages = true;  // collapse what the load filled onto huge pages (huge_pages.h)
  std::string log_id;
  bool enable_profiling = false;
  std::string profile_prefix;
  std::string optimized_model_path;
  bool use_global_thread_pools = false;
  std::vector<std::pair<std::string, int64_t>> dims_by_name, dims_by_denotation;
  std::vector<std::pair<std::string, std::string>> config_entries;
  // Initializers given as tensors: copied, since ONNX Runtime keeps them for the session's life.
  std::vector<std::pair<std::string, std::shared_ptr<OwnedTensor>>> initializers;
  // External data files given in memory. The arrays are pinned (`pins`) until the load is over.
  std::vector<std::string> external_names;
  std::vector<char*> external_bytes;
  std::vector<size_t> external_lengths;
  std::vector<napi_ref> pins;
  std::vector<ProviderConfig> providers;

  // Main thread. Throws a TypeError naming a malformed option (lib/ has validated them).
  static SessionConfig FromJs(Napi::Env env, Napi::Value options);
  void Unpin(napi_env env);

 private:
  void Read(Napi::Env env, Napi::Object options);
};

struct SessionOptionsDeleter {
  void operator()(OrtSessionOptions* options) const { g_ort->ReleaseSessionOptions(options); }
};
using SessionOptionsPtr = std::unique_ptr<OrtSessionOptions, SessionOptionsDeleter>;

// Any thread.
SessionOptionsPtr MakeSessionOptions(const SessionConfig& config, OrtEnv* env);

// Owns an OrtRunOptions. Shared: by a RunOptionsWrap and by every run that uses it, so the
// terminate flag can be set from JS (an AbortSignal) or a dying environment while a run reads it.
class RunOptionsHandle {
 public:
  explicit RunOptionsHandle(OrtRunOptions* options) : options_(options) {}
  ~RunOptionsHandle() { g_ort->ReleaseRunOptions(options_); }
  RunOptionsHandle(const RunOptionsHandle&) = delete;
  RunOptionsHandle& operator=(const RunOptionsHandle&) = delete;
  OrtRunOptions* get() const { return options_; }
  // Any thread: ONNX Runtime's terminate flag is atomic.
  void Terminate() noexcept { g_ort->ReleaseStatus(g_ort->RunOptionsSetTerminate(options_)); }
  void UnsetTerminate() noexcept { g_ort->ReleaseStatus(g_ort->RunOptionsUnsetTerminate(options_)); }

 private:
  OrtRunOptions* options_;
};
using RunOptionsPtr = std::shared_ptr<RunOptionsHandle>;

// Run options from a JS object ({ logSeverityLevel, logVerbosityLevel, tag }); main thread.
RunOptionsPtr MakeRunOptions(Napi::Env env, Napi::Value options);

// Run options that set nothing, for an async run whose caller gave none: every async run has some,
// as their terminate flag is how a dying environment stops it. Made for each run and released after
// it, they cost 0.7-0.8 µs of the main thread's time a run (ONNX Runtime builds a config map and
// strings for each; stamps around them, silero's async run), so a released one is kept for the
// next. TakePlainRunOptions gives a handle nothing else holds, its terminate flag clear;
// ReturnPlainRunOptions takes it back once its run is over, clearing the flag a cancelled run set.
// Any thread. At most 64 are kept; the rest are released. Throws OrtFailure.
RunOptionsPtr TakePlainRunOptions();
void ReturnPlainRunOptions(RunOptionsPtr options) noexcept;

// [sync] new RunOptions({ logSeverityLevel, logVerbosityLevel, tag }): run options JS can hold,
// pass to runs, and terminate() while they run.
class RunOptionsWrap : public Napi::ObjectWrap<RunOptionsWrap> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  explicit RunOptionsWrap(const Napi::CallbackInfo& info);
  // The handle of `value` if it is one of ours, else null.
  static RunOptionsPtr HandleOf(Napi::Value value);

 private:
  Napi::Value Terminate(const Napi::CallbackInfo& info);       // [sync]
  Napi::Value UnsetTerminate(const Napi::CallbackInfo& info);  // [sync]
  RunOptionsPtr handle_;
};

}  // namespace ortn
