// env.h: the one process-wide OrtEnv, shared by every Node environment (main thread and workers).
#pragma once

#include <memory>

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

// The live OrtEnv, created on first use. Throws OrtFailure if ONNX Runtime refuses to create it.
std::shared_ptr<OrtEnvHandle> AcquireOrtEnv();

}  // namespace ortn
