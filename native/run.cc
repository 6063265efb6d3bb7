// run.cc: the path of one run (ARCHITECTURE.md): pin inputs, Run off the main thread, hand out outputs.
#include "run.h"

#include <chrono>

#include "addon.h"
#include "options.h"

namespace ortn {

RunCall::~RunCall() {
  for (size_t i = 0; i < outputs_.size(); ++i)
    if (outputs_[i] != nullptr && !preallocated_[i]) g_ort->ReleaseValue(outputs_[i]);
}

void RunCall::Prepare(Napi::Env env, Napi::Value feeds_value, Napi::Value fetches_value, Napi::Value options, bool pin) {
  if (!feeds_value.IsArray() || !fetches_value.IsArray())
    throw Napi::TypeError::New(env, "run: feeds and fetches must be arrays");
  Napi::Array feeds = feeds_value.As<Napi::Array>();
  Napi::Array fetches = fetches_value.As<Napi::Array>();
  const uint32_t feed_count = feeds.Length() / 4, fetch_count = fetches.Length() / 4;

  inputs_.reserve(feed_count);
  input_values_.reserve(feed_count);
  input_names_.reserve(feed_count);
  // The JS arrays whose memory ONNX Runtime reads: pinned at the end, for an async run.
  std::vector<Napi::Value> lent_arrays;
  lent_arrays.reserve(feed_count + fetch_count);
  for (uint32_t i = 0; i < feed_count; ++i) {
    const auto index = static_cast<uint32_t>(IntegerArgument(env, feeds.Get(i * 4), "run: an input index", 0, UINT32_MAX));
    if (index >= core_->inputs.size()) throw Napi::RangeError::New(env, "run: input index out of range");
    const std::string& name = core_->inputs[index].name;
    Napi::Value type = feeds.Get(i * 4 + 1);
    Napi::Value data = feeds.Get(i * 4 + 2);
    if (type.IsNumber() && type.As<Napi::Number>().Int32Value() == -1) {  // a sequence or a map
      inputs_.push_back(ValueFromJs(env, data, {"input", name}, &lent_, &lent_arrays, &parts_));
    } else {
      LentRange lent;
      inputs_.push_back(TensorFromJs(env, type, data, feeds.Get(i * 4 + 3), {"input", name}, &lent));
      if (lent.first != nullptr) lent_.push_back(lent), lent_arrays.push_back(data);
    }
    input_values_.push_back(inputs_.back().get());
    input_names_.push_back(name.c_str());
  }

  outputs_.assign(fetch_count, nullptr);
  preallocated_.resize(fetch_count);
  hand_back_.assign(fetch_count, false);
  output_names_.reserve(fetch_count);
  output_index_.reserve(fetch_count);
  for (uint32_t i = 0; i < fetch_count; ++i) {
    const auto index = static_cast<uint32_t>(IntegerArgument(env, fetches.Get(i * 4), "run: an output index", 0, UINT32_MAX));
    if (index >= core_->outputs.size()) throw Napi::RangeError::New(env, "run: output index out of range");
    const std::string& name = core_->outputs[index].name;
    output_names_.push_back(name.c_str());
    output_index_.push_back(index);
    Napi::Value type = fetches.Get(i * 4 + 1);
    if (type.IsNull() || type.IsUndefined()) continue;
    Napi::Value data = fetches.Get(i * 4 + 2);
    LentRange lent;
    preallocated_[i] = TensorFromJs(env, type, data, fetches.Get(i * 4 + 3), {"output", name}, &lent);
    outputs_[i] = preallocated_[i].get();
    // Numbers are written into the caller's memory, pinned for the run; strings into ONNX
    // Runtime's own, handed back for lib/ to copy into the caller's array.
    if (lent.first != nullptr) lent_arrays.push_back(data);
    else hand_back_[i] = true;
  }
  for (size_t i = 0; pin && i < lent_arrays.size(); ++i) {
    napi_ref pin_ref = nullptr;
    NAPI_THROW_IF_FAILED_VOID(env, napi_create_reference(env, lent_arrays[i], 1, &pin_ref));
    pins_.push_back(pin_ref);
  }
  // Run options JS holds (so it can terminate this run), else our own. An async run always gets
  // some: their terminate flag is how a dying environment stops it.
  options_ = RunOptionsWrap::HandleOf(options);
  if (!options_ && (pin || options.IsObject())) options_ = MakeRunOptions(env, options);
}

void RunCall::Execute() {
  auto start = std::chrono::steady_clock::now();
  OrtStatus* status = g_ort->Run(core_->session, options_ ? options_->get() : nullptr, input_names_.data(), input_values_.data(),
                                 input_values_.size(), output_names_.data(), output_names_.size(), outputs_.data());
  core_->RecordRun(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
  Check(status);
}

void RunCall::Cancel() noexcept {
  if (options_) options_->Terminate();
}

void RunCall::Unpin(napi_env env) {
  for (napi_ref pin : pins_) napi_delete_reference(env, pin);
  pins_.clear();
}

Napi::Value RunCall::Collect(Napi::Env env) {
  Unpin(env);
  Napi::Array results = Napi::Array::New(env, outputs_.size());
  for (uint32_t i = 0; i < outputs_.size(); ++i) {
    if (preallocated_[i]) {
      outputs_[i] = nullptr;  // owned by preallocated_[i]
      if (hand_back_[i])
        results.Set(i, KnownTensorToJs(env, std::move(preallocated_[i]), {"output", core_->outputs[output_index_[i]].name}, lent_));
      else
        results.Set(i, env.Null());
      continue;
    }
    ValuePtr value(outputs_[i]);
    outputs_[i] = nullptr;
    results.Set(i, ValueToJs(env, std::move(value), {"output", core_->outputs[output_index_[i]].name}, lent_));
  }
  return results;
}

void RunTask::Execute() noexcept {
  failure_ = Capture([&] { call_->Execute(); });
}

void RunTask::Complete(Napi::Env env) {
  if (failure_) {
    call_->Unpin(env);
    Reject(env, MakeOrtError(env, *failure_).Value());
    return;
  }
  try {
    Resolve(env, call_->Collect(env));
  } catch (const OrtFailure& failure) {
    Reject(env, MakeOrtError(env, failure).Value());
  }
}

}  // namespace ortn
