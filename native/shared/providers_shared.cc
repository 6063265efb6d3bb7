// libonnxruntime_providers_shared.so: the rendezvous between an ONNX Runtime core and the provider
// libraries built on its provider bridge (CUDA, TensorRT, ...). A core loads this library from its
// own folder with global symbols and hands it the core's ProviderHost (Provider_SetHost); a provider
// library, loaded after it, asks for that host (Provider_GetHost) and reaches the core through it.
// Without it beside the core, ONNX Runtime cannot load the CUDA provider ("undefined symbol:
// Provider_GetHost"). ONNX Runtime's packages ship it beside their cores; the cores ort-napi bundles
// come without one, so ort-napi builds it (scripts/prebuild.mjs) and ships it beside them.
// The two entry points are ONNX Runtime's provider-bridge ABI; the host is opaque here.
namespace onnxruntime {
struct ProviderHost;
}

namespace {
onnxruntime::ProviderHost* g_host = nullptr;
}

extern "C" __attribute__((visibility("default"))) onnxruntime::ProviderHost* Provider_GetHost() { return g_host; }

extern "C" __attribute__((visibility("default"))) void Provider_SetHost(onnxruntime::ProviderHost* host) { g_host = host; }
