// session.cc: loading a session off the main thread, its metadata, and the JS methods over it.
#include "session.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <optional>

#include "addon.h"
#include "huge_pages.h"
#include "io_binding.h"
#include "options.h"
#include "run.h"

namespace ortn {

namespace {

// A string ONNX Runtime allocated with `allocator`, copied and freed.
std::string TakeString(OrtAllocator* allocator, char* text) {
  std::string copy = text != nullptr ? text : "";
  if (text != nullptr) g_ort->ReleaseStatus(g_ort->AllocatorFree(allocator, text));
  return copy;
}

std::shared_ptr<TypeDesc> ReadTypeDesc(const OrtTypeInfo* type_info) {
  auto desc = std::make_shared<TypeDesc>();
  Check(g_ort->GetOnnxTypeFromTypeInfo(type_info, &desc->kind));
  auto owned = [](OrtTypeInfo* p) { return std::unique_ptr<OrtTypeInfo, void (*)(OrtTypeInfo*)>(p, [](OrtTypeInfo* q) { g_ort->ReleaseTypeInfo(q); }); };
  switch (desc->kind) {
    case ONNX_TYPE_TENSOR: {
      const OrtTensorTypeAndShapeInfo* tensor = nullptr;  // owned by type_info
      Check(g_ort->CastTypeInfoToTensorInfo(type_info, &tensor));
      size_t rank = 0;
      Check(g_ort->GetTensorElementType(tensor, &desc->element));
      Check(g_ort->GetDimensionsCount(tensor, &rank));
      desc->dims.resize(rank);
      std::vector<const char*> symbolic(rank, nullptr);
      Check(g_ort->GetDimensions(tensor, desc->dims.data(), rank));
      Check(g_ort->GetSymbolicDimensions(tensor, symbolic.data(), rank));
      for (const char* name : symbolic) desc->symbolic.emplace_back(name != nullptr ? name : "");
      desc->ranked = g_ort->TensorTypeAndShape_HasShape(tensor);
      break;
    }
    case ONNX_TYPE_SEQUENCE: {
      const OrtSequenceTypeInfo* sequence = nullptr;
      Check(g_ort->CastTypeInfoToSequenceTypeInfo(type_info, &sequence));
      OrtTypeInfo* element = nullptr;
      Check(g_ort->GetSequenceElementType(sequence, &element));
      desc->inner = ReadTypeDesc(owned(element).get());
      break;
    }
    case ONNX_TYPE_MAP: {
      const OrtMapTypeInfo* map = nullptr;
      Check(g_ort->CastTypeInfoToMapTypeInfo(type_info, &map));
      Check(g_ort->GetMapKeyType(map, &desc->key));
      OrtTypeInfo* value = nullptr;
      Check(g_ort->GetMapValueType(map, &value));
      desc->inner = ReadTypeDesc(owned(value).get());
      break;
    }
    case ONNX_TYPE_OPTIONAL: {
      const OrtOptionalTypeInfo* optional = nullptr;
      Check(g_ort->CastTypeInfoToOptionalTypeInfo(type_info, &optional));
      OrtTypeInfo* contained = nullptr;
      Check(g_ort->GetOptionalContainedTypeInfo(optional, &contained));
      desc->inner = ReadTypeDesc(owned(contained).get());
      break;
    }
    default:
      break;
  }
  return desc;
}

ValueInfo ReadValueInfo(OrtSession* session, size_t index, bool input, OrtAllocator* allocator) {
  ValueInfo info;
  char* name = nullptr;
  Check(input ? g_ort->SessionGetInputName(session, index, allocator, &name)
              : g_ort->SessionGetOutputName(session, index, allocator, &name));
  info.name = TakeString(allocator, name);
  OrtTypeInfo* type_info = nullptr;
  Check(input ? g_ort->SessionGetInputTypeInfo(session, index, &type_info)
              : g_ort->SessionGetOutputTypeInfo(session, index, &type_info));
  std::unique_ptr<OrtTypeInfo, void (*)(OrtTypeInfo*)> owner(type_info,
                                                               [](OrtTypeInfo* p) { g_ort->ReleaseTypeInfo(p); });
  info.desc = ReadTypeDesc(type_info);
  return info;
}

ModelInfo ReadModelInfo(OrtSession* session, OrtAllocator* allocator) {
  ModelInfo model;
  OrtModelMetadata* metadata = nullptr;
  Check(g_ort->SessionGetModelMetadata(session, &metadata));
  std::unique_ptr<OrtModelMetadata, void (*)(OrtModelMetadata*)> owner(
      metadata, [](OrtModelMetadata* p) { g_ort->ReleaseModelMetadata(p); });
  char* text = nullptr;
  Check(g_ort->ModelMetadataGetProducerName(metadata, allocator, &text));
  model.producer_name = TakeString(allocator, text);
  Check(g_ort->ModelMetadataGetGraphName(metadata, allocator, &text));
  model.graph_name = TakeString(allocator, text);
  Check(g_ort->ModelMetadataGetDomain(metadata, allocator, &text));
  model.domain = TakeString(allocator, text);
  Check(g_ort->ModelMetadataGetDescription(metadata, allocator, &text));
  model.description = TakeString(allocator, text);
  Check(g_ort->ModelMetadataGetGraphDescription(metadata, allocator, &text));
  model.graph_description = TakeString(allocator, text);
  Check(g_ort->ModelMetadataGetVersion(metadata, &model.version));
  char** keys = nullptr;
  int64_t key_count = 0;
  Check(g_ort->ModelMetadataGetCustomMetadataMapKeys(metadata, allocator, &keys, &key_count));
  for (int64_t i = 0; i < key_count; ++i) {
    std::string key = TakeString(allocator, keys[i]);
    char* value = nullptr;
    Check(g_ort->ModelMetadataLookupCustomMetadataMap(metadata, allocator, key.c_str(), &value));
    model.custom.emplace_back(key, TakeString(allocator, value));
  }
  if (keys != nullptr) g_ort->ReleaseStatus(g_ort->AllocatorFree(allocator, keys));
  return model;
}

// Whether ONNX Runtime will keep reading the model's bytes after the load (an ORT-format model
// whose config entries ask it to use the bytes in place).
bool KeepsModelBytes(const SessionConfig& config) {
  for (const auto& [key, value] : config.config_entries)
    if ((key == "session.use_ort_model_bytes_directly" || key == "session.use_ort_model_bytes_for_initializers") &&
        value == "1")
      return true;
  return false;
}

// Whether a load could fill a huge page's worth of memory. A model of under 2 MiB cannot, and is
// spared the two reads of /proc/self/maps (0.3 ms each), unless its weights live elsewhere: in
// external data given in memory (counted), or in files beside a model read from a path, which it
// names with a "location" entry (a model file that does not hold the word has none).
bool MayFillHugePages(const std::string& path, const void* bytes, size_t length, const SessionConfig& config) {
  if (!HugePagesSupported()) return false;
  if (bytes != nullptr) {
    size_t total = length;
    for (size_t external : config.external_lengths) total += external;
    return total >= kHugePageBytes;
  }
  return ModelFileMayFillHugePages(path.c_str());
}

// Lets another thread cancel a load in progress (SessionOptionsSetLoadCancellationFlag).
class LoadCancel {
 public:
  // While one lives, `options` can be cancelled; it throws at once if the load already was.
  class Scope {
   public:
    Scope(LoadCancel& cancel, OrtSessionOptions* options) : cancel_(cancel) { cancel_.Set(options); }
    ~Scope() { cancel_.Set(nullptr); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    LoadCancel& cancel_;
  };

