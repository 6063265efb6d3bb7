// addon.cc: module init, per-environment instance data, and the module-level functions.
#include "addon.h"

#include <dlfcn.h>
#include <sys/random.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <mutex>
#include <atomic>
#include <chrono>

#include "device.h"
#include "io_binding.h"
#include "json.h"
#include "options.h"
#include "providers.h"
#include "session.h"

#ifndef ORT_NAPI_SOURCE_HASH
#define ORT_NAPI_SOURCE_HASH "unknown"
#endif

namespace ortn {

namespace {

Napi::Object LibraryToJs(Napi::Env env) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("apiVersion", ORT_API_VERSION);
  result.Set("loaded", OrtLoaded());
  if (OrtLoaded()) {
    result.Set("path", Library().path);
    result.Set("version", Library().version);
  }
  result.Set("runThreads", static_cast<double>(RunnerCount()));
  result.Set("globalThreadPools", GlobalThreadPools());
  std::string route = CudaRoute();
  if (!route.empty()) result.Set("cudaRoute", route);
  return result;
}

// [sync] setup(OrtError, waitAwake): the error class that ONNX Runtime's failures are reported
// with, and the function that keeps the loop turning while a lone run is about to end
// (`waitAwake(micros)`, see "The wait for a result" in runner.h).
Napi::Value Setup(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "setup: expected the OrtError class");
  if (!info[1].IsFunction()) throw Napi::TypeError::New(info.Env(), "setup: expected the waitAwake function");
  AddonData& data = AddonData::Of(info.Env());
  data.ort_error_class = Napi::Persistent(info[0].As<Napi::Function>());
  data.wait_hook = Napi::Persistent(info[1].As<Napi::Function>());
  return info.Env().Undefined();
}

// [sync] init(libraryPath): loads ONNX Runtime (once per process); returns what versions() does.
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "init: libraryPath must be a string");
  std::string failure = LoadOrt(info[0].As<Napi::String>().Utf8Value());
  if (!failure.empty()) {
    Napi::Error error = Napi::Error::New(env, failure);
    error.Set("code", "ERR_ORT_LOAD");
    throw error;
  }
  // Registered after ONNX Runtime's load, so it runs before that library's static destructors:
  // no runner may still be inside ONNX Runtime when they do.
  static std::once_flag at_exit;
  std::call_once(at_exit, [] { std::atexit([] { StopRunnersAtExit(); }); });
  return LibraryToJs(env);
}

// [sync] versions(): which ONNX Runtime is loaded, from where, and the API version we use.
Napi::Value Versions(const Napi::CallbackInfo& info) { return LibraryToJs(info.Env()); }

// [sync] configureEnv({ globalThreadPools, intraOpNumThreads, interOpNumThreads, allowSpinning }):
// how the OrtEnv will be made; refused once it exists.
Napi::Value ConfigureEnv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "configureEnv: expected an object");
  Napi::Object options = info[0].As<Napi::Object>();
  EnvConfig config;
  config.global_thread_pools = options.Get("globalThreadPools").ToBoolean().Value();
  auto integer = [&](const char* key) {
    Napi::Value v = options.Get(key);
    return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : -1;
  };
  config.global_intra_op_threads = integer("intraOpNumThreads");
  config.global_inter_op_threads = integer("interOpNumThreads");
  Napi::Value spinning = options.Get("allowSpinning");
  config.global_spinning = spinning.IsBoolean() ? (spinning.As<Napi::Boolean>().Value() ? 1 : 0) : -1;
  std::string failure = ConfigureOrtEnv(config);
  if (!failure.empty()) throw Napi::Error::New(env, failure);
  return env.Undefined();
}

// [sync] setLogLevel(severity 0..4) / logLevel(): the least severity that is logged.
Napi::Value SetLogLevelJs(const Napi::CallbackInfo& info) {
  int level = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : -1;
  if (level < 0 || level > 4) throw Napi::RangeError::New(info.Env(), "setLogLevel: expected a severity from 0 to 4");
  SetLogLevel(static_cast<OrtLoggingLevel>(level));
  return info.Env().Undefined();
}

Napi::Value LogLevelJs(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), LogLevel()); }

// [sync] pollRun(last): from the loop kept turning for a lone run (lib/wait.ts): settles that run
// if it has finished (true); `last`, the loop stops turning after this (Port::Poll).
Napi::Value PollRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Port>& port = AddonData::Of(env).port;
  const bool last = info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value();
  return Napi::Boolean::New(env, port != nullptr && port->Poll(env, last));
}

// [sync] handBackCounts() -> [quietly, withCall]: this environment's runs that its turning loop
// polled for, left by their runner with no call of its own or with one (Port::PolledQuietly). For tests.
Napi::Value HandBackCounts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Port>& port = AddonData::Of(env).port;
  Napi::Array counts = Napi::Array::New(env, 2);
  counts.Set(0u, Napi::Number::New(env, port ? static_cast<double>(port->PolledQuietly()) : 0));
  counts.Set(1u, Napi::Number::New(env, port ? static_cast<double>(port->PolledWithCall()) : 0));
  return counts;
}

// [sync] stopForExit(): the process is exiting (see lib/binding.ts).
Napi::Value StopForExit(const Napi::CallbackInfo& info) {
  StopRunnersAtExit();
  return info.Env().Undefined();
}

