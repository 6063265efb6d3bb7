// options.h: session and run options, read from JS into plain C++ and applied to ONNX Runtime.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "ort_api.h"

namespace ortn {

// Session options as plain data, so the session can be built off the main thread. -1: ORT's default.
struct SessionConfig {
  int intra_op_threads = -1;
  int inter_op_threads = -1;
  int graph_optimization_level = -1;  // GraphOptimizationLevel
  int execution_mode = -1;            // ExecutionMode
  int log_severity_level = -1;
  std::string log_id;

  static SessionConfig FromJs(Napi::Env env, Napi::Value options);
};

struct SessionOptionsDeleter {
  void operator()(OrtSessionOptions* options) const { g_ort->ReleaseSessionOptions(options); }
};
using SessionOptionsPtr = std::unique_ptr<OrtSessionOptions, SessionOptionsDeleter>;

// Any thread.
SessionOptionsPtr MakeSessionOptions(const SessionConfig& config);

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
