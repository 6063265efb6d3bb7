// floor.cc: the floor the bindings are measured against: ONNX Runtime's C API called from C++ in a
// tight loop over preallocated inputs, on the same libonnxruntime and model. Never shipped.
//
// usage: ort_floor <libonnxruntime.so> <model.onnx> <batch> <iterations> <intraOpNumThreads>
// Every float input gets its dynamic dims set to <batch> and is filled with fixed values; each Run
// lets ONNX Runtime allocate the outputs, as the bindings do. Prints one JSON line of per-run times.
#include <onnxruntime_c_api.h>

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

static const OrtApi* ort = nullptr;

static void Check(OrtStatus* status) {
  if (status == nullptr) return;
  std::fprintf(stderr, "ONNX Runtime: %s\n", ort->GetErrorMessage(status));
  std::exit(2);
}

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s <libonnxruntime.so> <model.onnx> <batch> <iterations> <intraOpNumThreads>\n", argv[0]);
    return 1;
  }
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    std::fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  auto get_base = reinterpret_cast<const OrtApiBase* (*)()>(dlsym(lib, "OrtGetApiBase"));
  if (get_base == nullptr || (ort = get_base()->GetApi(ORT_API_VERSION)) == nullptr) {
    std::fprintf(stderr, "%s is not ONNX Runtime %d or newer\n", argv[1], ORT_API_VERSION);
    return 1;
  }
  const int64_t batch = std::atoll(argv[3]);
  const int iterations = std::atoi(argv[4]);
  const int threads = std::atoi(argv[5]);

  OrtEnv* env = nullptr;
  Check(ort->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "floor", &env));
  OrtSessionOptions* options = nullptr;
  Check(ort->CreateSessionOptions(&options));
  if (threads >= 0) Check(ort->SetIntraOpNumThreads(options, threads));
  OrtSession* session = nullptr;
  Check(ort->CreateSession(env, argv[2], options, &session));
  OrtAllocator* allocator = nullptr;
  Check(ort->GetAllocatorWithDefaultOptions(&allocator));
  OrtMemoryInfo* memory = nullptr;
  Check(ort->CreateCpuMemoryInfo(OrtDeviceAllocator, OrtMemTypeDefault, &memory));

  size_t input_count = 0, output_count = 0;
  Check(ort->SessionGetInputCount(session, &input_count));
  Check(ort->SessionGetOutputCount(session, &output_count));
  std::vector<std::string> input_names(input_count), output_names(output_count);
  std::vector<std::vector<float>> buffers(input_count);
  std::vector<OrtValue*> inputs(input_count);
  for (size_t i = 0; i < input_count; ++i) {
    char* name = nullptr;
    Check(ort->SessionGetInputName(session, i, allocator, &name));
    input_names[i] = name;
    Check(ort->AllocatorFree(allocator, name));
    OrtTypeInfo* type_info = nullptr;
    Check(ort->SessionGetInputTypeInfo(session, i, &type_info));
    const OrtTensorTypeAndShapeInfo* tensor = nullptr;
    Check(ort->CastTypeInfoToTensorInfo(type_info, &tensor));
    size_t rank = 0;
    Check(ort->GetDimensionsCount(tensor, &rank));
    std::vector<int64_t> dims(rank);
    Check(ort->GetDimensions(tensor, dims.data(), rank));
    size_t count = 1;
    for (int64_t& d : dims) {
      if (d < 0) d = batch;
      count *= static_cast<size_t>(d);
    }
    buffers[i].resize(count);
    for (size_t k = 0; k < count; ++k) buffers[i][k] = static_cast<float>((k * 7919) % 1000) / 1000.0f - 0.5f;
    Check(ort->CreateTensorWithDataAsOrtValue(memory, buffers[i].data(), count * sizeof(float), dims.data(), rank,
                                              ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &inputs[i]));
    ort->ReleaseTypeInfo(type_info);
  }
  for (size_t i = 0; i < output_count; ++i) {
    char* name = nullptr;
    Check(ort->SessionGetOutputName(session, i, allocator, &name));
    output_names[i] = name;
    Check(ort->AllocatorFree(allocator, name));
  }
  std::vector<const char*> in_names, out_names;
  for (auto& n : input_names) in_names.push_back(n.c_str());
  for (auto& n : output_names) out_names.push_back(n.c_str());

  std::vector<double> times;
  times.reserve(iterations);
  const int warmup = std::max(10, iterations / 10);
  for (int it = -warmup; it < iterations; ++it) {
    std::vector<OrtValue*> outputs(output_count, nullptr);
    auto start = std::chrono::steady_clock::now();
    Check(ort->Run(session, nullptr, in_names.data(), inputs.data(), input_count, out_names.data(), output_count,
                   outputs.data()));
    for (OrtValue* v : outputs) ort->ReleaseValue(v);
    auto end = std::chrono::steady_clock::now();
    if (it >= 0) times.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  std::sort(times.begin(), times.end());
  std::printf("{\"medianUs\":%.3f,\"p90Us\":%.3f,\"runs\":%d}\n", times[times.size() / 2],
              times[static_cast<size_t>(times.size() * 0.9)], iterations);
  for (OrtValue* v : inputs) ort->ReleaseValue(v);
  ort->ReleaseSession(session);
  ort->ReleaseSessionOptions(options);
  ort->ReleaseEnv(env);
  return 0;
}
