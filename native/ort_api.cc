// ort_api.cc: finds libonnxruntime at run time so users can point the addon at any compatible build.
#include "ort_api.h"

#include <dlfcn.h>

#include <mutex>

namespace ortn {

const OrtApi* g_ort = nullptr;

namespace {
std::mutex g_load_mutex;
LibraryInfo g_library;
void* g_handle = nullptr;
}  // namespace

std::string LoadOrt(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_load_mutex);
  if (g_ort != nullptr) {
    if (path == g_library.path) return "";
    return "ONNX Runtime is already loaded from '" + g_library.path + "' (version " + g_library.version +
           "); a process can load only one, so '" + path + "' was not loaded";
  }
  // RTLD_LOCAL: ONNX Runtime's symbols stay out of the global namespace, away from other addons.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return "could not load ONNX Runtime from '" + path + "': " + (why ? why : "unknown dlopen error");
  }
  using GetApiBaseFn = const OrtApiBase* (*)();
  auto get_api_base = reinterpret_cast<GetApiBaseFn>(dlsym(handle, "OrtGetApiBase"));
  if (get_api_base == nullptr) {
    dlclose(handle);
    return "'" + path + "' is not ONNX Runtime: it has no OrtGetApiBase symbol";
  }
  const OrtApiBase* base = get_api_base();
  std::string version = base->GetVersionString ? base->GetVersionString() : "unknown";
  const OrtApi* api = base->GetApi(ORT_API_VERSION);
  if (api == nullptr) {
    dlclose(handle);
    return "ONNX Runtime at '" + path + "' is version " + version + ", which does not provide API version " +
           std::to_string(ORT_API_VERSION) + "; ort-napi needs ONNX Runtime 1." + std::to_string(ORT_API_VERSION) +
           " or newer";
  }
  // The handle is kept for the life of the process: OrtValues handed to JS may outlive everything else.
  g_library.path = path;
  g_library.version = version;
  g_handle = handle;
  g_ort = api;
  return "";
}

bool OrtLoaded() { return g_ort != nullptr; }

void* OrtSymbol(const char* name) { return g_handle ? dlsym(g_handle, name) : nullptr; }

const LibraryInfo& Library() { return g_library; }

const char* ErrorCodeName(OrtErrorCode code) {
  switch (code) {
    case ORT_OK: return "OK";
    case ORT_FAIL: return "FAIL";
    case ORT_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case ORT_NO_SUCHFILE: return "NO_SUCHFILE";
    case ORT_NO_MODEL: return "NO_MODEL";
    case ORT_ENGINE_ERROR: return "ENGINE_ERROR";
    case ORT_RUNTIME_EXCEPTION: return "RUNTIME_EXCEPTION";
    case ORT_INVALID_PROTOBUF: return "INVALID_PROTOBUF";
    case ORT_MODEL_LOADED: return "MODEL_LOADED";
    case ORT_NOT_IMPLEMENTED: return "NOT_IMPLEMENTED";
    case ORT_INVALID_GRAPH: return "INVALID_GRAPH";
    case ORT_EP_FAIL: return "EP_FAIL";
    case ORT_MODEL_LOAD_CANCELED: return "MODEL_LOAD_CANCELED";
    case ORT_MODEL_REQUIRES_COMPILATION: return "MODEL_REQUIRES_COMPILATION";
    case ORT_NOT_FOUND: return "NOT_FOUND";
    case ORT_DEVICE_RESET: return "DEVICE_RESET";
  }
  return "FAIL";
}

size_t ElementSize(ONNXTensorElementDataType type) {
  switch (type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E4M3FN:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E4M3FNUZ:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E5M2:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E5M2FNUZ:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT4:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT4:
      return 1;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16:
      return 2;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32:
      return 4;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64:
      return 8;
    default:
      return 0;
  }
}

size_t StorageUnits(ONNXTensorElementDataType type, size_t count) {
  bool packed = type == ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT4 || type == ONNX_TENSOR_ELEMENT_DATA_TYPE_INT4;
  return packed ? (count + 1) / 2 : count;
}

}  // namespace ortn
