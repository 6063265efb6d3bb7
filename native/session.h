// session.h: SessionWrap, the JS object over one OrtSession, with its async load and its runs.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "env.h"
#include "ort_api.h"
#include "value.h"

namespace ortn {

// The full type of a value: tensors, and sequences, maps and optionals of them, nested.
struct TypeDesc {
  ONNXType kind = ONNX_TYPE_UNKNOWN;
  ONNXTensorElementDataType element = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;  // tensors
  std::vector<int64_t> dims;                                                      // tensors
  std::vector<std::string> symbolic;                                              // tensors
  bool ranked = true;  // false: the model gives a tensor no shape at all (any rank)
  ONNXTensorElementDataType key = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;      // maps
  std::shared_ptr<TypeDesc> inner;  // a sequence's element, a map's value, an optional's content
};

struct ValueInfo {
  std::string name;
  std::shared_ptr<TypeDesc> desc;
};

struct ModelInfo {
  std::string producer_name, graph_name, domain, description, graph_description;
  int64_t version = 0;
  std::vector<std::pair<std::string, std::string>> custom;
};

// The OrtSession and what was read from it at load. Shared by the JS object and every run in
// flight, so a release or a garbage collection never frees it under a running inference.
struct SessionCore {
  std::shared_ptr<OrtEnvHandle> env;  // outlives the session
  OrtSession* session = nullptr;
  std::vector<ValueInfo> inputs, outputs;
  ModelInfo model;
  std::vector<std::shared_ptr<OwnedTensor>> initializers;  // AddInitializer's values live as long as the session
  std::vector<char> model_bytes;  // a copy of the model, where ONNX Runtime reads it after the load
  size_t huge_page_bytes = 0;     // of the load's memory, collapsed onto huge pages (huge_pages.h)
  unsigned run_threads = 0;       // the threads a Run computes on, 0 if they may be every core (runner.h)

  // What this session's Run calls take: a moving average of Run alone (any thread writes it; a lost
  // update between two runners only delays the average by one run). See ShortRuns.
  void RecordRun(int64_t nanos) noexcept;
  // Whether its runs are shorter than a hand-off to a runner thread and back (ORT_NAPI_INLINE_RUN_US,
  // 30 µs by default; 0 turns it off): such a run may execute on the caller's thread (SessionWrap::Run).
  bool ShortRuns() const noexcept;

  std::atomic<int64_t> run_nanos{0};
  // How far past run_nanos a run ends, and how far before it, that 19 runs in 20 stay within:
  // estimates of the 95th percentile of each, following the runs (RecordRun). They bound the wait
  // for a lone run's result (runner.h).
  std::atomic<int64_t> run_late_nanos{0};
  std::atomic<int64_t> run_early_nanos{0};
  std::atomic<uint32_t> runs_measured{0};

  SessionCore() = default;
  SessionCore(const SessionCore&) = delete;
  SessionCore& operator=(const SessionCore&) = delete;
  ~SessionCore() {
    if (session != nullptr) g_ort->ReleaseSession(session);
  }
};

class SessionWrap : public Napi::ObjectWrap<SessionWrap> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  // [async] createSession(pathOrBytes, options) -> Promise<Session>
  static Napi::Value Create(const Napi::CallbackInfo& info);
  static Napi::Object NewInstance(Napi::Env env, std::shared_ptr<SessionCore> core);

  explicit SessionWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Metadata(const Napi::CallbackInfo& info);  // [sync]
  // What to run is in `descriptor` (RunCall::Prepare); `slots` holds its data.
  Napi::Value Run(const Napi::CallbackInfo& info);      // [async] run(descriptor, slots, runOptions[, inline, onlyInline])
  Napi::Value RunSync(const Napi::CallbackInfo& info);  // [sync]  runSync(descriptor, slots, runOptions)
  Napi::Value Release(const Napi::CallbackInfo& info);   // [sync]  drops this object's share
  Napi::Value EndProfiling(const Napi::CallbackInfo& info);  // [sync] writes the profile, returns its path
  // [sync] [runs measured (up to 3), average run ns, late ns, early ns] (SessionCore): for tests.
  Napi::Value RunTimes(const Napi::CallbackInfo& info);
  Napi::Value CreateIoBinding(const Napi::CallbackInfo& info);  // [sync] -> IoBinding
  std::shared_ptr<SessionCore> Live(const Napi::CallbackInfo& info);

  std::shared_ptr<SessionCore> core_;
};

}  // namespace ortn