  void Cancel() noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled_ = true;
    if (options_ != nullptr) g_ort->ReleaseStatus(g_ort->SessionOptionsSetLoadCancellationFlag(options_, true));
  }

 private:
  void Set(OrtSessionOptions* options) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (options != nullptr && cancelled_) throw OrtFailure(ORT_FAIL, "the model load was cancelled: its environment is closing");
    options_ = options;
  }

  std::mutex mutex_;
  OrtSessionOptions* options_ = nullptr;
  bool cancelled_ = false;
};

// Any thread: ONNX Runtime's load, graph optimisation and metadata reads.
std::shared_ptr<SessionCore> LoadSession(std::shared_ptr<OrtEnvHandle> env, const std::string& path, const void* bytes,
                                         size_t length, const SessionConfig& config, LoadCancel& cancel) {
  auto core = std::make_shared<SessionCore>();
  core->env = std::move(env);
  SessionOptionsPtr options = MakeSessionOptions(config, core->env->get());
  for (const auto& entry : config.initializers) core->initializers.push_back(entry.second);
  // Its own intra-op threads, the runner's among them; ONNX Runtime's default is one per core, and
  // global pools or parallel execution may use every core too.
  if (!config.use_global_thread_pools && config.execution_mode != ORT_PARALLEL && config.intra_op_threads > 0)
    core->run_threads = static_cast<unsigned>(config.intra_op_threads);
  if (bytes != nullptr && KeepsModelBytes(config)) {
    // The session reads them for as long as it lives, longer than the caller's array is pinned.
    const char* first = static_cast<const char*>(bytes);
    core->model_bytes.assign(first, first + length);
    bytes = core->model_bytes.data();
  }
  {
    LoadCancel::Scope cancellable(cancel, options.get());
    const bool huge_pages = config.huge_pages && MayFillHugePages(path, bytes, length, config);
    const AnonymousMappings before = huge_pages ? AnonymousMappings::Read() : AnonymousMappings{};
    const auto started = ThreadCpuTime();
    if (bytes != nullptr) {
      Check(g_ort->CreateSessionFromArray(core->env->get(), bytes, length, options.get(), &core->session));
    } else {
      Check(g_ort->CreateSession(core->env->get(), path.c_str(), options.get(), &core->session));
    }
    if (huge_pages)
      core->huge_page_bytes =
          CollapseGrownMappings(before, CollapseBudget(ThreadCpuTime() - started)).collapsed_bytes;
  }
  OrtAllocator* allocator = nullptr;
  Check(g_ort->GetAllocatorWithDefaultOptions(&allocator));
  size_t count = 0;
  Check(g_ort->SessionGetInputCount(core->session, &count));
  for (size_t i = 0; i < count; ++i) core->inputs.push_back(ReadValueInfo(core->session, i, true, allocator));
  Check(g_ort->SessionGetOutputCount(core->session, &count));
  for (size_t i = 0; i < count; ++i) core->outputs.push_back(ReadValueInfo(core->session, i, false, allocator));
  core->model = ReadModelInfo(core->session, allocator);
  return core;
}

class CreateSessionTask : public Task {
 public:
  CreateSessionTask(Napi::Env env, std::shared_ptr<OrtEnvHandle> ort_env, SessionConfig config)
      : Task(env), ort_env_(std::move(ort_env)), config_(std::move(config)) {}

