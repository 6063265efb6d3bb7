// device.h: DeviceTensorWrap, a tensor in device (CUDA) memory allocated through ONNX Runtime's
// allocators, which JS can bind, pass between runs and copy to the host.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "env.h"
#include "value.h"

namespace ortn {

struct DeviceTensor {
  std::shared_ptr<OrtEnvHandle> env;  // the allocator's env outlives the value
  ValuePtr value;
};

// The memory of CUDA device `device_id` and ONNX Runtime's shared allocator for it, by whichever
// route the loaded library supports (see providers.h). Throws OrtFailure saying what is missing.
struct CudaMemory {
  const OrtMemoryInfo* info;
  OrtAllocator* allocator;
};
CudaMemory CudaMemoryFor(OrtEnv* env, int device_id, const std::string& library_path);

class DeviceTensorWrap : public Napi::ObjectWrap<DeviceTensorWrap> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  // [sync] allocateTensor(typeCode, dims, deviceId, cudaLibraryPath) -> DeviceTensor
  static Napi::Value Allocate(const Napi::CallbackInfo& info);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<DeviceTensor> tensor);
  // The tensor behind `value` if it is one of ours, else null.
  static std::shared_ptr<DeviceTensor> Of(Napi::Value value);
  explicit DeviceTensorWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Describe(const Napi::CallbackInfo& info);  // [sync] -> [typeCode, dims, location, deviceId]
  Napi::Value Download(const Napi::CallbackInfo& info);  // [async] -> [typeCode, data, dims] in host memory
  Napi::Value Release(const Napi::CallbackInfo& info);   // [sync]
  std::shared_ptr<DeviceTensor> tensor_;
};

}  // namespace ortn
