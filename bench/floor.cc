// floor.cc: the floor the bindings are measured against: ONNX Runtime's C API called from C++ in a
// tight loop over preallocated inputs, on the same libonnxruntime, model, feeds and session options
// as the bindings. Never shipped.
//
// usage: ort_floor <libonnxruntime.so> <intraOpNumThreads>
// A long-lived process, so that the bench can interleave it with the bindings block by block. It
// reads one command a line on stdin and answers each with one JSON line on stdout:
//   load <id> <model.onnx> <feeds.bin> [nohuge]
//                                        a session and its feeds (format: encodeFeeds in models.ts);
//                                        warms the session up with 10 runs
//   run <id> <iterations>                that many Runs, each timed alone: {"medianUs","meanUs","p90Us"}
//   pin <cpus> [tid ...]                 pins the floor's own thread (no tids) or those threads (of any
//                                        process of this user: the bench's node) to <cpus>, a CPU or a
//                                        comma-separated list of them, -1 for any (Linux)
//   quit
// Session options are the ones the bench gives the bindings, set explicitly: intraOpNumThreads,
// sequential execution, all graph optimizations, the CPU memory arena and memory patterns on (ONNX
// Runtime's defaults, which ort-napi and onnxruntime-node keep). Each Run lets ONNX Runtime allocate
// the outputs, as the bindings do, and releases them inside the timed region.
// The load is bracketed as ort-napi's is by default (native/huge_pages.cc, the same code): what it
// filled is collapsed onto huge pages, so that the floor's weights sit in memory as the addon's do
// and the ratio measures the binding, not the placement. `load ... nohuge` leaves them on small
// pages (onnxruntime-node's placement, and ort-napi's with `hugePages: false`).
#include <onnxruntime_c_api.h>

#include "huge_pages.h"

#include <dlfcn.h>
#ifdef __linux__
#include <sched.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

static const OrtApi* ort = nullptr;

static void Check(OrtStatus* status) {
  if (status == nullptr) return;
  std::string message = ort->GetErrorMessage(status);
  ort->ReleaseStatus(status);
  throw std::runtime_error(message);
}

struct Loaded {
  OrtSession* session = nullptr;
  std::vector<std::string> input_names, output_names;
  std::vector<std::vector<char>> buffers;
  std::vector<OrtValue*> inputs;
  std::vector<const char*> in_names, out_names;
};

/** Reads feeds.bin: u32 count; per input u32 name length, name, i32 type, u32 rank, i64 dims, u64 bytes, data. */
static void ReadFeeds(const std::string& path, Loaded& loaded, OrtMemoryInfo* memory) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  auto read = [&](void* to, size_t n) {
    if (!in.read(static_cast<char*>(to), static_cast<std::streamsize>(n))) throw std::runtime_error("truncated " + path);
  };
  uint32_t count = 0;
  read(&count, 4);
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t name_length = 0, rank = 0;
    int32_t type = 0;
    uint64_t bytes = 0;
    read(&name_length, 4);
    std::string name(name_length, '\0');
    read(name.data(), name_length);
    read(&type, 4);
    read(&rank, 4);
    std::vector<int64_t> dims(rank);
    read(dims.data(), rank * sizeof(int64_t));
    read(&bytes, 8);
    loaded.buffers.emplace_back(bytes);
    read(loaded.buffers.back().data(), bytes);
    OrtValue* value = nullptr;
    Check(ort->CreateTensorWithDataAsOrtValue(memory, loaded.buffers.back().data(), bytes, dims.data(), rank,
                                              static_cast<ONNXTensorElementDataType>(type), &value));
    loaded.input_names.push_back(name);
    loaded.inputs.push_back(value);
  }
}