  void SetPath(std::string path) { path_ = std::move(path); }
  // The model's bytes are read in place; the array stays pinned until the load is over.
  void SetBytes(Napi::Env env, Napi::Value array, const void* bytes, size_t length) {
    NAPI_THROW_IF_FAILED_VOID(env, napi_create_reference(env, array, 1, &pin_));
    bytes_ = bytes;
    length_ = length;
  }

  void Execute() noexcept override {
    failure_ = Capture([&] {
      core_ = LoadSession(ort_env_, path_, bytes_, length_, config_, cancel_);
    });
  }

  void Cancel() noexcept override { cancel_.Cancel(); }

  void Complete(Napi::Env env) override {
    if (pin_ != nullptr) napi_delete_reference(env, pin_);
    pin_ = nullptr;
    config_.Unpin(env);
    if (failure_) {
      Reject(env, MakeOrtError(env, *failure_).Value());
    } else {
      Resolve(env, SessionWrap::NewInstance(env, std::move(core_)));
    }
  }

 private:
  std::shared_ptr<OrtEnvHandle> ort_env_;
  SessionConfig config_;
  std::string path_;
  const void* bytes_ = nullptr;
  size_t length_ = 0;
  napi_ref pin_ = nullptr;
  LoadCancel cancel_;
  std::shared_ptr<SessionCore> core_;
  std::optional<OrtFailure> failure_;
};

Napi::Object TypeDescToJs(Napi::Env env, const TypeDesc& desc) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("kind", static_cast<double>(desc.kind));
  object.Set("type", static_cast<double>(desc.element));
  Napi::Array dims = Napi::Array::New(env, desc.dims.size());
  for (uint32_t i = 0; i < desc.dims.size(); ++i) {
    if (!desc.symbolic[i].empty())
      dims.Set(i, desc.symbolic[i]);
    else
      dims.Set(i, static_cast<double>(desc.dims[i]));
  }
  object.Set("dims", dims);
  if (!desc.ranked) object.Set("unranked", true);
  if (desc.kind == ONNX_TYPE_MAP) object.Set("key", static_cast<double>(desc.key));
  if (desc.inner) object.Set("inner", TypeDescToJs(env, *desc.inner));
  return object;
}

