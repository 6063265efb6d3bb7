// options.cc: option objects from lib/ (already validated there) into ONNX Runtime's option calls.
#include "options.h"

#include <mutex>
#include <vector>

#include "addon.h"

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

int BoolOption(Napi::Env env, Napi::Object options, const char* key) {
  Napi::Value value = options.Get(key);
  if (value.IsUndefined()) return -1;
  if (!value.IsBoolean()) throw Napi::TypeError::New(env, std::string("option ") + key + " must be a boolean");
  return value.As<Napi::Boolean>().Value() ? 1 : 0;
}

// An option given as an array of [key, value] pairs.
Napi::Array PairsOption(Napi::Env env, Napi::Object options, const char* key) {
  Napi::Value value = options.Get(key);
  if (value.IsUndefined()) return Napi::Array::New(env, 0);
  if (!value.IsArray()) throw Napi::TypeError::New(env, std::string("option ") + key + " must be an array of entries");
  Napi::Array pairs = value.As<Napi::Array>();
  for (uint32_t i = 0; i < pairs.Length(); ++i) {
    Napi::Value pair = pairs.Get(i);
    if (!pair.IsArray() || pair.As<Napi::Array>().Length() < 2 || !pair.As<Napi::Array>().Get(0u).IsString())
      throw Napi::TypeError::New(env, std::string("option ") + key + "[" + std::to_string(i) + "] must be a [name, value] entry");
  }
  return pairs;
}

}  // namespace

void SessionConfig::Unpin(napi_env env) {
  for (napi_ref pin : pins) napi_delete_reference(env, pin);
  pins.clear();
}

SessionConfig SessionConfig::FromJs(Napi::Env env, Napi::Value value) {
  SessionConfig config;
  if (!value.IsObject()) return config;
  try {
    config.Read(env, value.As<Napi::Object>());
  } catch (...) {
    config.Unpin(env);
    throw;
  }
  return config;
}

