// env.h: the one process-wide OrtEnv, shared by every Node environment (main thread and workers),
// and ONNX Runtime's log, which goes to JS loggers or to stderr.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "ort_api.h"

namespace ortn {

// Owns the OrtEnv. Each Node environment holds one reference, and so does every session (an
// OrtSession must be released before its OrtEnv); the OrtEnv goes when the last holder does.
class OrtEnvHandle {
 public:
  explicit OrtEnvHandle(OrtEnv* env) : env_(env) {}
  ~OrtEnvHandle() { g_ort->ReleaseEnv(env_); }
  OrtEnvHandle(const OrtEnvHandle&) = delete;
  OrtEnvHandle& operator=(const OrtEnvHandle&) = delete;
  OrtEnv* get() const { return env_; }

 private:
  OrtEnv* env_;
};

// How the OrtEnv is made. Global thread pools can only be chosen before it exists.
struct EnvConfig {
  bool global_thread_pools = false;
  int global_intra_op_threads = -1;
  int global_inter_op_threads = -1;
  int global_spinning = -1;
};

// The live OrtEnv, created on first use. Throws OrtFailure if ONNX Runtime refuses to create it.
std::shared_ptr<OrtEnvHandle> AcquireOrtEnv();
// Returns "" on success, else why not (the OrtEnv exists already).
std::string ConfigureOrtEnv(const EnvConfig& config);
bool GlobalThreadPools();
// Sets the least severity that reaches the loggers (and stderr); any thread.
void SetLogLevel(OrtLoggingLevel level);
OrtLoggingLevel LogLevel();

// A message of the addon's own into ONNX Runtime's log stream (the JS loggers, or stderr).
void LogFromAddon(OrtLoggingLevel severity, const std::string& message);

// [sync] setLogger(fn | null): this Node environment's logger, called on its own thread as
// fn(severity, category, logId, codeLocation, message). With none anywhere, the log goes to stderr.
Napi::Value SetLogger(const Napi::CallbackInfo& info);

}  // namespace ortn
