// env.cc: creates the shared OrtEnv on demand, and routes ONNX Runtime's log to JS loggers through
// threadsafe functions: ONNX Runtime's threads never call into JS.
#include "env.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <vector>

#include "addon.h"

namespace ortn {

namespace {

std::mutex g_env_mutex;
std::weak_ptr<OrtEnvHandle> g_live_env;
EnvConfig g_env_config;
bool g_env_made = false;
std::atomic<int> g_log_level{ORT_LOGGING_LEVEL_WARNING};

struct LogMessage {
  int severity;
  std::string category, log_id, code_location, message;
};

// The JS loggers of all Node environments. ONNX Runtime's logging function hands each message to
// every one of them, through its threadsafe function; with none, to stderr.
class LogHub {
 public:
  static LogHub& Get() {
    static LogHub* hub = new LogHub();  // never destroyed: ONNX Runtime may log during exit
    return *hub;
  }

  void Add(napi_threadsafe_function tsfn) {
    std::lock_guard<std::mutex> lock(mutex_);
    loggers_.push_back(tsfn);
  }

  // Returns whether `tsfn` was registered (and is now removed).
  bool Remove(napi_threadsafe_function tsfn) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = std::find(loggers_.begin(), loggers_.end(), tsfn);
    if (it == loggers_.end()) return false;
    loggers_.erase(it);
    return true;
  }

  void Dispatch(OrtLoggingLevel severity, const char* category, const char* log_id, const char* code_location,
                const char* message) {
    // ONNX Runtime has already filtered by the level of the logger that wrote the message (the
    // environment's, or a session's or run's own logSeverityLevel).
    std::lock_guard<std::mutex> lock(mutex_);
    if (loggers_.empty()) {
      static const char kLetters[] = "VIWEF";
      std::fprintf(stderr, "[%c:onnxruntime:%s, %s] %s\n", kLetters[std::clamp<int>(severity, 0, 4)], log_id,
                   code_location, message);
      return;
    }
    for (napi_threadsafe_function tsfn : loggers_) {
      auto* copy = new LogMessage{severity, category, log_id, code_location, message};
      if (napi_call_threadsafe_function(tsfn, copy, napi_tsfn_nonblocking) != napi_ok) delete copy;
    }
  }

 private:
  std::mutex mutex_;
  std::vector<napi_threadsafe_function> loggers_;
};

void ORT_API_CALL LogFunction(void*, OrtLoggingLevel severity, const char* category, const char* log_id,
                              const char* code_location, const char* message) {
  try {
    LogHub::Get().Dispatch(severity, category ? category : "", log_id ? log_id : "", code_location ? code_location : "",
                           message ? message : "");
  } catch (...) {
    // A log line is never worth an exception through ONNX Runtime's frames.
  }
}

void CallLogger(napi_env env, napi_value fn, void*, void* data) {
  std::unique_ptr<LogMessage> message(static_cast<LogMessage*>(data));
  if (env == nullptr || fn == nullptr) return;
  napi_value args[5];
  // Plain Node-API, checked: an environment that is terminating fails these calls, and nothing may
  // leave this callback as an exception.
  if (napi_create_int32(env, message->severity, &args[0]) != napi_ok) return;
  const std::string* texts[] = {&message->category, &message->log_id, &message->code_location, &message->message};
  for (int i = 0; i < 4; ++i)
    if (napi_create_string_utf8(env, texts[i]->data(), texts[i]->size(), &args[i + 1]) != napi_ok) return;
  napi_value undefined;
  if (napi_get_undefined(env, &undefined) != napi_ok) return;
  napi_value ignored;
  napi_call_function(env, undefined, fn, 5, args, &ignored);  // an exception surfaces as uncaught, in JS
}

// Unregisters an environment's logger when the environment goes.
void DropLogger(void* arg) {
  auto tsfn = static_cast<napi_threadsafe_function>(arg);
  if (LogHub::Get().Remove(tsfn)) napi_release_threadsafe_function(tsfn, napi_tsfn_abort);
}

}  // namespace

