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

// Run options from a JS object ({ logSeverityLevel, logVerbosityLevel, tag }); main thread.
OrtRunOptions* MakeRunOptions(Napi::Env env, Napi::Value options);

}  // namespace ortn
