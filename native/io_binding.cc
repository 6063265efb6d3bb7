// io_binding.cc: binding values, running with the binding on the runner threads, reading outputs.
#include "io_binding.h"

#include <algorithm>
#include <optional>

#include "addon.h"
#include "options.h"

namespace ortn {

namespace {

const napi_type_tag& BindingTag() {
  static const napi_type_tag tag = NewTypeTag();
  return tag;
}

class BindingRunTask : public Task {
 public:
  BindingRunTask(Napi::Env env, std::shared_ptr<BindingCore> core, RunOptionsPtr options)
      : Task(env), core_(std::move(core)), options_(std::move(options)) {
    ++core_->running;
  }
  ~BindingRunTask() override { --core_->running; }
  void Execute() noexcept override {
    failure_ = Capture([&] {
      Check(g_ort->RunWithBinding(core_->session->session, options_->get(), core_->binding));
    });
  }
  void Complete(Napi::Env env) override {
    if (failure_) Reject(env, MakeOrtError(env, *failure_).Value());
    else Resolve(env, env.Undefined());
  }
  void Cancel() noexcept override { options_->Terminate(); }

 private:
  std::shared_ptr<BindingCore> core_;
  RunOptionsPtr options_;
  std::optional<OrtFailure> failure_;
};

}  // namespace

Napi::Function IoBindingWrap::DefineClass(Napi::Env env) {
  return ObjectWrap<IoBindingWrap>::DefineClass(
      env, "IoBinding",
      {
          InstanceMethod<&IoBindingWrap::BindInput>("bindInput"),
          InstanceMethod<&IoBindingWrap::BindOutput>("bindOutput"),
          InstanceMethod<&IoBindingWrap::ClearBoundInputs>("clearBoundInputs"),
          InstanceMethod<&IoBindingWrap::ClearBoundOutputs>("clearBoundOutputs"),
          InstanceMethod<&IoBindingWrap::SynchronizeInputs>("synchronizeInputs"),
          InstanceMethod<&IoBindingWrap::SynchronizeOutputs>("synchronizeOutputs"),
          InstanceMethod<&IoBindingWrap::Run>("run"),
          InstanceMethod<&IoBindingWrap::RunSync>("runSync"),
          InstanceMethod<&IoBindingWrap::GetOutputs>("getOutputs"),
          InstanceMethod<&IoBindingWrap::Release>("release"),
      });
}

Napi::Object IoBindingWrap::NewInstance(Napi::Env env, std::shared_ptr<SessionCore> session) {
  auto core = std::make_shared<BindingCore>();
  core->session = std::move(session);
  try {
    Check(g_ort->CreateIoBinding(core->session->session, &core->binding));
  } catch (const OrtFailure& failure) {
    throw MakeOrtError(env, failure);
  }
  auto* holder = new std::shared_ptr<BindingCore>(std::move(core));
  auto external = Napi::External<std::shared_ptr<BindingCore>>::New(env, holder, [](Napi::Env, std::shared_ptr<BindingCore>* p) { delete p; });
  return AddonData::Of(env).binding_class.New({external});
}

IoBindingWrap::IoBindingWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IoBindingWrap>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw Napi::TypeError::New(info.Env(), "I/O bindings are made by session.createIoBinding()");
  core_ = *info[0].As<Napi::External<std::shared_ptr<BindingCore>>>().Data();
  info.This().As<Napi::Object>().TypeTag(&BindingTag());
}

IoBindingWrap::~IoBindingWrap() {
  if (!core_) return;
  Unbind(Env(), core_->inputs);
  Unbind(Env(), core_->outputs);
}

void IoBindingWrap::Unbind(napi_env env, std::map<std::string, BindingCore::Bound>& bound) {
  for (auto& entry : bound)
    if (entry.second.pin != nullptr) napi_delete_reference(env, entry.second.pin);
  bound.clear();
}

BindingCore& IoBindingWrap::Live(const Napi::CallbackInfo& info, bool changing) {
  if (!info.This().IsObject() || !info.This().As<Napi::Object>().CheckTypeTag(&BindingTag()))
    throw Napi::TypeError::New(info.Env(), "this is not an ort-napi I/O binding");
  if (!core_) throw Napi::Error::New(info.Env(), "the I/O binding was released");
  if (changing && core_->running > 0)
    throw Napi::Error::New(info.Env(), "the I/O binding cannot change while a run uses it");
  return *core_;
}

