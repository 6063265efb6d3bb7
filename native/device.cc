// device.cc: device tensors: allocation through ONNX Runtime's shared allocators, and the copy to
// the host (CopyTensors) off the main thread.
#include "device.h"

#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "addon.h"
#include "providers.h"
#include "runner.h"

namespace ortn {

namespace {

const napi_type_tag& DeviceTag() {
  static const napi_type_tag tag = NewTypeTag();
  return tag;
}

class DownloadTask : public Task {
 public:
  DownloadTask(Napi::Env env, std::shared_ptr<DeviceTensor> tensor) : Task(env), tensor_(std::move(tensor)) {}
  void Execute() noexcept override {
    failure_ = Capture([&] {
      TensorShape shape = ShapeOf(tensor_->value.get());
      OrtAllocator* cpu = nullptr;
      Check(g_ort->GetAllocatorWithDefaultOptions(&cpu));
      OrtValue* host = nullptr;
      Check(g_ort->CreateTensorAsOrtValue(cpu, shape.dims.data(), shape.dims.size(), shape.type, &host));
      host_.reset(host);
      const OrtValue* src = tensor_->value.get();
      OrtValue* dst = host;
      Check(g_ort->CopyTensors(tensor_->env->get(), &src, &dst, nullptr, 1));
    });
  }
  void Complete(Napi::Env env) override {
    if (failure_) return Reject(env, MakeOrtError(env, *failure_).Value());
    try {
      std::string name = "device tensor";
      Resolve(env, KnownTensorToJs(env, std::move(host_), {"copy of", name}, {}));
    } catch (const OrtFailure& failure) {
      Reject(env, MakeOrtError(env, failure).Value());
    }
  }

 private:
  std::shared_ptr<DeviceTensor> tensor_;
  ValuePtr host_;
  std::optional<OrtFailure> failure_;
};

}  // namespace

CudaMemory CudaMemoryFor(OrtEnv* env, int device_id, const std::string& library_path) {
  static std::mutex mutex;
  static std::map<int, OrtMemoryInfo*> built_in_infos;  // per device, kept for the process
  RequireCudaCore();
  if (library_path.empty()) {  // the core's own CUDA
    std::lock_guard<std::mutex> lock(mutex);
    OrtMemoryInfo*& info = built_in_infos[device_id];
    if (info == nullptr) {
      Check(g_ort->CreateMemoryInfo("Cuda", OrtArenaAllocator, device_id, OrtMemTypeDefault, &info));
      // Registers the CUDA allocator with the env once; a second registration is refused, harmlessly.
      g_ort->ReleaseStatus(g_ort->CreateAndRegisterAllocatorV2(env, "cuda", info, nullptr, nullptr, nullptr, 0));
    }
    OrtAllocator* allocator = nullptr;
    Check(g_ort->GetSharedAllocator(env, info, &allocator));
    if (allocator == nullptr)
      throw OrtFailure(ORT_EP_FAIL, "ONNX Runtime has no CUDA allocator for device " + std::to_string(device_id) +
                                        ": device memory comes through the plugin route: install "
                                        "com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9, or name its "
                                        "libonnxruntime_providers_cuda.so (providerLibraryPath or ORT_CUDA_PROVIDER_PATH)");
    return {info, allocator};
  }
  const OrtEpDevice* device = CudaPluginDevice(env, library_path, static_cast<size_t>(device_id));
  const OrtMemoryInfo* info = g_ort->EpDevice_MemoryInfo(device, OrtDeviceMemoryType_DEFAULT);
  if (info == nullptr) throw OrtFailure(ORT_EP_FAIL, "the CUDA provider reports no device memory for device " + std::to_string(device_id));
  OrtAllocator* allocator = nullptr;
  Check(g_ort->GetSharedAllocator(env, info, &allocator));
  if (allocator == nullptr) throw OrtFailure(ORT_EP_FAIL, "the CUDA provider has no shared allocator for device " + std::to_string(device_id));
  return {info, allocator};
}

Napi::Function DeviceTensorWrap::DefineClass(Napi::Env env) {
  return ObjectWrap<DeviceTensorWrap>::DefineClass(env, "DeviceTensor",
                                                   {
                                                       InstanceMethod<&DeviceTensorWrap::Describe>("describe"),
                                                       InstanceMethod<&DeviceTensorWrap::Download>("download"),
                                                       InstanceMethod<&DeviceTensorWrap::Release>("release"),
                                                   });
}

Napi::Value DeviceTensorWrap::Allocate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonData& data = AddonData::Of(env);
  try {
    auto tensor = std::make_shared<DeviceTensor>();
    tensor->env = data.OrtEnvironment(env);
    auto type = static_cast<ONNXTensorElementDataType>(IntegerArgument(env, info[0], "allocateTensor: the element type code", 0, INT32_MAX));
    if (ElementSize(type) == 0) throw Napi::TypeError::New(env, "allocateTensor: only numeric element types live in device memory");
    if (!info[1].IsArray()) throw Napi::TypeError::New(env, "allocateTensor: dims must be an array");
    Napi::Array dims_js = info[1].As<Napi::Array>();
    std::vector<int64_t> dims(dims_js.Length());
    for (uint32_t i = 0; i < dims.size(); ++i) dims[i] = IntegerArgument(env, dims_js.Get(i), "allocateTensor: each dim", 0, INT64_C(1) << 53);
    int device_id = static_cast<int>(IntegerArgument(env, info[2], "allocateTensor: the device id", 0, INT32_MAX));
    std::string library = info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : "";
    CudaMemory memory = CudaMemoryFor(tensor->env->get(), device_id, library);
    OrtValue* raw = nullptr;
    Check(g_ort->CreateTensorAsOrtValue(memory.allocator, dims.data(), dims.size(), type, &raw));
    tensor->value.reset(raw);
    return Wrap(env, std::move(tensor));
  } catch (const OrtFailure& failure) {
    throw MakeOrtError(env, failure);
  }
}

