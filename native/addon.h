// addon.h: per-environment state (one per main thread or Worker) and the JS errors built from it.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "env.h"
#include "ort_api.h"
#include "runner.h"

namespace ortn {

struct AddonData {
  Napi::FunctionReference session_class;
  Napi::FunctionReference binding_class;
  Napi::FunctionReference device_class;
  Napi::FunctionReference ort_error_class;  // lib/errors.ts's OrtError, handed over by setup()
  Napi::FunctionReference wait_hook;        // lib/wait.ts's waitAwake, handed over by setup()
  std::shared_ptr<Port> port;
  std::shared_ptr<OrtEnvHandle> ort_env;  // taken on first use, dropped with this environment
  napi_threadsafe_function logger = nullptr;  // this environment's JS logger, if it set one
  // The ArrayBuffer a sync run's outputs come back in (RunCall::Collect), grown as needed.
  Napi::Reference<Napi::Value> result_block;

  static AddonData& Of(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }
  // Throws an Error naming what to do when ONNX Runtime has not been loaded in this process.
  std::shared_ptr<OrtEnvHandle> OrtEnvironment(Napi::Env env);
};

// `new OrtError(message, code)` where code is ONNX Runtime's name ("INVALID_ARGUMENT").
Napi::Error MakeOrtError(Napi::Env env, OrtErrorCode code, const std::string& message);
inline Napi::Error MakeOrtError(Napi::Env env, const OrtFailure& failure) {
  return MakeOrtError(env, failure.code, failure.what());
}

// The random type tag of this copy of the addon's session objects (see SessionWrap).
const napi_type_tag& SessionTypeTag();

// A fresh random type tag. Each wrapped class keeps one for the life of the process: objects from
// another copy of the addon, or of another class, are refused instead of misread.
napi_type_tag NewTypeTag();

// A number the JS layer passes (an index, a type code, a device id) as an integer in [min, max], or
// a TypeError naming it: the addon's functions are internal, but a wrong call must say what was
// wrong, not node-addon-api's bare "A number was expected".
int64_t IntegerArgument(Napi::Env env, Napi::Value value, const char* what, int64_t min, int64_t max);

// Runs `body` on the main thread, turning ONNX Runtime's errors into OrtError.
template <typename F>
Napi::Value Guard(Napi::Env env, F&& body) {
  try {
    return body();
  } catch (const OrtFailure& failure) {
    throw MakeOrtError(env, failure);
  }
}

}  // namespace ortn