std::shared_ptr<OrtEnvHandle> AcquireOrtEnv() {
  std::lock_guard<std::mutex> lock(g_env_mutex);
  if (auto env = g_live_env.lock()) return env;
  OrtEnv* raw = nullptr;
  auto level = static_cast<OrtLoggingLevel>(g_log_level.load());
  if (g_env_config.global_thread_pools) {
    OrtThreadingOptions* threading = nullptr;
    Check(g_ort->CreateThreadingOptions(&threading));
    std::unique_ptr<OrtThreadingOptions, void (*)(OrtThreadingOptions*)> owner(
        threading, [](OrtThreadingOptions* p) { g_ort->ReleaseThreadingOptions(p); });
    if (g_env_config.global_intra_op_threads >= 0)
      Check(g_ort->SetGlobalIntraOpNumThreads(threading, g_env_config.global_intra_op_threads));
    if (g_env_config.global_inter_op_threads >= 0)
      Check(g_ort->SetGlobalInterOpNumThreads(threading, g_env_config.global_inter_op_threads));
    if (g_env_config.global_spinning >= 0) Check(g_ort->SetGlobalSpinControl(threading, g_env_config.global_spinning));
    Check(g_ort->CreateEnvWithCustomLoggerAndGlobalThreadPools(LogFunction, nullptr, level, "ort-napi", threading, &raw));
  } else {
    Check(g_ort->CreateEnvWithCustomLogger(LogFunction, nullptr, level, "ort-napi", &raw));
  }
  auto env = std::make_shared<OrtEnvHandle>(raw);
  g_live_env = env;
  g_env_made = true;
  return env;
}

std::string ConfigureOrtEnv(const EnvConfig& config) {
  std::lock_guard<std::mutex> lock(g_env_mutex);
  if (g_env_made) {
    return "ONNX Runtime's environment already exists (a session was created in this process); "
           "choose globalThreadPools in env.init() before the first session";
  }
  g_env_config = config;
  return "";
}

bool GlobalThreadPools() {
  std::lock_guard<std::mutex> lock(g_env_mutex);
  return g_env_config.global_thread_pools;
}

void SetLogLevel(OrtLoggingLevel level) {
  g_log_level.store(level);
  std::lock_guard<std::mutex> lock(g_env_mutex);
  if (auto env = g_live_env.lock()) g_ort->ReleaseStatus(g_ort->UpdateEnvWithCustomLogLevel(env->get(), level));
}

OrtLoggingLevel LogLevel() { return static_cast<OrtLoggingLevel>(g_log_level.load()); }

void LogFromAddon(OrtLoggingLevel severity, const std::string& message) {
  if (severity < g_log_level.load()) return;
  LogFunction(nullptr, severity, "ort-napi", "ort-napi", "", message.c_str());
}

Napi::Value SetLogger(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonData& data = AddonData::Of(env);
  if (!info[0].IsFunction() && !info[0].IsNull() && !info[0].IsUndefined())
    throw Napi::TypeError::New(env, "setLogger: expected a function or null");
  if (data.logger != nullptr) {
    napi_remove_env_cleanup_hook(env, DropLogger, data.logger);
    DropLogger(data.logger);
    data.logger = nullptr;
  }
  if (!info[0].IsFunction()) return env.Undefined();
  napi_threadsafe_function tsfn = nullptr;
  NAPI_THROW_IF_FAILED(env,
                       napi_create_threadsafe_function(env, info[0], nullptr, Napi::String::New(env, "ort-napi log"),
                                                       0, 1, nullptr, nullptr, nullptr, CallLogger, &tsfn),
                       Napi::Value());
  napi_unref_threadsafe_function(env, tsfn);  // a logger alone does not keep the process alive
  // Added after the threadsafe function, so this hook runs (and unregisters it) before Node tears it down.
  napi_add_env_cleanup_hook(env, DropLogger, tsfn);
  LogHub::Get().Add(tsfn);
  data.logger = tsfn;
  return env.Undefined();
}

}  // namespace ortn
