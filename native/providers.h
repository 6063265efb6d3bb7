// providers.h: execution providers in priority order, appended to session options: the CPU provider,
// CUDA (built into the core, or as a plugin library), TensorRT, and any other by name.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "ort_api.h"

namespace ortn {

struct ProviderConfig {
  std::string kind;  // "cpu", "cuda", "tensorrt", or "generic"
  std::string name;  // generic: ONNX Runtime's provider name ("XNNPACK")
  std::vector<std::string> keys, values;  // ONNX Runtime's own option keys
  int use_arena = -1;                     // cpu
  std::string library_path;               // cuda: a provider library to register (the plugin route)
  bool fallback = false;                  // on failure, log it and go on to the next provider
};

// Main thread: [{ kind, name?, keys, values, useArena?, libraryPath?, fallback? }, ...].
std::vector<ProviderConfig> ProvidersFromJs(Napi::Env env, Napi::Value value);

// Any thread. Appends each provider in order; a failure throws OrtFailure naming the provider,
// unless that provider allows fallback, in which case it is logged and skipped.
void AppendProviders(OrtSessionOptions* options, OrtEnv* env, const std::vector<ProviderConfig>& providers);

// How CUDA was last reached: "" (never), "built-in" or "plugin".
std::string CudaRoute();

// Whether the loaded core was built with CUDA; if not, `why` gets ONNX Runtime's reason.
bool CoreHasCuda(std::string* why);
// Throws OrtFailure (EP_FAIL) saying how to get a CUDA-capable core when the loaded one is CPU-only:
// the CUDA provider calls core entries that only CUDA builds contain, and crashes without them.
void RequireCudaCore();
// The plugin route's CUDA device number `device`, registering the provider library once per
// process. Throws OrtFailure saying what is missing, or RequireCudaCore's refusal.
const OrtEpDevice* CudaPluginDevice(OrtEnv* env, const std::string& library_path, size_t device);

}  // namespace ortn