Napi::Value IoBindingWrap::BindInput(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BindingCore& core = Live(info, true);
  return Guard(env, [&]() -> Napi::Value {
    const auto index = static_cast<uint32_t>(IntegerArgument(env, info[0], "bindInput: the input index", 0, UINT32_MAX));
    if (index >= core.session->inputs.size()) throw Napi::RangeError::New(env, "bindInput: input index out of range");
    const std::string& name = core.session->inputs[index].name;
    BindingCore::Bound bound;
    if ((bound.device = DeviceTensorWrap::Of(info[1]))) {
      Check(g_ort->BindInput(core.binding, name.c_str(), bound.device->value.get()));
    } else {
      bound.value = TensorFromJs(env, info[1], info[2], info[3], {"bound input", name}, &bound.lent);
      Check(g_ort->BindInput(core.binding, name.c_str(), bound.value.get()));
      bound.bools = ShapeOf(bound.value.get()).type == ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL;
      if (bound.lent.first != nullptr) NAPI_THROW_IF_FAILED(env, napi_create_reference(env, info[2], 1, &bound.pin), Napi::Value());
    }
    auto previous = core.inputs.find(name);
    if (previous != core.inputs.end() && previous->second.pin != nullptr) napi_delete_reference(env, previous->second.pin);
    core.inputs[name] = std::move(bound);
    return env.Undefined();
  });
}

Napi::Value IoBindingWrap::BindOutput(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BindingCore& core = Live(info, true);
  return Guard(env, [&]() -> Napi::Value {
    const auto index = static_cast<uint32_t>(IntegerArgument(env, info[0], "bindOutput: the output index", 0, UINT32_MAX));
    if (index >= core.session->outputs.size()) throw Napi::RangeError::New(env, "bindOutput: output index out of range");
    const std::string& name = core.session->outputs[index].name;
    BindingCore::Bound bound;
    if (info[1].IsNull() || info[1].IsUndefined()) {
      bound.allocated_on = CpuMemoryInfo();
      Check(g_ort->BindOutputToDevice(core.binding, name.c_str(), bound.allocated_on));
    } else if (info[1].IsString()) {  // 'cuda': memory ONNX Runtime allocates on that device
      std::string library = info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : "";
      bound.allocated_on = CudaMemoryFor(core.session->env->get(), static_cast<int>(IntegerArgument(env, info[2], "bindOutput: the device id", 0, INT32_MAX)), library).info;
      Check(g_ort->BindOutputToDevice(core.binding, name.c_str(), bound.allocated_on));
    } else if ((bound.device = DeviceTensorWrap::Of(info[1]))) {
      Check(g_ort->BindOutput(core.binding, name.c_str(), bound.device->value.get()));
    } else {
      bound.value = TensorFromJs(env, info[1], info[2], info[3], {"output", name}, &bound.lent);
      Check(g_ort->BindOutput(core.binding, name.c_str(), bound.value.get()));
      if (bound.lent.first != nullptr) NAPI_THROW_IF_FAILED(env, napi_create_reference(env, info[2], 1, &bound.pin), Napi::Value());
    }
    auto previous = core.outputs.find(name);
    if (previous != core.outputs.end() && previous->second.pin != nullptr) napi_delete_reference(env, previous->second.pin);
    core.outputs[name] = std::move(bound);
    return env.Undefined();
  });
}

Napi::Value IoBindingWrap::ClearBoundInputs(const Napi::CallbackInfo& info) {
  BindingCore& core = Live(info, true);
  g_ort->ClearBoundInputs(core.binding);
  Unbind(info.Env(), core.inputs);
  return info.Env().Undefined();
}

Napi::Value IoBindingWrap::ClearBoundOutputs(const Napi::CallbackInfo& info) {
  BindingCore& core = Live(info, true);
  g_ort->ClearBoundOutputs(core.binding);
  Unbind(info.Env(), core.outputs);
  return info.Env().Undefined();
}

Napi::Value IoBindingWrap::SynchronizeInputs(const Napi::CallbackInfo& info) {
  BindingCore& core = Live(info, false);
  return Guard(info.Env(), [&]() -> Napi::Value {
    Check(g_ort->SynchronizeBoundInputs(core.binding));
    return info.Env().Undefined();
  });
}

Napi::Value IoBindingWrap::SynchronizeOutputs(const Napi::CallbackInfo& info) {
  BindingCore& core = Live(info, false);
  return Guard(info.Env(), [&]() -> Napi::Value {
    Check(g_ort->SynchronizeBoundOutputs(core.binding));
    return info.Env().Undefined();
  });
}

void IoBindingWrap::PrepareRun(Napi::Env env) {
  auto check = [&](const char* role, const std::string& name, const BindingCore::Bound& bound) {
    if (bound.pin == nullptr) return;
    napi_value array = nullptr;
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    napi_value buffer = nullptr;
    size_t offset = 0;
    bool detached = false;
    bool moved = napi_get_reference_value(env, bound.pin, &array) != napi_ok || array == nullptr ||
                 napi_get_typedarray_info(env, array, &type, &length, &data, &buffer, &offset) != napi_ok ||
                 napi_is_detached_arraybuffer(env, buffer, &detached) != napi_ok || detached ||
                 static_cast<const char*>(data) != bound.lent.first;
    if (!moved) moved = length * TypedArrayElementSize(type) < bound.lent.second;
    if (moved)
      throw Napi::Error::New(env, std::string(role) + " '" + name + "' was bound over memory that has since been " +
                                      "detached, transferred or resized: bind it again");
    if (bound.bools) {
      const auto* first = reinterpret_cast<const uint8_t*>(bound.lent.first);
      const auto* bad = std::find_if(first, first + bound.lent.second, [](uint8_t b) { return b > 1; });
      if (bad != first + bound.lent.second)
        throw Napi::RangeError::New(env, std::string(role) + " '" + name + "' is bool, but its byte " +
                                             std::to_string(bad - first) + " is " + std::to_string(*bad) +
                                             ": bound bool tensors must hold 0 or 1");
    }
  };
  for (const auto& [name, bound] : core_->inputs) check("bound input", name, bound);
  for (const auto& [name, bound] : core_->outputs) check("bound output", name, bound);
  for (const auto& [name, bound] : core_->outputs)
    if (bound.allocated_on != nullptr) Check(g_ort->BindOutputToDevice(core_->binding, name.c_str(), bound.allocated_on));
}