Napi::Object ValueInfoToJs(Napi::Env env, const ValueInfo& info) {
  Napi::Object object = TypeDescToJs(env, *info.desc);
  object.Set("name", info.name);
  return object;
}

}  // namespace

Napi::Function SessionWrap::DefineClass(Napi::Env env) {
  return ObjectWrap<SessionWrap>::DefineClass(env, "Session",
                                              {
                                                  InstanceMethod<&SessionWrap::Metadata>("metadata"),
                                                  InstanceMethod<&SessionWrap::Run>("run"),
                                                  InstanceMethod<&SessionWrap::RunSync>("runSync"),
                                                  InstanceMethod<&SessionWrap::Release>("release"),
                                                  InstanceMethod<&SessionWrap::EndProfiling>("endProfiling"),
                                                  InstanceMethod<&SessionWrap::RunTimes>("runTimes"),
                                                  InstanceMethod<&SessionWrap::CreateIoBinding>("createIoBinding"),
                                              });
}

Napi::Value SessionWrap::Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    AddonData& data = AddonData::Of(env);
    auto task = std::make_unique<CreateSessionTask>(env, data.OrtEnvironment(env),
                                                    SessionConfig::FromJs(env, info[1]));
    Napi::Value model = info[0];
    if (model.IsString()) {
      task->SetPath(model.As<Napi::String>().Utf8Value());
    } else if (model.IsTypedArray() && model.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
      Napi::Uint8Array bytes = model.As<Napi::Uint8Array>();
      if (bytes.ByteLength() == 0) throw Napi::TypeError::New(env, "createSession: the model bytes are empty");
      task->SetBytes(env, model, bytes.Data(), bytes.ByteLength());
    } else {
      throw Napi::TypeError::New(env, "createSession: the model must be a path string or a Uint8Array");
    }
    Napi::Value promise(env, task->promise());
    data.port->Submit(task.release());
    return promise;
  });
}

Napi::Object SessionWrap::NewInstance(Napi::Env env, std::shared_ptr<SessionCore> core) {
  auto* holder = new std::shared_ptr<SessionCore>(std::move(core));
  Napi::External<std::shared_ptr<SessionCore>> external = Napi::External<std::shared_ptr<SessionCore>>::New(
      env, holder, [](Napi::Env, std::shared_ptr<SessionCore>* p) { delete p; });
  return AddonData::Of(env).session_class.New({external});
}

SessionWrap::SessionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SessionWrap>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw Napi::TypeError::New(info.Env(), "sessions are made by InferenceSession.create()");
  core_ = *info[0].As<Napi::External<std::shared_ptr<SessionCore>>>().Data();
  info.This().As<Napi::Object>().TypeTag(&SessionTypeTag());
}

std::shared_ptr<SessionCore> SessionWrap::Live(const Napi::CallbackInfo& info) {
  if (!info.This().IsObject() || !info.This().As<Napi::Object>().CheckTypeTag(&SessionTypeTag()))
    throw Napi::TypeError::New(info.Env(), "this is not an ort-napi session");
  if (!core_) throw Napi::Error::New(info.Env(), "the session was released");
  return core_;
}

