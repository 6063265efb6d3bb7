// run.cc: the path of one run (ARCHITECTURE.md): pin inputs, Run off the main thread, hand out outputs.
#include "run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "addon.h"
#include "options.h"

namespace ortn {

RunCall::~RunCall() {
  for (size_t i = 0; i < outputs_.size(); ++i)
    if (outputs_[i] != nullptr && !preallocated_[i]) g_ort->ReleaseValue(outputs_[i]);
  if (plain_options_) ReturnPlainRunOptions(std::move(options_));
}

namespace {

// lib/'s description of a run (session.ts, Call), a Float64Array passed with each call that starts
// a run, copied out before anything else is read, and each read checked against its length: a
// wrong one is refused, never read past.
//   [length, feedCount, fetchCount, per feed: index, type, rank, dims..., per fetch: index, type, rank, dims...]
// A feed's type -1: a sequence or a map, its slot encoded whole (ValueToJs's form); a fetch's type
// -1: no memory given for it, else the type of the caller's memory ONNX Runtime writes into.
class Descriptor {
 public:
  Descriptor(Napi::Env env, Napi::Value array) : env_(env) {
    napi_typedarray_type type = napi_uint8_array;
    size_t length = 0;
    void* memory = nullptr;
    if (!array.IsTypedArray() ||
        napi_get_typedarray_info(env, array, &type, &length, &memory, nullptr, nullptr) != napi_ok ||
        type != napi_float64_array)
      throw Napi::TypeError::New(env, "run: the run descriptor must be a Float64Array");
    // A detached one has no memory and no length.
    if (length == 0 || memory == nullptr) throw Napi::RangeError::New(env, "run: the run descriptor is empty");
    const auto* numbers = static_cast<const double*>(memory);
    const double used = numbers[0];
    if (!(used >= 1 && used <= static_cast<double>(length)))
      throw Napi::RangeError::New(env, "run: the run descriptor's length is out of range");
    numbers_.assign(numbers + 1, numbers + static_cast<size_t>(used));
  }
  double Next() {
    if (at_ == numbers_.size()) throw Napi::RangeError::New(env_, "run: the run descriptor ends early");
    return numbers_[at_++];
  }
  uint32_t Integer(const char* what, double min, double max) {
    const double d = Next();
    if (!(d >= min && d <= max && d == std::trunc(d))) throw Napi::RangeError::New(env_, std::string("run: ") + what + " is out of range");
    return static_cast<uint32_t>(static_cast<int64_t>(d));
  }
  int32_t Type() {
    const double d = Next();
    if (!(d >= -1 && d <= 255 && d == std::trunc(d))) throw Napi::RangeError::New(env_, "run: a type code is out of range");
    return static_cast<int32_t>(d);
  }
  void Dims(const ValueName& what, size_t* count, std::vector<int64_t>* shape) {
    const uint32_t rank = Integer("a rank", 0, 4294967295.0);
    // DimsFromNumbers refuses too many before reading any.
    const double* dims = numbers_.data() + at_;
    if (rank <= kMaxRank && numbers_.size() - at_ < rank) throw Napi::RangeError::New(env_, "run: the run descriptor ends early");
    DimsFromNumbers(env_, dims, rank, what, count, shape);
    at_ += rank;
  }

