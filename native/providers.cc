// providers.cc: appending execution providers, with CUDA through whichever route the loaded library
// supports: its own CUDA V2 options when it was built with CUDA, else the plugin route
// (RegisterExecutionProviderLibrary, GetEpDevices, SessionOptionsAppendExecutionProvider_V2).
#include "providers.h"

#include <memory>
#include <mutex>
#include <set>

#include "env.h"

namespace ortn {

namespace {

std::mutex g_route_mutex;
std::string g_cuda_route;
std::set<std::string> g_registered_libraries;

struct Pointers {
  std::vector<const char*> keys, values;
  explicit Pointers(const ProviderConfig& p) {
    for (const std::string& k : p.keys) keys.push_back(k.c_str());
    for (const std::string& v : p.values) values.push_back(v.c_str());
  }
};

// ONNX Runtime's message for a failed status, without throwing.
std::string Message(OrtStatus* status) {
  std::string message = g_ort->GetErrorMessage(status);
  g_ort->ReleaseStatus(status);
  return message;
}

void AppendCpu(OrtSessionOptions* options, const ProviderConfig& p) {
  using AppendCpuFn = OrtStatus* (*)(OrtSessionOptions*, int);
  auto append = reinterpret_cast<AppendCpuFn>(OrtSymbol("OrtSessionOptionsAppendExecutionProvider_CPU"));
  if (append == nullptr) throw OrtFailure(ORT_NOT_IMPLEMENTED, "the loaded library does not export OrtSessionOptionsAppendExecutionProvider_CPU");
  Check(append(options, p.use_arena == 0 ? 0 : 1));
}

}  // namespace

// Why CUDA is refused on a core without it, and how to get one that has it.
std::string NoCudaMessage(const std::string& why) {
  return "CUDA needs a CUDA-capable ONNX Runtime core, and the loaded one (" + Library().path + ", " +
         Library().version + ") is a CPU-only build (" + why +
         "). Its CUDA provider would crash the process on most models (its kernels call core entries that "
         "only CUDA builds contain), so ort-napi does not load it there. Point ORT_DYLIB_PATH (or "
         "env.init({ libraryPath })) at a CUDA build of ONNX Runtime 1.29 or newer, such as the "
         "libonnxruntime.so.1 of onnxruntime-node@1.29.0 (node_modules/onnxruntime-node/bin/napi-v6/linux/x64/), "
         "with libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so beside it";
}

void RequireCudaCore() {
  std::string why;
  if (!CoreHasCuda(&why)) throw OrtFailure(ORT_EP_FAIL, NoCudaMessage(why));
}

namespace {

// What a core's own provider needs beside it, said after ONNX Runtime's reason it failed to load.
std::string BesideCoreHint(const char* provider, const char* file) {
  std::string dir = Library().path.substr(0, Library().path.rfind('/') + 1);
  std::string hint = std::string(" (the core's own ") + provider + " provider needs libonnxruntime_providers_" + file +
                     ".so and libonnxruntime_providers_shared.so in " + dir + ", and " +
                     (std::string(file) == "cuda" ? "CUDA 13 and cuDNN 9" : "TensorRT and the CUDA it was built for") +
                     " where the dynamic loader finds them";
  if (std::string(file) == "cuda")
    hint += "; or install com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9, whose provider ort-napi registers itself";
  return hint + ")";
}

void AppendCudaPlugin(OrtSessionOptions* options, OrtEnv* env, const ProviderConfig& p) {
  // device_id picks one of the plugin's devices; the plugin takes the device itself, not the key.
  size_t device = 0;
  std::vector<std::string> keys, values;
  for (size_t i = 0; i < p.keys.size(); ++i) {
    if (p.keys[i] == "device_id") device = std::stoul(p.values[i]);
    else keys.push_back(p.keys[i]), values.push_back(p.values[i]);
  }
  const OrtEpDevice* chosen = CudaPluginDevice(env, p.library_path, device);
  std::vector<const char*> k, v;
  for (size_t i = 0; i < keys.size(); ++i) k.push_back(keys[i].c_str()), v.push_back(values[i].c_str());
  Check(g_ort->SessionOptionsAppendExecutionProvider_V2(options, env, &chosen, 1, k.data(), v.data(), k.size()));
  std::lock_guard<std::mutex> lock(g_route_mutex);
  g_cuda_route = "plugin";
}

void AppendCuda(OrtSessionOptions* options, OrtEnv* env, const ProviderConfig& p) {
  OrtCUDAProviderOptionsV2* cuda = nullptr;
  OrtStatus* status = g_ort->CreateCUDAProviderOptions(&cuda);
  if (status != nullptr) throw OrtFailure(ORT_EP_FAIL, NoCudaMessage(Message(status)));
  std::unique_ptr<OrtCUDAProviderOptionsV2, void (*)(OrtCUDAProviderOptionsV2*)> owner(
      cuda, [](OrtCUDAProviderOptionsV2* o) { g_ort->ReleaseCUDAProviderOptions(o); });
  // A provider library named by the caller (or the GPU package) is registered as a plugin: on a
  // CUDA-capable core that route also gives device memory (Tensor.allocate, outputs on 'cuda').
  if (!p.library_path.empty()) return AppendCudaPlugin(options, env, p);
  Pointers ptrs(p);
  try {
    Check(g_ort->UpdateCUDAProviderOptions(cuda, ptrs.keys.data(), ptrs.values.data(), ptrs.keys.size()));
    Check(g_ort->SessionOptionsAppendExecutionProvider_CUDA_V2(options, cuda));
  } catch (const OrtFailure& failure) {
    throw OrtFailure(failure.code, std::string(failure.what()) + BesideCoreHint("CUDA", "cuda"));
  }
  std::lock_guard<std::mutex> lock(g_route_mutex);
  g_cuda_route = "built-in";
}

void AppendTensorRt(OrtSessionOptions* options, const ProviderConfig& p) {
  try {
    OrtTensorRTProviderOptionsV2* trt = nullptr;
    Check(g_ort->CreateTensorRTProviderOptions(&trt));
    std::unique_ptr<OrtTensorRTProviderOptionsV2, void (*)(OrtTensorRTProviderOptionsV2*)> owner(
        trt, [](OrtTensorRTProviderOptionsV2* o) { g_ort->ReleaseTensorRTProviderOptions(o); });
    Pointers ptrs(p);
    Check(g_ort->UpdateTensorRTProviderOptions(trt, ptrs.keys.data(), ptrs.values.data(), ptrs.keys.size()));
    Check(g_ort->SessionOptionsAppendExecutionProvider_TensorRT_V2(options, trt));
  } catch (const OrtFailure& failure) {
    throw OrtFailure(failure.code, std::string(failure.what()) + BesideCoreHint("TensorRT", "tensorrt"));
  }
}

void Append(OrtSessionOptions* options, OrtEnv* env, const ProviderConfig& p) {
  if (p.kind == "cpu") return AppendCpu(options, p);
  if (p.kind == "cuda") return AppendCuda(options, env, p);
  if (p.kind == "tensorrt") return AppendTensorRt(options, p);
  Pointers ptrs(p);
  Check(g_ort->SessionOptionsAppendExecutionProvider(options, p.name.c_str(), ptrs.keys.data(), ptrs.values.data(),
                                                     ptrs.keys.size()));
}

std::vector<std::string> Strings(Napi::Env env, Napi::Value value, const char* what) {
  std::vector<std::string> out;
  if (value.IsUndefined()) return out;
  if (!value.IsArray()) throw Napi::TypeError::New(env, std::string("executionProviders: ") + what + " must be an array of strings");
  Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value item = array.Get(i);
    if (!item.IsString()) throw Napi::TypeError::New(env, std::string("executionProviders: ") + what + " must be an array of strings");
    out.push_back(item.As<Napi::String>().Utf8Value());
  }
  return out;
}

}  // namespace