Napi::Value SessionWrap::Metadata(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<SessionCore> core = Live(info);
  Napi::Array inputs = Napi::Array::New(env, core->inputs.size());
  for (uint32_t i = 0; i < core->inputs.size(); ++i) inputs.Set(i, ValueInfoToJs(env, core->inputs[i]));
  Napi::Array outputs = Napi::Array::New(env, core->outputs.size());
  for (uint32_t i = 0; i < core->outputs.size(); ++i) outputs.Set(i, ValueInfoToJs(env, core->outputs[i]));
  Napi::Object model = Napi::Object::New(env);
  model.Set("producerName", core->model.producer_name);
  model.Set("graphName", core->model.graph_name);
  model.Set("domain", core->model.domain);
  model.Set("description", core->model.description);
  model.Set("graphDescription", core->model.graph_description);
  // ONNX Runtime reports an unset model_version as INT64_MAX.
  if (core->model.version != INT64_MAX) model.Set("version", static_cast<double>(core->model.version));
  Napi::Object custom = Napi::Object::New(env);
  for (const auto& entry : core->model.custom) custom.Set(entry.first, entry.second);
  model.Set("customMetadataMap", custom);
  Napi::Object result = Napi::Object::New(env);
  result.Set("inputs", inputs);
  result.Set("outputs", outputs);
  result.Set("model", model);
  result.Set("hugePageBytes", static_cast<double>(core->huge_page_bytes));
  return result;
}

namespace {

int64_t InlineRunNanos() {
  static const int64_t nanos = [] {
    const char* text = std::getenv("ORT_NAPI_INLINE_RUN_US");
    long micros = text ? std::strtol(text, nullptr, 10) : 30;
    return static_cast<int64_t>(micros < 0 ? 0 : micros > 10000 ? 10000 : micros) * 1000;
  }();
  return nanos;
}

}  // namespace

// A run on the calling thread: runSync, or a short run() (SessionWrap::Run). The caller holds the
// lent arrays for its length, so nothing is pinned.
static Napi::Value RunHere(Napi::Env env, std::shared_ptr<SessionCore> core, const Napi::CallbackInfo& info) {
  RunCall call(std::move(core));
  try {
    call.Prepare(env, info[0], info[1], info[2], false);
    call.Execute();
  } catch (...) {
    call.Unpin(env);
    throw;
  }
  return call.Collect(env, true);
}

void SessionCore::RecordRun(int64_t nanos) noexcept {
  uint32_t seen = runs_measured.load(std::memory_order_relaxed);
  if (seen < 3) runs_measured.store(seen + 1, std::memory_order_relaxed);
  int64_t average = run_nanos.load(std::memory_order_relaxed);
  // The first runs set up kernels and the arena: each replaces the average, and the spread is
  // measured from the third on. Of a session whose runs execute inline, a run far over the bound
  // counts at once (the inputs grew, the machine got busy): the next run goes back to a runner
  // rather than holding the caller's thread again. Any other run moves the average a quarter of
  // the way. (Until 2026-11-28 every run over four times the bound replaced the average: a longer
  // model's expected run was its last one, and its spread was never measured.)
  const int64_t bound = InlineRunNanos();
  if (seen < 3 || (average < bound && nanos > 4 * bound)) {
    average = nanos;
  } else {
    // Each percentile estimate steps towards the run: up by 19 steps where the run went past it,
    // down by one where it did not, which holds still where one run in 20 goes past. Why not a
    // mean deviation: runs on a shared machine spread unevenly (on the 2-vCPU VM, a 460 µs run
    // ends 50 µs early in one run in ten, and over 100 µs late in one in twenty), so a window of
    // twice the mean deviation missed one result in eight or more, and each missed one waited
    // 100-150 µs for a sleeping loop to wake.
    const int64_t step = std::clamp<int64_t>(average / 1280, 50, 2500);  // a 64th of the run, in 20ths
    const auto follow = [step](std::atomic<int64_t>& estimate, int64_t past) {
      const int64_t now = estimate.load(std::memory_order_relaxed);
      estimate.store(std::max<int64_t>(0, now + (past > now ? 19 * step : -step)), std::memory_order_relaxed);
    };
    follow(run_late_nanos, nanos - average);
    follow(run_early_nanos, average - nanos);
    average += (nanos - average) / 4;
  }
  run_nanos.store(average, std::memory_order_relaxed);
}