Napi::Value IoBindingWrap::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Live(info, false);
  return Guard(env, [&]() -> Napi::Value {
    PrepareRun(env);
    RunOptionsPtr options = RunOptionsWrap::HandleOf(info[0]);
    if (!options) options = MakeRunOptions(env, info[0]);
    auto task = std::make_unique<BindingRunTask>(env, core_, std::move(options));
    Napi::Value promise(env, task->promise());
    AddonData::Of(env).port->Submit(task.release());
    return promise;
  });
}

Napi::Value IoBindingWrap::RunSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BindingCore& core = Live(info, false);
  return Guard(env, [&]() -> Napi::Value {
    PrepareRun(env);
    RunOptionsPtr options = info[0].IsObject() ? MakeRunOptions(env, info[0]) : nullptr;
    Check(g_ort->RunWithBinding(core.session->session, options ? options->get() : nullptr, core.binding));
    return env.Undefined();
  });
}

Napi::Value IoBindingWrap::GetOutputs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BindingCore& core = Live(info, false);
  return Guard(env, [&]() -> Napi::Value {
    OrtAllocator* allocator = nullptr;
    Check(g_ort->GetAllocatorWithDefaultOptions(&allocator));
    char* names = nullptr;
    size_t* lengths = nullptr;
    size_t count = 0;
    Check(g_ort->GetBoundOutputNames(core.binding, allocator, &names, &lengths, &count));
    OrtValue** values = nullptr;
    size_t value_count = 0;
    OrtStatus* status = count == 0 ? nullptr : g_ort->GetBoundOutputValues(core.binding, allocator, &values, &value_count);
    // Take ownership of everything ONNX Runtime handed over before anything can throw.
    std::vector<ValuePtr> owned;
    for (size_t i = 0; i < value_count; ++i) owned.emplace_back(values[i]);
    std::vector<std::string> output_names;
    for (size_t i = 0, offset = 0; i < count; offset += lengths[i], ++i) output_names.emplace_back(names + offset, lengths[i]);
    if (values != nullptr) g_ort->ReleaseStatus(g_ort->AllocatorFree(allocator, values));
    if (names != nullptr) g_ort->ReleaseStatus(g_ort->AllocatorFree(allocator, names));
    if (lengths != nullptr) g_ort->ReleaseStatus(g_ort->AllocatorFree(allocator, lengths));
    Check(status);

    Napi::Array result = Napi::Array::New(env, owned.size() * 2);
    for (uint32_t i = 0; i < owned.size(); ++i) {
      const std::string& name = output_names[i];
      result.Set(i * 2, name);
      auto bound = core.outputs.find(name);
      if (bound != core.outputs.end() && (bound->second.pin != nullptr || bound->second.device)) {
        result.Set(i * 2 + 1, env.Null());  // written into the caller's own tensor
        continue;
      }
      int has = 0;
      Check(g_ort->HasValue(owned[i].get(), &has));
      if (!has) throw Napi::Error::New(env, "output '" + name + "' has no value yet: call runWithBinding() first");
      const OrtMemoryInfo* memory = nullptr;
      Check(g_ort->GetTensorMemoryInfo(owned[i].get(), &memory));
      const char* device = nullptr;
      Check(g_ort->MemoryInfoGetName(memory, &device));
      if (std::string(device) != "Cpu") {  // stays where it is: a device tensor JS can bind or copy
        auto tensor = std::make_shared<DeviceTensor>();
        tensor->env = core.session->env;
        tensor->value = std::move(owned[i]);
        result.Set(i * 2 + 1, DeviceTensorWrap::Wrap(env, std::move(tensor)));
        continue;
      }
      result.Set(i * 2 + 1, TensorToJs(env, std::move(owned[i]), {"output", name}, {}));
    }
    return result;
  });
}

Napi::Value IoBindingWrap::Release(const Napi::CallbackInfo& info) {
  if (!info.This().As<Napi::Object>().CheckTypeTag(&BindingTag()))
    throw Napi::TypeError::New(info.Env(), "this is not an ort-napi I/O binding");
  if (!core_) return info.Env().Undefined();
  if (core_->running > 0) throw Napi::Error::New(info.Env(), "the I/O binding cannot be released while a run uses it");
  Unbind(info.Env(), core_->inputs);
  Unbind(info.Env(), core_->outputs);
  core_.reset();
  return info.Env().Undefined();
}

}  // namespace ortn