static void RunOnce(Loaded& s) {
  std::vector<OrtValue*> outputs(s.out_names.size(), nullptr);
  Check(ort->Run(s.session, nullptr, s.in_names.data(), s.inputs.data(), s.inputs.size(), s.out_names.data(),
                 s.out_names.size(), outputs.data()));
  for (OrtValue* v : outputs) ort->ReleaseValue(v);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <libonnxruntime.so> <intraOpNumThreads>\n", argv[0]);
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
  const int threads = std::atoi(argv[2]);

  OrtEnv* env = nullptr;
  OrtSessionOptions* options = nullptr;
  OrtMemoryInfo* memory = nullptr;
  OrtAllocator* allocator = nullptr;
  try {
    Check(ort->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "floor", &env));
    Check(ort->CreateSessionOptions(&options));
    if (threads >= 0) Check(ort->SetIntraOpNumThreads(options, threads));
    Check(ort->SetSessionExecutionMode(options, ORT_SEQUENTIAL));
    Check(ort->SetSessionGraphOptimizationLevel(options, ORT_ENABLE_ALL));
    Check(ort->EnableCpuMemArena(options));
    Check(ort->EnableMemPattern(options));
    Check(ort->CreateCpuMemoryInfo(OrtDeviceAllocator, OrtMemTypeDefault, &memory));
    Check(ort->GetAllocatorWithDefaultOptions(&allocator));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ONNX Runtime: %s\n", e.what());
    return 2;
  }

  std::map<std::string, std::unique_ptr<Loaded>> sessions;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream words(line);
    std::string command, id;
    words >> command >> id;
    try {
      if (command == "quit") break;
      if (command == "load") {
        std::string model, feeds, placement;
        words >> model >> feeds >> placement;
        auto s = std::make_unique<Loaded>();
        const bool huge = placement != "nohuge";
        const ortn::AnonymousMappings before = huge ? ortn::AnonymousMappings::Read() : ortn::AnonymousMappings{};
        const auto started = ortn::ThreadCpuTime();
        Check(ort->CreateSession(env, model.c_str(), options, &s->session));
        if (huge) ortn::CollapseGrownMappings(before, ortn::CollapseBudget(ortn::ThreadCpuTime() - started));
        ReadFeeds(feeds, *s, memory);
        size_t output_count = 0;
        Check(ort->SessionGetOutputCount(s->session, &output_count));
        for (size_t i = 0; i < output_count; ++i) {
          char* name = nullptr;
          Check(ort->SessionGetOutputName(s->session, i, allocator, &name));
          s->output_names.push_back(name);
          Check(ort->AllocatorFree(allocator, name));
        }
        for (auto& n : s->input_names) s->in_names.push_back(n.c_str());
        for (auto& n : s->output_names) s->out_names.push_back(n.c_str());
        for (int i = 0; i < 10; ++i) RunOnce(*s);
        sessions[id] = std::move(s);
        std::printf("{\"ok\":true}\n");
      } else if (command == "run") {
        int iterations = 0;
        words >> iterations;
        auto found = sessions.find(id);
        if (found == sessions.end() || iterations <= 0) throw std::runtime_error("bad run command: " + line);
        std::vector<double> times(iterations);
        for (int it = 0; it < iterations; ++it) {
          auto start = std::chrono::steady_clock::now();
          RunOnce(*found->second);
          times[it] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
        }
        const double mean = std::accumulate(times.begin(), times.end(), 0.0) / iterations;
        std::sort(times.begin(), times.end());
        std::printf("{\"medianUs\":%.4f,\"meanUs\":%.4f,\"p90Us\":%.4f}\n", times[times.size() / 2], mean,
                    times[static_cast<size_t>(times.size() * 0.9)]);
      } else if (command == "pin") {
        // `id` is the CPUs. A virtual machine's vCPUs need not be alike (on other hosts' cores, or
        // beside busier neighbours): the bench measures the floor on each (run.ts, "vCPUs") and runs
        // every side of a repeat on the same one (compare.ts, "Placement").
#ifdef __linux__
        cpu_set_t set;
        CPU_ZERO(&set);
        const int cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
        if (id == "-1") {
          for (int c = 0; c < cpus; ++c) CPU_SET(c, &set);
        } else {
          std::istringstream list(id);
          for (std::string cpu; std::getline(list, cpu, ',');) {
            const int c = std::stoi(cpu);
            if (c < 0 || c >= CPU_SETSIZE) throw std::runtime_error("no such CPU: " + cpu);
            CPU_SET(c, &set);
          }
        }
        std::vector<pid_t> threads;
        for (long tid; words >> tid;) threads.push_back(static_cast<pid_t>(tid));
        if (threads.empty()) threads.push_back(0);  // this thread
        for (pid_t tid : threads)
          if (sched_setaffinity(tid, sizeof set, &set) != 0)
            throw std::runtime_error("sched_setaffinity(" + std::to_string(tid) + "): " + std::strerror(errno));
        std::printf("{\"ok\":true}\n");
#else
        throw std::runtime_error("pin is Linux's");
#endif
      } else {
        throw std::runtime_error("unknown command: " + line);
      }
    } catch (const std::exception& e) {
      std::string message = e.what();
      std::replace(message.begin(), message.end(), '"', '\'');
      std::replace(message.begin(), message.end(), '\n', ' ');
      std::printf("{\"error\":\"%s\"}\n", message.c_str());
    }
    std::fflush(stdout);
  }
  for (auto& [id, s] : sessions) {
    for (OrtValue* v : s->inputs) ort->ReleaseValue(v);
    ort->ReleaseSession(s->session);
  }
  ort->ReleaseMemoryInfo(memory);
  ort->ReleaseSessionOptions(options);
  ort->ReleaseEnv(env);
  return 0;
}