bool CoreHasCuda(std::string* why) {
  OrtCUDAProviderOptionsV2* cuda = nullptr;
  OrtStatus* status = g_ort->CreateCUDAProviderOptions(&cuda);
  if (status != nullptr) {
    *why = Message(status);
    return false;
  }
  g_ort->ReleaseCUDAProviderOptions(cuda);
  return true;
}

const OrtEpDevice* CudaPluginDevice(OrtEnv* env, const std::string& library_path, size_t device) {
  RequireCudaCore();  // never a provider library on a core that cannot host it
  {
    std::lock_guard<std::mutex> lock(g_route_mutex);
    if (g_registered_libraries.insert(library_path).second) {
      OrtStatus* status = g_ort->RegisterExecutionProviderLibrary(env, "CUDA", library_path.c_str());
      if (status != nullptr) {
        g_registered_libraries.erase(library_path);
        std::string why = Message(status);
        // A provider library built on ONNX Runtime's provider bridge finds the core through
        // libonnxruntime_providers_shared.so, which the core loads from its own folder only.
        std::string dir = Library().path.substr(0, Library().path.rfind('/') + 1);
        std::string hint = why.find("Provider_GetHost") != std::string::npos
                               ? " (the loaded core has no libonnxruntime_providers_shared.so beside it, in " + dir +
                                     ", and ONNX Runtime loads a provider library only through it: copy one there from "
                                     "ort-napi's prebuilds/linux-x64/ or from an ONNX Runtime package of the same version)"
                               : " (it needs the CUDA 13 libraries libcudart.so.13, libcublas.so.13, libcublasLt.so.13, "
                                 "libcurand.so.10 and cuDNN 9 where the loader finds them)";
        throw OrtFailure(ORT_EP_FAIL, "could not load the CUDA provider library '" + library_path + "': " + why + hint);
      }
    }
  }
  const OrtEpDevice* const* devices = nullptr;
  size_t count = 0;
  Check(g_ort->GetEpDevices(env, &devices, &count));
  std::vector<const OrtEpDevice*> cuda;
  for (size_t i = 0; i < count; ++i)
    if (std::string(g_ort->EpDevice_EpName(devices[i])) == "CUDAExecutionProvider") cuda.push_back(devices[i]);
  if (device >= cuda.size()) {
    throw OrtFailure(ORT_EP_FAIL, "the CUDA provider library '" + library_path + "' found " + std::to_string(cuda.size()) +
                                      " CUDA device(s), so there is no deviceId " + std::to_string(device));
  }
  return cuda[device];
}

