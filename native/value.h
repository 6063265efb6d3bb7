// value.h: JS tensors to OrtValues without copying their bytes, and OrtValues back to JS as
// external ArrayBuffers over ONNX Runtime's own memory.
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ort_api.h"

namespace ortn {

struct ValueDeleter {
  void operator()(OrtValue* value) const { g_ort->ReleaseValue(value); }
};
using ValuePtr = std::unique_ptr<OrtValue, ValueDeleter>;

// A byte range lent to ONNX Runtime by JS; an output that lands inside one is copied, not shared.
using LentRange = std::pair<const char*, size_t>;

// Names a value in error messages ("input 'x'"); the text is built only when an error is.
struct ValueName {
  const char* role;  // "input", "output"
  const std::string& name;
  std::string str() const { return std::string(role) + " '" + name + "'"; }
};

// Wraps a JS tensor ([typeCode, TypedArray | string[], dims]) as an OrtValue. Numbers are not
// copied: ONNX Runtime reads the TypedArray's own bytes, so the caller keeps `data` referenced
// until the value is released.
ValuePtr TensorFromJs(Napi::Env env, Napi::Value type, Napi::Value data, Napi::Value dims, const ValueName& what,
                      LentRange* lent);
// The same, with the element type and dims read already (DimsFromNumbers: `count` elements). With
// `defer`, a tensor over the caller's bytes is checked but not made: null comes back, `*lent`
// holds its bytes, and the caller makes it where it runs (run.cc, RunCall::Execute). Strings, and
// bools copied for bytes other than 0 and 1, are made all the same.
ValuePtr TensorFromJs(Napi::Env env, ONNXTensorElementDataType elem, Napi::Value data, const std::vector<int64_t>& shape,
                      size_t count, const ValueName& what, LentRange* lent, bool defer = false);
// No ONNX model comes near this rank; it bounds what a dims array may make us allocate.
constexpr uint32_t kMaxRank = 1024;
// Dims given as numbers, checked (`rank` before any is read): each a non-negative integer, their
// product within memory's reach. Written into `into`, whose capacity is reused (a run's inputs share one).
void DimsFromNumbers(Napi::Env env, const double* values, size_t rank, const ValueName& what, size_t* count, std::vector<int64_t>* into);

// Hands a tensor to JS as [typeCode, TypedArray | string[], dims]. Numbers are not copied: the
// TypedArray views ONNX Runtime's memory and the OrtValue is released when it is collected.
Napi::Value TensorToJs(Napi::Env env, ValuePtr value, const ValueName& what, const std::vector<LentRange>& lent);
// The same, for a value already known to be a tensor.
Napi::Value KnownTensorToJs(Napi::Env env, ValuePtr value, const ValueName& what, const std::vector<LentRange>& lent);

// Outputs up to this size are copied into a plain ArrayBuffer. That measured faster than an
// external one (whose finalizer needs a weak handle and a garbage collection to run), and their
// memory goes back to ONNX Runtime's arena at once, still warm in cache for the next run. Larger
// outputs, where a copy costs, are handed out without one.
constexpr size_t kCopyBelowBytes = 16384;

// Whether `bytes` overlap memory lent by JS: an output there (ONNX Runtime may alias an input) is
// copied, as that memory belongs to a JS ArrayBuffer already.
bool SharesLent(const void* bytes, size_t byte_length, const std::vector<LentRange>& lent);

// An external ArrayBuffer over a tensor's `bytes`, which then owns the tensor (`value` is released
// to it). Null where the runtime allows no external buffers (Electron's V8 sandbox): copy then.
napi_value LeaseToJs(Napi::Env env, ValuePtr& value, void* bytes, size_t byte_length);

// A tensor whose memory the addon owns: for values ONNX Runtime keeps beyond the call that gave
// them (session initializers). Built from a JS tensor by copying it once.
struct OwnedTensor {
  std::vector<char> bytes;
  ValuePtr value;
};
std::shared_ptr<OwnedTensor> OwnedTensorFromJs(Napi::Env env, Napi::Value type, Napi::Value data, Napi::Value dims,
                                               const ValueName& what);

// Any ONNX value to JS: a tensor as [typeCode, data, dims]; a sequence as { sequence: [...] }; a
// map as { keys: tensor, values: tensor }; an absent optional as { none: true }.
Napi::Value ValueToJs(Napi::Env env, ValuePtr value, const ValueName& what, const std::vector<LentRange>& lent);

// The reverse, for inputs: a tensor triple, { sequence: [...] } or { keys, values }. Tensor data is
// lent, as with TensorFromJs: each array lent is appended to `lent_arrays` for the caller to pin,
// and the values built along the way to `parts`, to keep alive as long as the result.
ValuePtr ValueFromJs(Napi::Env env, Napi::Value js, const ValueName& what, std::vector<LentRange>* lent,
                     std::vector<Napi::Value>* lent_arrays, std::vector<ValuePtr>* parts);

// A tensor's element type, dims and element count, as ONNX Runtime reports them.
struct TensorShape {
  ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  std::vector<int64_t> dims;
  size_t count = 0;
};
TensorShape ShapeOf(const OrtValue* tensor);

// Bytes per element of a TypedArray type.
size_t TypedArrayElementSize(napi_typedarray_type type);

// The CPU memory description for tensors over caller memory.
const OrtMemoryInfo* CpuMemoryInfo();

}  // namespace ortn
