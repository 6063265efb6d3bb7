// env.cc: creates the shared OrtEnv on demand and lets it go with its last holder.
#include "env.h"

#include <mutex>

namespace ortn {

std::shared_ptr<OrtEnvHandle> AcquireOrtEnv() {
  static std::mutex mutex;
  static std::weak_ptr<OrtEnvHandle> live;
  std::lock_guard<std::mutex> lock(mutex);
  if (auto env = live.lock()) return env;
  OrtEnv* raw = nullptr;
  // Warnings and errors reach stderr through ONNX Runtime's default logger.
  Check(g_ort->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "ort-napi", &raw));
  auto env = std::make_shared<OrtEnvHandle>(raw);
  live = env;
  return env;
}

}  // namespace ortn
