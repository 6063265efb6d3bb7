// options.cc: option objects from lib/ (already validated there) into ONNX Runtime's option calls.
#include "options.h"

namespace ortn {

namespace {

int IntOption(Napi::Env env, Napi::Object options, const char* key, int fallback) {
  Napi::Value value = options.Get(key);
  if (value.IsUndefined()) return fallback;
  if (!value.IsNumber()) throw Napi::TypeError::New(env, std::string("option ") + key + " must be a number");
  return value.As<Napi::Number>().Int32Value();
}

std::string StringOption(Napi::Env env, Napi::Object options, const char* key) {
  Napi::Value value = options.Get(key);
  if (value.IsUndefined()) return "";
  if (!value.IsString()) throw Napi::TypeError::New(env, std::string("option ") + key + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}

}  // namespace

SessionConfig SessionConfig::FromJs(Napi::Env env, Napi::Value value) {
  SessionConfig config;
  if (!value.IsObject()) return config;
  Napi::Object options = value.As<Napi::Object>();
  config.intra_op_threads = IntOption(env, options, "intraOpNumThreads", -1);
  config.inter_op_threads = IntOption(env, options, "interOpNumThreads", -1);
  config.graph_optimization_level = IntOption(env, options, "graphOptimizationLevel", -1);
  config.execution_mode = IntOption(env, options, "executionMode", -1);
  config.log_severity_level = IntOption(env, options, "logSeverityLevel", -1);
  config.log_id = StringOption(env, options, "logId");
  return config;
}

SessionOptionsPtr MakeSessionOptions(const SessionConfig& config) {
  OrtSessionOptions* raw = nullptr;
  Check(g_ort->CreateSessionOptions(&raw));
  SessionOptionsPtr options(raw);
  if (config.intra_op_threads >= 0) Check(g_ort->SetIntraOpNumThreads(raw, config.intra_op_threads));
  if (config.inter_op_threads >= 0) Check(g_ort->SetInterOpNumThreads(raw, config.inter_op_threads));
  if (config.graph_optimization_level >= 0)
    Check(g_ort->SetSessionGraphOptimizationLevel(raw,
                                                  static_cast<GraphOptimizationLevel>(config.graph_optimization_level)));
  if (config.execution_mode >= 0)
    Check(g_ort->SetSessionExecutionMode(raw, static_cast<ExecutionMode>(config.execution_mode)));
  if (config.log_severity_level >= 0) Check(g_ort->SetSessionLogSeverityLevel(raw, config.log_severity_level));
  if (!config.log_id.empty()) Check(g_ort->SetSessionLogId(raw, config.log_id.c_str()));
  return options;
}

OrtRunOptions* MakeRunOptions(Napi::Env env, Napi::Value value) {
  OrtRunOptions* raw = nullptr;
  Check(g_ort->CreateRunOptions(&raw));
  std::unique_ptr<OrtRunOptions, void (*)(OrtRunOptions*)> options(raw, [](OrtRunOptions* p) {
    g_ort->ReleaseRunOptions(p);
  });
  if (value.IsObject()) {
    Napi::Object object = value.As<Napi::Object>();
    int severity = IntOption(env, object, "logSeverityLevel", -1);
    int verbosity = IntOption(env, object, "logVerbosityLevel", -1);
    std::string tag = StringOption(env, object, "tag");
    if (severity >= 0) Check(g_ort->RunOptionsSetRunLogSeverityLevel(raw, severity));
    if (verbosity >= 0) Check(g_ort->RunOptionsSetRunLogVerbosityLevel(raw, verbosity));
    if (!tag.empty()) Check(g_ort->RunOptionsSetRunTag(raw, tag.c_str()));
  }
  return options.release();
}

}  // namespace ortn