bool SessionCore::ShortRuns() const noexcept {
  // The first runs are not counted as typical: they set up kernels and the arena.
  return runs_measured.load(std::memory_order_relaxed) >= 3 && run_nanos.load(std::memory_order_relaxed) < InlineRunNanos();
}

// An async run hands its work to a runner thread and back: 10-30 µs of thread wake-ups, more than
// the whole of a small model's Run. When lib/ allows it (`inline_ok`: nothing else of this session
// executing, or only runs that compute on their calling thread alone as this one will; the event
// loop's inline budget not spent; see session.ts) and this session's runs are
// measured to be shorter than that, the run executes here instead and its outputs come back at
// once; lib/ resolves the caller's promise with them.
Napi::Value SessionWrap::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    std::shared_ptr<SessionCore> core = Live(info);
    if (info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value()) {
      if (core->ShortRuns()) return RunHere(env, std::move(core), info);
      // `onlyInline`: the caller has an AbortSignal, and a run on a runner needs run options of its
      // own to be stopped by it: lib/ makes them and calls again.
      if (info[4].IsBoolean() && info[4].As<Napi::Boolean>().Value()) return env.Undefined();
    }
    // How long this session's runs take, once measured (the first runs set up kernels and the arena).
    RunExpected expected;
    if (core->runs_measured.load(std::memory_order_relaxed) >= 3) {
      expected.nanos = core->run_nanos.load(std::memory_order_relaxed);
      expected.late_nanos = core->run_late_nanos.load(std::memory_order_relaxed);
      expected.early_nanos = core->run_early_nanos.load(std::memory_order_relaxed);
    }
    expected.threads = core->run_threads;
    auto call = std::make_unique<RunCall>(std::move(core));
    try {
      call->Prepare(env, info[0], info[1], info[2], true);
    } catch (...) {
      call->Unpin(env);
      throw;
    }
    auto task = std::make_unique<RunTask>(env, std::move(call));
    Napi::Value promise(env, task->promise());
    AddonData::Of(env).port->Submit(task.release(), expected);
    return promise;
  });
}

Napi::Value SessionWrap::RunSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value { return RunHere(env, Live(info), info); });
}

Napi::Value SessionWrap::CreateIoBinding(const Napi::CallbackInfo& info) {
  return IoBindingWrap::NewInstance(info.Env(), Live(info));
}

Napi::Value SessionWrap::EndProfiling(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<SessionCore> core = Live(info);
  return Guard(env, [&]() -> Napi::Value {
    OrtAllocator* allocator = nullptr;
    Check(g_ort->GetAllocatorWithDefaultOptions(&allocator));
    char* path = nullptr;
    Check(g_ort->SessionEndProfiling(core->session, allocator, &path));
    return Napi::String::New(env, TakeString(allocator, path));
  });
}

Napi::Value SessionWrap::RunTimes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    std::shared_ptr<SessionCore> core = Live(info);
    Napi::Array times = Napi::Array::New(env, 4);
    times.Set(0u, Napi::Number::New(env, core->runs_measured.load(std::memory_order_relaxed)));
    times.Set(1u, Napi::Number::New(env, static_cast<double>(core->run_nanos.load(std::memory_order_relaxed))));
    times.Set(2u, Napi::Number::New(env, static_cast<double>(core->run_late_nanos.load(std::memory_order_relaxed))));
    times.Set(3u, Napi::Number::New(env, static_cast<double>(core->run_early_nanos.load(std::memory_order_relaxed))));
    return times;
  });
}

Napi::Value SessionWrap::Release(const Napi::CallbackInfo& info) {
  if (!info.This().As<Napi::Object>().CheckTypeTag(&SessionTypeTag()))
    throw Napi::TypeError::New(info.Env(), "this is not an ort-napi session");
  core_.reset();  // runs in flight hold their own share; the OrtSession goes with the last
  return info.Env().Undefined();
}

}  // namespace ortn
