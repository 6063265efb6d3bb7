// options.cc: option objects from lib/ (already validated there) into ONNX Runtime's option calls.
#include "options.h"

#include <random>

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

RunOptionsPtr MakeRunOptions(Napi::Env env, Napi::Value value) {
  OrtRunOptions* raw = nullptr;
  Check(g_ort->CreateRunOptions(&raw));
  auto options = std::make_shared<RunOptionsHandle>(raw);
  if (value.IsObject()) {
    Napi::Object object = value.As<Napi::Object>();
    int severity = IntOption(env, object, "logSeverityLevel", -1);
    int verbosity = IntOption(env, object, "logVerbosityLevel", -1);
    std::string tag = StringOption(env, object, "tag");
    if (severity >= 0) Check(g_ort->RunOptionsSetRunLogSeverityLevel(raw, severity));
    if (verbosity >= 0) Check(g_ort->RunOptionsSetRunLogVerbosityLevel(raw, verbosity));
    if (!tag.empty()) Check(g_ort->RunOptionsSetRunTag(raw, tag.c_str()));
  }
  return options;
}

namespace {
const napi_type_tag& RunOptionsTag() {
  static const napi_type_tag tag = [] {
    std::random_device random;
    std::uniform_int_distribution<uint64_t> bits;
    return napi_type_tag{bits(random), bits(random)};
  }();
  return tag;
}
}  // namespace

Napi::Function RunOptionsWrap::DefineClass(Napi::Env env) {
  return ObjectWrap<RunOptionsWrap>::DefineClass(env, "RunOptions",
                                                 {
                                                     InstanceMethod<&RunOptionsWrap::Terminate>("terminate"),
                                                     InstanceMethod<&RunOptionsWrap::UnsetTerminate>("unsetTerminate"),
                                                 });
}

RunOptionsWrap::RunOptionsWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RunOptionsWrap>(info) {
  if (!OrtLoaded()) throw Napi::Error::New(info.Env(), "ONNX Runtime is not loaded yet: call init(libraryPath) first");
  try {
    handle_ = MakeRunOptions(info.Env(), info[0]);
  } catch (const OrtFailure& failure) {
    throw Napi::Error::New(info.Env(), failure.what());
  }
  info.This().As<Napi::Object>().TypeTag(&RunOptionsTag());
}

RunOptionsPtr RunOptionsWrap::HandleOf(Napi::Value value) {
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&RunOptionsTag())) return nullptr;
  return Unwrap(value.As<Napi::Object>())->handle_;
}

Napi::Value RunOptionsWrap::Terminate(const Napi::CallbackInfo& info) {
  if (!HandleOf(info.This())) throw Napi::TypeError::New(info.Env(), "this is not an ort-napi RunOptions");
  handle_->Terminate();
  return info.Env().Undefined();
}

Napi::Value RunOptionsWrap::UnsetTerminate(const Napi::CallbackInfo& info) {
  if (!HandleOf(info.This())) throw Napi::TypeError::New(info.Env(), "this is not an ort-napi RunOptions");
  handle_->UnsetTerminate();
  return info.Env().Undefined();
}

}  // namespace ortn