// [sync] availableProviders(): the execution providers the loaded library was built with.
Napi::Value AvailableProviders(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!OrtLoaded()) throw Napi::Error::New(env, "ONNX Runtime is not loaded yet: call init(libraryPath) first");
  char** names = nullptr;
  int count = 0;
  try {
    Check(g_ort->GetAvailableProviders(&names, &count));
  } catch (const OrtFailure& failure) {
    throw MakeOrtError(env, failure);
  }
  Napi::Array result = Napi::Array::New(env, count);
  for (int i = 0; i < count; ++i) result.Set(i, Napi::String::New(env, names[i]));
  g_ort->ReleaseStatus(g_ort->ReleaseAvailableProviders(names, count));
  return result;
}

}  // namespace

napi_type_tag NewTypeTag() {
  // getrandom(2) directly: std::random_device in a static libstdc++ built on glibc 2.36 binds to
  // arc4random, which would make the addon refuse to load on any older glibc.
  uint64_t bits[2] = {0, 0};
  if (getrandom(bits, sizeof bits, 0) != static_cast<ssize_t>(sizeof bits)) {
    // No entropy to be had: tags still differ per process and per class, which is what they guard.
    static std::atomic<uint64_t> counter{0};
    bits[0] = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^ reinterpret_cast<uintptr_t>(&counter);
    bits[1] = ++counter ^ static_cast<uint64_t>(getpid());
  }
  return napi_type_tag{bits[0], bits[1]};
}

const napi_type_tag& SessionTypeTag() {
  static const napi_type_tag tag = NewTypeTag();
  return tag;
}

std::shared_ptr<OrtEnvHandle> AddonData::OrtEnvironment(Napi::Env env) {
  if (!OrtLoaded()) throw Napi::Error::New(env, "ONNX Runtime is not loaded yet: call init(libraryPath) first");
  if (!ort_env) ort_env = AcquireOrtEnv();
  return ort_env;
}

Napi::Error MakeOrtError(Napi::Env env, OrtErrorCode code, const std::string& message) {
  AddonData& data = AddonData::Of(env);
  Napi::String text = Napi::String::New(env, message);
  Napi::String name = Napi::String::New(env, ErrorCodeName(code));
  if (!data.ort_error_class.IsEmpty()) return Napi::Error(env, data.ort_error_class.New({text, name}));
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", name);
  return error;
}

int64_t IntegerArgument(Napi::Env env, Napi::Value value, const char* what, int64_t min, int64_t max) {
  const double d = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : std::nan("");
  // Compared as doubles first: a NaN, an infinity or 1e300 never reaches the integer conversion.
  if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max) && d == std::trunc(d)))
    throw Napi::TypeError::New(env, std::string(what) + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  return static_cast<int64_t>(d);
}

// Node unloads an addon (dlclose) when the last environment that loaded it goes, as when a Worker
// alone loaded it and is terminated. Runner threads and ONNX Runtime's own threads may still be
// executing this library's code then: it is made resident for the life of the process instead.
void StayLoaded() {
  static std::once_flag once;
  std::call_once(once, [] {
    Dl_info self;
    if (dladdr(reinterpret_cast<void*>(&StayLoaded), &self) != 0 && self.dli_fname != nullptr)
      dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);  // a reference never closed
  });
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  StayLoaded();
  auto* data = new AddonData();
  env.SetInstanceData(data);  // deleted with this environment
  data->session_class = Napi::Persistent(SessionWrap::DefineClass(env));
  data->binding_class = Napi::Persistent(IoBindingWrap::DefineClass(env));
  data->device_class = Napi::Persistent(DeviceTensorWrap::DefineClass(env));
  data->port = Port::Create(env);
  SessionTypeTag();
  exports.Set("setup", Napi::Function::New<Setup>(env, "setup"));
  exports.Set("init", Napi::Function::New<Init>(env, "init"));
  exports.Set("versions", Napi::Function::New<Versions>(env, "versions"));
  exports.Set("createSession", Napi::Function::New<SessionWrap::Create>(env, "createSession"));
  exports.Set("RunOptions", RunOptionsWrap::DefineClass(env));
  exports.Set("allocateTensor", Napi::Function::New<DeviceTensorWrap::Allocate>(env, "allocateTensor"));
  exports.Set("configureEnv", Napi::Function::New<ConfigureEnv>(env, "configureEnv"));
  exports.Set("setLogger", Napi::Function::New<SetLogger>(env, "setLogger"));
  exports.Set("setLogLevel", Napi::Function::New<SetLogLevelJs>(env, "setLogLevel"));
  exports.Set("logLevel", Napi::Function::New<LogLevelJs>(env, "logLevel"));
  exports.Set("availableProviders", Napi::Function::New<AvailableProviders>(env, "availableProviders"));
  exports.Set("stopForExit", Napi::Function::New<StopForExit>(env, "stopForExit"));
  exports.Set("pollRun", Napi::Function::New<PollRun>(env, "pollRun"));
  exports.Set("handBackCounts", Napi::Function::New<HandBackCounts>(env, "handBackCounts"));
  exports.Set("parseJson", Napi::Function::New<ParseJson>(env, "parseJson"));
  exports.Set("sourceHash", ORT_NAPI_SOURCE_HASH);
  return exports;
}

}  // namespace ortn

static Napi::Object Init(Napi::Env env, Napi::Object exports) { return ortn::InitModule(env, exports); }

NODE_API_MODULE(ort_napi, Init)