 private:
  Napi::Env env_;
  std::vector<double> numbers_;
  size_t at_ = 0;
};

}  // namespace

void RunCall::Prepare(Napi::Env env, Napi::Value descriptor_value, Napi::Value slots_value, Napi::Value options, bool pin) {
  Descriptor descriptor(env, descriptor_value);
  if (!slots_value.IsArray()) throw Napi::TypeError::New(env, "run: the data slots must be an array");
  Napi::Array slots = slots_value.As<Napi::Array>();
  const uint32_t feed_count = descriptor.Integer("the feed count", 0, 1 << 20);
  const uint32_t fetch_count = descriptor.Integer("the fetch count", 0, 1 << 20);
  uint32_t slot = 0;

  inputs_.reserve(feed_count);
  input_values_.reserve(feed_count);
  input_names_.reserve(feed_count);
  lent_.reserve(feed_count + fetch_count);
  // One shape at a time, its capacity shared. Each allocation on the main thread counts: V8's
  // ArrayBuffer sweeper threads free the outputs' buffers into the same malloc arena, and wait on
  // its lock with it (silero's inputs and outputs with no compute: runSync 18 µs a run, 9 with
  // node --no-concurrent-array-buffer-sweeping; 60 allocations a run on the main thread, 24 ours).
  std::vector<int64_t> shape;
  shape.reserve(8);
  // The JS arrays whose memory ONNX Runtime reads: pinned at the end, for an async run.
  std::vector<Napi::Value> lent_arrays;
  lent_arrays.reserve(feed_count + fetch_count);
  for (uint32_t i = 0; i < feed_count; ++i) {
    const uint32_t index = descriptor.Integer("an input index", 0, static_cast<double>(core_->inputs.size()) - 1);
    const std::string& name = core_->inputs[index].name;
    const ValueName what{"input", name};
    const int32_t type = descriptor.Type();
    Napi::Value data = slots.Get(slot++);
    if (type == -1) {  // a sequence or a map
      inputs_.push_back(ValueFromJs(env, data, what, &lent_, &lent_arrays, &parts_));
    } else {
      size_t count = 0;
      descriptor.Dims(what, &count, &shape);
      LentRange lent;
      const auto elem = static_cast<ONNXTensorElementDataType>(type);
      inputs_.push_back(TensorFromJs(env, elem, data, shape, count, what, &lent, /*defer=*/pin));
      if (!inputs_.back()) {
        runner_inputs_.push_back(RunnerInput{inputs_.size() - 1, elem, lent, runner_dims_.size(), shape.size()});
        runner_dims_.insert(runner_dims_.end(), shape.begin(), shape.end());
      }
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
    const uint32_t index = descriptor.Integer("an output index", 0, static_cast<double>(core_->outputs.size()) - 1);
    const std::string& name = core_->outputs[index].name;
    output_names_.push_back(name.c_str());
    output_index_.push_back(index);
    const int32_t type = descriptor.Type();
    if (type == -1) continue;
    const ValueName what{"output", name};
    size_t count = 0;
    descriptor.Dims(what, &count, &shape);
    Napi::Value data = slots.Get(slot++);
    LentRange lent;
    preallocated_[i] = TensorFromJs(env, static_cast<ONNXTensorElementDataType>(type), data, shape, count, what, &lent);
    outputs_[i] = preallocated_[i].get();
    // Numbers are written into the caller's memory, pinned for the run; strings into ONNX
    // Runtime's own, handed back for lib/ to copy into the caller's array.
    if (lent.first != nullptr) lent_arrays.push_back(data);
    else hand_back_[i] = true;
  }
  if (pin) pins_.reserve(lent_arrays.size());
  for (size_t i = 0; pin && i < lent_arrays.size(); ++i) {
    napi_ref pin_ref = nullptr;
    NAPI_THROW_IF_FAILED_VOID(env, napi_create_reference(env, lent_arrays[i], 1, &pin_ref));
    pins_.push_back(pin_ref);
  }
  // Run options JS holds (so it can terminate this run), else our own. An async run always gets
  // some: their terminate flag is how a dying environment stops it. Where the caller set none,
  // plain ones kept from an earlier run (options.h, TakePlainRunOptions).
  options_ = RunOptionsWrap::HandleOf(options);
  if (!options_ && options.IsObject()) {
    options_ = MakeRunOptions(env, options);
  } else if (!options_ && pin) {
    options_ = TakePlainRunOptions();
    plain_options_ = true;
  }
}

void RunCall::Execute() {
  for (const RunnerInput& input : runner_inputs_) {
    OrtValue* raw = nullptr;
    Check(g_ort->CreateTensorWithDataAsOrtValue(CpuMemoryInfo(), const_cast<char*>(input.bytes.first), input.bytes.second,
                                                runner_dims_.data() + input.dims_at, input.rank, input.type, &raw));
    inputs_[input.index].reset(raw);
    input_values_[input.index] = raw;
  }
  auto start = std::chrono::steady_clock::now();
  OrtStatus* status = g_ort->Run(core_->session, options_ ? options_->get() : nullptr, input_names_.data(), input_values_.data(),
                                 input_values_.size(), output_names_.data(), output_names_.size(), outputs_.data());
  core_->RecordRun(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
  for (const RunnerInput& input : runner_inputs_) input_values_[input.index] = nullptr, inputs_[input.index].reset();
  Check(status);
}

void RunCall::Cancel() noexcept {
  if (options_) options_->Terminate();
}

void RunCall::Unpin(napi_env env) {
  for (napi_ref pin : pins_) napi_delete_reference(env, pin);
  pins_.clear();
}

namespace {

// Collect's header codes, where an output's element type would be (lib/session.ts, collect).
constexpr double kWhole = -1;           // the output is in its slot, encoded whole (ValueToJs)
constexpr double kWrittenInPlace = -2;  // a preallocated output that ONNX Runtime wrote into
constexpr double kInSlot = -1;          // as a tensor's byte offset: its bytes are its slot's ArrayBuffer

// A tensor output whose numbers go back as bytes (its shape then in `shape`): not a string, a
// sequence, a map or an absent optional.
bool IsNumericTensor(const OrtValue* value, TensorShape* shape) {
  int has = 0;
  ONNXType kind = ONNX_TYPE_UNKNOWN;
  Check(g_ort->HasValue(value, &has));
  if (!has) return false;
  Check(g_ort->GetValueType(value, &kind));
  if (kind != ONNX_TYPE_TENSOR) return false;
  *shape = ShapeOf(value);
  return shape->type != ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING && ElementSize(shape->type) != 0;
}

}  // namespace

void RunCall::PlanOutputs() {
  const size_t n = outputs_.size();
  plan_.assign(n, OutputPlan{});
  header_ = 1;
  copied_ = 0;
  for (size_t i = 0; i < n; ++i) {
    OutputPlan& out = plan_[i];
    if (preallocated_[i] || !IsNumericTensor(outputs_[i], &out.shape)) {
      header_ += 1;
      continue;
    }
    out.numeric = true;
    out.byte_length = StorageUnits(out.shape.type, out.shape.count) * ElementSize(out.shape.type);
    if (out.byte_length > 0) Check(g_ort->GetTensorMutableData(outputs_[i], &out.bytes));
    out.copy = out.byte_length <= kCopyBelowBytes || SharesLent(out.bytes, out.byte_length, lent_);
    if (out.copy) {
      out.offset = copied_;
      copied_ += (out.byte_length + 7) & ~size_t{7};
    }
    header_ += 4 + out.shape.dims.size();
  }
}

// The thread that ran it hands a copied output's memory back to ONNX Runtime, not the main thread:
// ONNX Runtime's arena then stays on the runner's core, where the next run allocates from it again.
// Measured in C++ on this machine (the silero model, a worker thread and the main thread on two
// cores): with the main thread releasing the outputs, each Run on the worker took 4-8 µs longer and
// the hand-off back 10-18 µs; with the worker releasing them, Run took as long as on one thread
// and the hand-off 1.5 µs.
void RunCall::StageOutputs() {
  PlanOutputs();
  staged_bytes_.resize(copied_);
  for (size_t i = 0; i < outputs_.size(); ++i) {
    OutputPlan& out = plan_[i];
    if (!out.numeric || !out.copy) continue;
    if (out.byte_length > 0) std::memcpy(staged_bytes_.data() + out.offset, out.bytes, out.byte_length);
    out.bytes = nullptr;
    g_ort->ReleaseValue(outputs_[i]);
    outputs_[i] = nullptr;
  }
  staged_ = true;
}

// Each call into V8 costs 0.1-1 µs here, on caches the run has just gone through: building each
// output as [type, TypedArray, dims] (two arrays, a dozen element stores, an ArrayBuffer and a
// TypedArray) cost 2.5 µs an output, 8 of the 4-in/3-out model's 150 µs. So the outputs come back
// as [block, slot0, slot1, ...]: one ArrayBuffer `block` holds a header of doubles, then the
// bytes of every output copied (those under kCopyBelowBytes, or sharing a lent input's memory).
// The header: its own length in doubles, then per output its element type, rank, dims, byte
// offset in `block` and byte length; or kWhole (the output is its slot, as ValueToJs builds it),
// or kWrittenInPlace. A tensor's offset is kInSlot where its bytes are its slot, an external
// ArrayBuffer over ONNX Runtime's memory. lib/ gives each output an ArrayBuffer of its own, a copy
// out of `block`: callers hand `tensor.data.buffer` on whole, and onnxruntime-node's outputs own
// theirs. A sync run's `block` (`reuse_block`) is the same buffer each time, as lib/ copies out of
// it before any other JS runs.
Napi::Value RunCall::Collect(Napi::Env env, bool reuse_block) {
  Unpin(env);
  if (!staged_) PlanOutputs();
  const size_t n = outputs_.size();
  const size_t block_bytes = header_ * sizeof(double) + copied_;
  void* base = nullptr;
  napi_value block = nullptr;
  if (reuse_block) {
    // lib/ copies out of it before anything else can run: one buffer serves every sync collect.
    AddonData& data = AddonData::Of(env);
    size_t length = 0;
    if (!data.result_block.IsEmpty()) {
      block = data.result_block.Value();
      NAPI_THROW_IF_FAILED(env, napi_get_arraybuffer_info(env, block, &base, &length), Napi::Value());
    }
    if (base == nullptr || length < block_bytes) {
      NAPI_THROW_IF_FAILED(env, napi_create_arraybuffer(env, std::max<size_t>(block_bytes, 4096), &base, &block), Napi::Value());
      data.result_block = Napi::Persistent(Napi::Value(env, block));
    }
  } else {
    NAPI_THROW_IF_FAILED(env, napi_create_arraybuffer(env, block_bytes, &base, &block), Napi::Value());
  }
  auto* head = static_cast<double*>(base);
  char* bytes = static_cast<char*>(base) + header_ * sizeof(double);
  size_t h = 0;
  head[h++] = static_cast<double>(header_);

  Napi::Array results = Napi::Array::New(env, n + 1);
  results.Set(0u, Napi::Value(env, block));
  for (uint32_t i = 0; i < n; ++i) {
    const ValueName what{"output", core_->outputs[output_index_[i]].name};
    if (preallocated_[i]) {
      outputs_[i] = nullptr;  // owned by preallocated_[i]
      if (hand_back_[i]) {
        head[h++] = kWhole;
        results.Set(i + 1, KnownTensorToJs(env, std::move(preallocated_[i]), what, lent_));
      } else {
        head[h++] = kWrittenInPlace;
      }
      continue;
    }
    ValuePtr value(outputs_[i]);  // null for a staged output, released already
    outputs_[i] = nullptr;
    OutputPlan& out = plan_[i];
    if (!out.numeric) {
      head[h++] = kWhole;
      results.Set(i + 1, ValueToJs(env, std::move(value), what, lent_));
      continue;
    }
    head[h++] = static_cast<double>(out.shape.type);
    head[h++] = static_cast<double>(out.shape.dims.size());
    for (int64_t d : out.shape.dims) head[h++] = static_cast<double>(d);
    // An odd count of 4-bit values leaves the last byte's high half unwritten by ONNX Runtime:
    // zeroed (in what JS gets: never in a lent input's memory) rather than handing out whatever the
    // allocator left there.
    const bool packed = out.shape.type == ONNX_TENSOR_ELEMENT_DATA_TYPE_INT4 || out.shape.type == ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT4;
    const auto tidy = [&](void* data) {
      if (packed && out.shape.count % 2 == 1) static_cast<uint8_t*>(data)[out.byte_length - 1] &= 0x0F;
    };
    if (out.copy) {
      char* to = bytes + out.offset;
      const void* from = staged_ ? static_cast<const void*>(staged_bytes_.data() + out.offset) : out.bytes;
      if (out.byte_length > 0) std::memcpy(to, from, out.byte_length), tidy(to);
      head[h++] = static_cast<double>(header_ * sizeof(double) + out.offset);
      head[h++] = static_cast<double>(out.byte_length);
      continue;
    }
    tidy(out.bytes);  // ONNX Runtime's memory, about to be handed out
    napi_value own = LeaseToJs(env, value, out.bytes, out.byte_length);
    if (own == nullptr) {
      // No external buffers here (Electron): a copy of its own, as a large output gets one.
      void* into = nullptr;
      NAPI_THROW_IF_FAILED(env, napi_create_arraybuffer(env, out.byte_length, &into, &own), Napi::Value());
      std::memcpy(into, out.bytes, out.byte_length);
    }
    head[h++] = kInSlot;
    head[h++] = static_cast<double>(out.byte_length);
    results.Set(i + 1, Napi::Value(env, own));
  }
  return results;
}

void RunTask::Execute() noexcept {
  failure_ = Capture([&] {
    call_->Execute();
    call_->StageOutputs();
  });
}

void RunTask::Complete(Napi::Env env) {
  if (failure_) {
    call_->Unpin(env);
    Reject(env, MakeOrtError(env, *failure_).Value());
    return;
  }
  try {
    Resolve(env, call_->Collect(env, false));
  } catch (const OrtFailure& failure) {
    Reject(env, MakeOrtError(env, failure).Value());
  }
}

}  // namespace ortn
