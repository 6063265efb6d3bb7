// io_binding.h: IoBindingWrap, an OrtIoBinding JS can hold: inputs and outputs bound once, runs
// repeated over them without re-describing or re-allocating anything.
#pragma once

#include <napi.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "device.h"
#include "session.h"
#include "value.h"

namespace ortn {

// The binding and the values bound to it. Shared with a run in flight, so it outlives the run.
struct BindingCore {
  std::shared_ptr<SessionCore> session;
  OrtIoBinding* binding = nullptr;
  struct Bound {
    ValuePtr value;
    napi_ref pin = nullptr;  // the JS array whose memory the value lends; main thread only
    LentRange lent{nullptr, 0};  // where that memory was when bound: checked again before each run
    bool bools = false;          // a bool input over lent memory: its bytes are checked before each run
    std::shared_ptr<DeviceTensor> device;  // or the device tensor bound
    const OrtMemoryInfo* allocated_on = nullptr;  // or an output ONNX Runtime allocates, on this device
  };
  std::map<std::string, Bound> inputs, outputs;
  std::atomic<int> running{0};

  ~BindingCore() {
    if (binding != nullptr) g_ort->ReleaseIoBinding(binding);
  }
};

class IoBindingWrap : public Napi::ObjectWrap<IoBindingWrap> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  static Napi::Object NewInstance(Napi::Env env, std::shared_ptr<SessionCore> session);
  explicit IoBindingWrap(const Napi::CallbackInfo& info);
  ~IoBindingWrap() override;

 private:
  Napi::Value BindInput(const Napi::CallbackInfo& info);        // [sync] (inputIndex, type, data, dims)
  // [sync] (outputIndex, type, data, dims) | (outputIndex, deviceTensor) | (outputIndex, null):
  // CPU memory ONNX Runtime allocates | (outputIndex, 'cuda', deviceId, cudaLibraryPath)
  Napi::Value BindOutput(const Napi::CallbackInfo& info);
  Napi::Value ClearBoundInputs(const Napi::CallbackInfo& info);   // [sync]
  Napi::Value ClearBoundOutputs(const Napi::CallbackInfo& info);  // [sync]
  Napi::Value SynchronizeInputs(const Napi::CallbackInfo& info);  // [sync]
  Napi::Value SynchronizeOutputs(const Napi::CallbackInfo& info); // [sync]
  Napi::Value Run(const Napi::CallbackInfo& info);              // [async] (runOptions)
  Napi::Value RunSync(const Napi::CallbackInfo& info);          // [sync] (runOptions)
  Napi::Value GetOutputs(const Napi::CallbackInfo& info);       // [sync] -> [name, tensor | null]*
  Napi::Value Release(const Napi::CallbackInfo& info);          // [sync]
  BindingCore& Live(const Napi::CallbackInfo& info, bool changing);
  // Main thread, before each run: what the binding lends is still where it was bound, and outputs
  // ONNX Runtime allocates get fresh memory (earlier results handed out stay the caller's).
  void PrepareRun(Napi::Env env);
  void Unbind(napi_env env, std::map<std::string, BindingCore::Bound>& bound);

  std::shared_ptr<BindingCore> core_;
};

}  // namespace ortn