std::vector<ProviderConfig> ProvidersFromJs(Napi::Env env, Napi::Value value) {
  std::vector<ProviderConfig> providers;
  if (value.IsUndefined()) return providers;
  if (!value.IsArray()) throw Napi::TypeError::New(env, "executionProviders must be an array");
  Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); ++i) {
    if (!array.Get(i).IsObject()) throw Napi::TypeError::New(env, "executionProviders entries must be objects");
    Napi::Object entry = array.Get(i).As<Napi::Object>();
    ProviderConfig p;
    p.kind = entry.Get("kind").ToString().Utf8Value();
    if (p.kind != "cpu" && p.kind != "cuda" && p.kind != "tensorrt" && p.kind != "generic")
      throw Napi::TypeError::New(env, "executionProviders: unknown kind '" + p.kind + "'");
    if (entry.Get("name").IsString()) p.name = entry.Get("name").As<Napi::String>().Utf8Value();
    p.keys = Strings(env, entry.Get("keys"), "keys");
    p.values = Strings(env, entry.Get("values"), "values");
    if (p.keys.size() != p.values.size()) throw Napi::TypeError::New(env, "executionProviders: keys and values differ in length");
    if (entry.Get("useArena").IsBoolean()) p.use_arena = entry.Get("useArena").As<Napi::Boolean>().Value() ? 1 : 0;
    if (entry.Get("libraryPath").IsString()) p.library_path = entry.Get("libraryPath").As<Napi::String>().Utf8Value();
    p.fallback = entry.Get("fallback").ToBoolean().Value();
    providers.push_back(std::move(p));
  }
  return providers;
}

void AppendProviders(OrtSessionOptions* options, OrtEnv* env, const std::vector<ProviderConfig>& providers) {
  for (const ProviderConfig& p : providers) {
    const std::string label = p.kind == "generic" ? p.name : p.kind;
    try {
      Append(options, env, p);
    } catch (const OrtFailure& failure) {
      std::string message = "execution provider '" + label + "' is unavailable: " + failure.what();
      if (!p.fallback) throw OrtFailure(failure.code == ORT_FAIL ? ORT_EP_FAIL : failure.code, message);
      LogFromAddon(ORT_LOGGING_LEVEL_WARNING, message + "; falling back to the next provider");
    }
  }
}

std::string CudaRoute() {
  std::lock_guard<std::mutex> lock(g_route_mutex);
  return g_cuda_route;
}

}  // namespace ortn