void SessionConfig::Read(Napi::Env env, Napi::Object options) {
  SessionConfig& config = *this;
  config.log_verbosity_level = IntOption(env, options, "logVerbosityLevel", -1);
  config.cpu_mem_arena = BoolOption(env, options, "enableCpuMemArena");
  config.mem_pattern = BoolOption(env, options, "enableMemPattern");
  config.huge_pages = BoolOption(env, options, "hugePages") != 0;
  config.enable_profiling = BoolOption(env, options, "enableProfiling") == 1;
  config.profile_prefix = StringOption(env, options, "profileFilePrefix");
  config.optimized_model_path = StringOption(env, options, "optimizedModelFilePath");
  config.use_global_thread_pools = BoolOption(env, options, "useGlobalThreadPools") == 1;
  config.providers = ProvidersFromJs(env, options.Get("executionProviders"));
  auto dims = [&](const char* key, std::vector<std::pair<std::string, int64_t>>* out) {
    Napi::Array pairs = PairsOption(env, options, key);
    for (uint32_t i = 0; i < pairs.Length(); ++i) {
      Napi::Array pair = pairs.Get(i).As<Napi::Array>();
      if (!pair.Get(1u).IsNumber()) throw Napi::TypeError::New(env, std::string("option ") + key + " values must be numbers");
      out->emplace_back(pair.Get(0u).As<Napi::String>().Utf8Value(), pair.Get(1u).As<Napi::Number>().Int64Value());
    }
  };
  dims("freeDimensionOverrides", &config.dims_by_name);
  dims("freeDimensionOverridesByDenotation", &config.dims_by_denotation);
  Napi::Array entries = PairsOption(env, options, "sessionConfigEntries");
  for (uint32_t i = 0; i < entries.Length(); ++i) {
    Napi::Array pair = entries.Get(i).As<Napi::Array>();
    if (!pair.Get(1u).IsString()) throw Napi::TypeError::New(env, "option sessionConfigEntries values must be strings");
    config.config_entries.emplace_back(pair.Get(0u).As<Napi::String>().Utf8Value(),
                                       pair.Get(1u).As<Napi::String>().Utf8Value());
  }
  Napi::Array initializers = PairsOption(env, options, "initializers");
  for (uint32_t i = 0; i < initializers.Length(); ++i) {
    Napi::Array entry = initializers.Get(i).As<Napi::Array>();  // [name, typeCode, data, dims]
    std::string name = entry.Get(0u).As<Napi::String>().Utf8Value();
    config.initializers.emplace_back(
        name, OwnedTensorFromJs(env, entry.Get(1u), entry.Get(2u), entry.Get(3u), ValueName{"initializer", name}));
  }
  Napi::Array files = PairsOption(env, options, "externalData");
  for (uint32_t i = 0; i < files.Length(); ++i) {
    Napi::Array entry = files.Get(i).As<Napi::Array>();  // [fileName, Uint8Array]
    Napi::Value data = entry.Get(1u);
    if (!data.IsTypedArray() || data.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throw Napi::TypeError::New(env, "option externalData values must be Uint8Arrays");
    Napi::Uint8Array bytes = data.As<Napi::Uint8Array>();
    napi_ref pin = nullptr;
    NAPI_THROW_IF_FAILED_VOID(env, napi_create_reference(env, data, 1, &pin));
    config.pins.push_back(pin);
    config.external_names.push_back(entry.Get(0u).As<Napi::String>().Utf8Value());
    config.external_bytes.push_back(reinterpret_cast<char*>(bytes.Data()));
    config.external_lengths.push_back(bytes.ByteLength());
  }
  config.intra_op_threads = IntOption(env, options, "intraOpNumThreads", -1);
  config.inter_op_threads = IntOption(env, options, "interOpNumThreads", -1);
  config.graph_optimization_level = IntOption(env, options, "graphOptimizationLevel", -1);
  config.execution_mode = IntOption(env, options, "executionMode", -1);
  config.log_severity_level = IntOption(env, options, "logSeverityLevel", -1);
  config.log_id = StringOption(env, options, "logId");
}

SessionOptionsPtr MakeSessionOptions(const SessionConfig& config, OrtEnv* env) {
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
  if (config.log_verbosity_level >= 0) Check(g_ort->SetSessionLogVerbosityLevel(raw, config.log_verbosity_level));
  if (config.cpu_mem_arena == 0) Check(g_ort->DisableCpuMemArena(raw));
  if (config.cpu_mem_arena == 1) Check(g_ort->EnableCpuMemArena(raw));
  if (config.mem_pattern == 0) Check(g_ort->DisableMemPattern(raw));
  if (config.mem_pattern == 1) Check(g_ort->EnableMemPattern(raw));
  if (config.enable_profiling)
    Check(g_ort->EnableProfiling(raw, config.profile_prefix.empty() ? "onnxruntime_profile_" : config.profile_prefix.c_str()));
  if (!config.optimized_model_path.empty()) Check(g_ort->SetOptimizedModelFilePath(raw, config.optimized_model_path.c_str()));
  if (config.use_global_thread_pools) Check(g_ort->DisablePerSessionThreads(raw));
  for (const auto& [name, value] : config.dims_by_name) Check(g_ort->AddFreeDimensionOverrideByName(raw, name.c_str(), value));
  for (const auto& [denotation, value] : config.dims_by_denotation)
    Check(g_ort->AddFreeDimensionOverride(raw, denotation.c_str(), value));
  for (const auto& [key, value] : config.config_entries) Check(g_ort->AddSessionConfigEntry(raw, key.c_str(), value.c_str()));
  for (const auto& [name, tensor] : config.initializers) Check(g_ort->AddInitializer(raw, name.c_str(), tensor->value.get()));
  if (!config.external_names.empty()) {
    std::vector<const char*> names;
    for (const std::string& name : config.external_names) names.push_back(name.c_str());
    Check(g_ort->AddExternalInitializersFromFilesInMemory(raw, names.data(), config.external_bytes.data(),
                                                          config.external_lengths.data(), names.size()));
  }
  AppendProviders(raw, env, config.providers);
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
    if (object.Get("terminate").ToBoolean().Value()) Check(g_ort->RunOptionsSetTerminate(raw));
    Napi::Array entries = PairsOption(env, object, "configEntries");
    for (uint32_t i = 0; i < entries.Length(); ++i) {
      Napi::Array pair = entries.Get(i).As<Napi::Array>();
      if (!pair.Get(1u).IsString()) throw Napi::TypeError::New(env, "option configEntries values must be strings");
      Check(g_ort->AddRunConfigEntry(raw, pair.Get(0u).As<Napi::String>().Utf8Value().c_str(),
                                     pair.Get(1u).As<Napi::String>().Utf8Value().c_str()));
    }
  }
  return options;
}

namespace {

constexpr size_t kPlainRunOptionsKept = 64;

struct PlainRunOptionsPool {
  PlainRunOptionsPool() { kept.reserve(kPlainRunOptionsKept); }  // so that a return never allocates
  std::mutex mutex;
  std::vector<RunOptionsPtr> kept;
};

// Never destroyed: a handle kept at exit is not released after ONNX Runtime's own static
// destructors have run.
PlainRunOptionsPool& PlainPool() {
  static auto* pool = new PlainRunOptionsPool();
  return *pool;
}

}  // namespace

RunOptionsPtr TakePlainRunOptions() {
  PlainRunOptionsPool& pool = PlainPool();
  {
    std::lock_guard<std::mutex> lock(pool.mutex);
    if (!pool.kept.empty()) {
      RunOptionsPtr options = std::move(pool.kept.back());
      pool.kept.pop_back();
      return options;
    }
  }
  OrtRunOptions* raw = nullptr;
  Check(g_ort->CreateRunOptions(&raw));
  return std::make_shared<RunOptionsHandle>(raw);
}

void ReturnPlainRunOptions(RunOptionsPtr options) noexcept {
  // Held elsewhere too (nothing should hold it): left to its holders, never shared with a next run.
  if (!options || options.use_count() != 1) return;
  options->UnsetTerminate();
  PlainRunOptionsPool& pool = PlainPool();
  std::lock_guard<std::mutex> lock(pool.mutex);
  if (pool.kept.size() < kPlainRunOptionsKept) pool.kept.push_back(std::move(options));
}

namespace {
const napi_type_tag& RunOptionsTag() {
  static const napi_type_tag tag = NewTypeTag();
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