Napi::Object DeviceTensorWrap::Wrap(Napi::Env env, std::shared_ptr<DeviceTensor> tensor) {
  auto* holder = new std::shared_ptr<DeviceTensor>(std::move(tensor));
  auto external = Napi::External<std::shared_ptr<DeviceTensor>>::New(env, holder, [](Napi::Env, std::shared_ptr<DeviceTensor>* p) { delete p; });
  return AddonData::Of(env).device_class.New({external});
}

std::shared_ptr<DeviceTensor> DeviceTensorWrap::Of(Napi::Value value) {
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&DeviceTag())) return nullptr;
  return Unwrap(value.As<Napi::Object>())->tensor_;
}

DeviceTensorWrap::DeviceTensorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceTensorWrap>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw Napi::TypeError::New(info.Env(), "device tensors are made by Tensor.allocate()");
  tensor_ = *info[0].As<Napi::External<std::shared_ptr<DeviceTensor>>>().Data();
  info.This().As<Napi::Object>().TypeTag(&DeviceTag());
}

Napi::Value DeviceTensorWrap::Describe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Of(info.This()) ) throw Napi::Error::New(env, "the device tensor was released");
  try {
    TensorShape shape = ShapeOf(tensor_->value.get());
    const std::vector<int64_t>& dims = shape.dims;
    const OrtMemoryInfo* memory = nullptr;
    Check(g_ort->GetTensorMemoryInfo(tensor_->value.get(), &memory));
    const char* name = nullptr;
    int id = 0;
    Check(g_ort->MemoryInfoGetName(memory, &name));
    Check(g_ort->MemoryInfoGetId(memory, &id));
    Napi::Array dims_js = Napi::Array::New(env, dims.size());
    for (uint32_t i = 0; i < dims.size(); ++i) dims_js.Set(i, static_cast<double>(dims[i]));
    Napi::Array result = Napi::Array::New(env, 4);
    result.Set(0u, static_cast<double>(shape.type));
    result.Set(1u, dims_js);
    result.Set(2u, name);
    result.Set(3u, id);
    return result;
  } catch (const OrtFailure& failure) {
    throw MakeOrtError(env, failure);
  }
}

Napi::Value DeviceTensorWrap::Download(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Of(info.This())) throw Napi::Error::New(env, "the device tensor was released");
  return Guard(env, [&]() -> Napi::Value {
    auto task = std::make_unique<DownloadTask>(env, tensor_);
    Napi::Value promise(env, task->promise());
    AddonData::Of(env).port->Submit(task.release());
    return promise;
  });
}

Napi::Value DeviceTensorWrap::Release(const Napi::CallbackInfo& info) {
  if (!info.This().As<Napi::Object>().CheckTypeTag(&DeviceTag()))
    throw Napi::TypeError::New(info.Env(), "this is not an ort-napi device tensor");
  tensor_.reset();  // a binding or a copy in flight holds its own share
  return info.Env().Undefined();
}

}  // namespace ortn
