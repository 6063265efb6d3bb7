// value.cc: tensor conversion between JS and ONNX Runtime, zero-copy for numeric data both ways.
#include "value.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace ortn {

namespace {

OrtAllocator* DefaultAllocator() {
  static OrtAllocator* allocator = [] {
    OrtAllocator* out = nullptr;
    Check(g_ort->GetAllocatorWithDefaultOptions(&out));
    return out;
  }();
  return allocator;
}

std::string DimsText(const std::vector<int64_t>& dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? "," : "") + std::to_string(dims[i]);
  return text + "]";
}

}  // namespace

void DimsFromNumbers(Napi::Env env, const double* values, size_t rank, const ValueName& what, size_t* count, std::vector<int64_t>* into) {
  if (rank > kMaxRank)
    throw Napi::RangeError::New(env, what.str() + ": " + std::to_string(rank) + " dims is more than the " +
                                         std::to_string(kMaxRank) + " ort-napi accepts");
  std::vector<int64_t>& dims = *into;
  dims.assign(rank, 0);
  size_t product = 1;
  for (size_t i = 0; i < rank; ++i) {
    const double d = values[i];
    if (!(d >= 0 && d <= 9007199254740991.0) || d != static_cast<double>(static_cast<int64_t>(d)))
      throw Napi::RangeError::New(env, what.str() + ": dims[" + std::to_string(i) + "] must be a non-negative integer");
    dims[i] = static_cast<int64_t>(d);
    size_t n = static_cast<size_t>(dims[i]);
    if (n != 0 && product > std::numeric_limits<size_t>::max() / n)
      throw Napi::RangeError::New(env, what.str() + ": dims " + DimsText(dims) + " hold more elements than memory can");
    product *= n;
  }
  *count = product;
}

namespace {

std::vector<int64_t> DimsFromJs(Napi::Env env, Napi::Value value, const ValueName& what, size_t* count) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, what.str() + ": dims must be an array of integers");
  Napi::Array array = value.As<Napi::Array>();
  // Checked before anything is allocated for them: a sparse array can claim 2^32-1 entries.
  if (array.Length() > kMaxRank)
    throw Napi::RangeError::New(env, what.str() + ": " + std::to_string(array.Length()) + " dims is more than the " +
                                         std::to_string(kMaxRank) + " ort-napi accepts");
  std::vector<double> values(array.Length());
  for (uint32_t i = 0; i < values.size(); ++i) {
    Napi::Value dim = array.Get(i);
    values[i] = dim.IsNumber() ? dim.As<Napi::Number>().DoubleValue() : -1;
  }
  std::vector<int64_t> dims;
  DimsFromNumbers(env, values.data(), values.size(), what, count, &dims);
  return dims;
}

}  // namespace

size_t TypedArrayElementSize(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array:
      return 1;
    case napi_int16_array:
    case napi_uint16_array:
      return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array:
      return 4;
    default:
      return 8;
  }
}

namespace {

napi_typedarray_type TypedArrayFor(ONNXTensorElementDataType type) {
  switch (type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return napi_float32_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: return napi_float64_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8: return napi_int8_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16: return napi_int16_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return napi_int32_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return napi_bigint64_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16:
      return napi_uint16_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32: return napi_uint32_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64: return napi_biguint64_array;
    default: return napi_uint8_array;  // uint8, bool
  }
}

// What an external ArrayBuffer needs to give its memory back to ONNX Runtime.
struct Lease {
  OrtValue* value;
  int64_t bytes;
};

void ReleaseLease(napi_env env, void*, void* hint) {
  auto* lease = static_cast<Lease*>(hint);
  int64_t ignored = 0;
  napi_adjust_external_memory(env, -lease->bytes, &ignored);
  g_ort->ReleaseValue(lease->value);
  delete lease;
}

}  // namespace

bool SharesLent(const void* bytes, size_t byte_length, const std::vector<LentRange>& lent) {
  const char* p = static_cast<const char*>(bytes);
  for (const LentRange& range : lent)
    if (range.first != nullptr && p < range.first + range.second && range.first < p + byte_length) return true;
  return false;
}

napi_value LeaseToJs(Napi::Env env, ValuePtr& value, void* bytes, size_t byte_length) {
  auto* lease = new Lease{value.get(), static_cast<int64_t>(byte_length)};
  napi_value buffer = nullptr;
  napi_status status = napi_create_external_arraybuffer(env, bytes, byte_length, ReleaseLease, lease, &buffer);
  if (status != napi_ok) {
    delete lease;
    // napi_no_external_buffers_allowed (Electron's V8 sandbox): the caller copies instead.
    if (status != napi_no_external_buffers_allowed) NAPI_THROW_IF_FAILED(env, status, nullptr);
    return nullptr;
  }
  value.release();  // now owned by the ArrayBuffer
  int64_t ignored = 0;
  napi_adjust_external_memory(env, lease->bytes, &ignored);
  return buffer;
}

namespace {

Napi::Value StringsToJs(Napi::Env env, OrtValue* value, size_t count) {
  size_t total = 0;
  Check(g_ort->GetStringTensorDataLength(value, &total));
  std::vector<char> bytes(total + 1);
  std::vector<size_t> offsets(count + 1);
  Check(g_ort->GetStringTensorContent(value, bytes.data(), total, offsets.data(), count));
  offsets[count] = total;
  Napi::Array strings = Napi::Array::New(env, count);
  for (size_t i = 0; i < count; ++i)
    strings.Set(static_cast<uint32_t>(i), Napi::String::New(env, bytes.data() + offsets[i], offsets[i + 1] - offsets[i]));
  return strings;
}

}  // namespace

const OrtMemoryInfo* CpuMemoryInfo() {
  static OrtMemoryInfo* info = [] {
    OrtMemoryInfo* out = nullptr;
    Check(g_ort->CreateCpuMemoryInfo(OrtDeviceAllocator, OrtMemTypeDefault, &out));
    return out;
  }();
  return info;
}

ValuePtr TensorFromJs(Napi::Env env, Napi::Value type, Napi::Value data, Napi::Value dims, const ValueName& what,
                      LentRange* lent) {
  if (!type.IsNumber()) throw Napi::TypeError::New(env, what.str() + ": the element type code must be a number");
  auto elem = static_cast<ONNXTensorElementDataType>(type.As<Napi::Number>().Int32Value());
  size_t count = 0;
  std::vector<int64_t> shape = DimsFromJs(env, dims, what, &count);
  return TensorFromJs(env, elem, data, shape, count, what, lent);
}

ValuePtr TensorFromJs(Napi::Env env, ONNXTensorElementDataType elem, Napi::Value data, const std::vector<int64_t>& shape,
                      size_t count, const ValueName& what, LentRange* lent, bool defer) {
  *lent = {nullptr, 0};
  OrtValue* raw = nullptr;

  if (elem == ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING) {
    if (!data.IsArray()) throw Napi::TypeError::New(env, what.str() + ": string tensor data must be an array of strings");
    Napi::Array array = data.As<Napi::Array>();
    if (array.Length() != count)
      throw Napi::RangeError::New(env, what.str() + ": data holds " + std::to_string(array.Length()) +
                                           " strings but dims " + DimsText(shape) + " need " + std::to_string(count));
    Check(g_ort->CreateTensorAsOrtValue(DefaultAllocator(), shape.data(), shape.size(), elem, &raw));
    ValuePtr value(raw);
    // Length-aware: a string may hold NUL characters, which a C string would cut at.
    for (uint32_t i = 0; i < count; ++i) {
      Napi::Value item = array.Get(i);
      if (!item.IsString())
        throw Napi::TypeError::New(env, what.str() + ": data[" + std::to_string(i) + "] is not a string");
      std::string text = item.As<Napi::String>().Utf8Value();
      char* buffer = nullptr;
      Check(g_ort->GetResizedStringTensorElementBuffer(value.get(), i, text.size(), &buffer));
      if (!text.empty()) std::memcpy(buffer, text.data(), text.size());
    }
    return value;
  }

  size_t element_size = ElementSize(elem);
  if (element_size == 0)
    throw Napi::TypeError::New(env, what.str() + ": element type code " + std::to_string(elem) + " is not supported");
  if (!data.IsTypedArray()) throw Napi::TypeError::New(env, what.str() + ": data must be a TypedArray");
  napi_typedarray_type array_type;
  size_t length = 0;
  void* bytes = nullptr;
  napi_value buffer;
  size_t byte_offset = 0;
  NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, data, &array_type, &length, &bytes, &buffer, &byte_offset),
                       ValuePtr());
  bool detached = false;
  napi_is_detached_arraybuffer(env, buffer, &detached);
  if (detached) throw Napi::TypeError::New(env, what.str() + ": its ArrayBuffer is detached");
  if (TypedArrayElementSize(array_type) != element_size)
    throw Napi::TypeError::New(env, what.str() + ": the TypedArray's element size does not match its element type");
  size_t units = StorageUnits(elem, count);
  if (length != units)
    throw Napi::RangeError::New(env, what.str() + ": data holds " + std::to_string(length) + " elements but dims " +
                                         DimsText(shape) + " need " + std::to_string(units) +
                                         (units != count ? " bytes (4-bit values, two per byte)" : ""));
  static char empty_tensor_bytes[8];  // ONNX Runtime wants a pointer even for zero elements
  if (bytes == nullptr) bytes = empty_tensor_bytes;
  size_t byte_length = units * element_size;
  // Values ONNX Runtime reads once, now: a run's inputs and a session's initializers. (An output is
  // written, not read; a bound input is read at every later run, so its bytes are checked then.)
  const bool read_now = std::strcmp(what.role, "input") == 0 || std::strcmp(what.role, "initializer") == 0;
  if (elem == ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL && read_now) {
    // A C++ bool must be 0 or 1; ONNX Runtime's kernels compute garbage from other bytes (Not(2)
    // is 3). Any other byte is read as JS reads it (non-zero is true), from a copy: the caller's
    // bytes are not ours to change.
    const auto* first = static_cast<const uint8_t*>(bytes);
    if (std::any_of(first, first + byte_length, [](uint8_t b) { return b > 1; })) {
      Check(g_ort->CreateTensorAsOrtValue(DefaultAllocator(), shape.data(), shape.size(), elem, &raw));
      ValuePtr copy(raw);
      void* target = nullptr;
      Check(g_ort->GetTensorMutableData(copy.get(), &target));
      std::transform(first, first + byte_length, static_cast<uint8_t*>(target), [](uint8_t b) { return b != 0; });
      return copy;
    }
  }
  *lent = {static_cast<const char*>(bytes), byte_length};
  if (defer) return ValuePtr();
  Check(g_ort->CreateTensorWithDataAsOrtValue(CpuMemoryInfo(), bytes, byte_length, shape.data(), shape.size(), elem,
                                              &raw));
  return ValuePtr(raw);
}

std::shared_ptr<OwnedTensor> OwnedTensorFromJs(Napi::Env env, Napi::Value type, Napi::Value data, Napi::Value dims,
                                               const ValueName& what) {
  LentRange lent;
  ValuePtr borrowed = TensorFromJs(env, type, data, dims, what, &lent);
  auto owned = std::make_shared<OwnedTensor>();
  if (lent.first == nullptr) {  // strings: ONNX Runtime already holds its own copy
    owned->value = std::move(borrowed);
    return owned;
  }
  owned->bytes.assign(lent.first, lent.first + lent.second);
  TensorShape shape = ShapeOf(borrowed.get());
  static char empty[8];
  void* bytes = owned->bytes.empty() ? empty : owned->bytes.data();
  OrtValue* raw = nullptr;
  Check(g_ort->CreateTensorWithDataAsOrtValue(CpuMemoryInfo(), bytes, owned->bytes.size(), shape.dims.data(),
                                              shape.dims.size(), shape.type, &raw));
  owned->value.reset(raw);
  return owned;
}

// The shape ONNX Runtime holds, read in place (since 1.24): GetTensorTypeAndShape builds a new
// info object for each call, with its own arrays, then four calls read it and one frees it. Read
// on a runner straight after a Run, for every output (run.cc, PlanOutputs), that took silero's
// three outputs 2.3 µs; this way 1.2-1.3 (stamps around PlanOutputs, medians of 20,000 runs).
TensorShape ShapeOf(const OrtValue* tensor) {
  TensorShape shape;
  const int64_t* dims = nullptr;
  size_t rank = 0;
  Check(g_ort->GetTensorElementTypeAndShapeDataReference(tensor, &shape.type, &dims, &rank));
  shape.dims.assign(dims, dims + rank);  // null and 0 for a scalar
  size_t count = 1;
  for (int64_t d : shape.dims) {
    const size_t n = static_cast<size_t>(d);
    if (d < 0 || (n != 0 && count > std::numeric_limits<size_t>::max() / n))
      throw OrtFailure(ORT_FAIL, "ONNX Runtime returned a tensor of shape " + DimsText(shape.dims) + ", which has no element count");
    count *= n;
  }
  shape.count = count;
  return shape;
}

Napi::Value TensorToJs(Napi::Env env, ValuePtr value, const ValueName& what, const std::vector<LentRange>& lent) {
  ONNXType kind = ONNX_TYPE_UNKNOWN;
  Check(g_ort->GetValueType(value.get(), &kind));
  if (kind != ONNX_TYPE_TENSOR)
    throw OrtFailure(ORT_NOT_IMPLEMENTED, what.str() + " is a non-tensor value (ONNX type " + std::to_string(kind) +
                                              "), which ort-napi does not convert yet");
  return KnownTensorToJs(env, std::move(value), what, lent);
}

Napi::Value KnownTensorToJs(Napi::Env env, ValuePtr value, const ValueName& what, const std::vector<LentRange>& lent) {
  const TensorShape tensor = ShapeOf(value.get());
  const ONNXTensorElementDataType elem = tensor.type;
  const std::vector<int64_t>& shape = tensor.dims;
  const size_t rank = shape.size(), count = tensor.count;

  Napi::Array dims = Napi::Array::New(env, rank);
  for (uint32_t i = 0; i < rank; ++i) dims.Set(i, Napi::Number::New(env, static_cast<double>(shape[i])));
  Napi::Array result = Napi::Array::New(env, 3);
  result.Set(0u, Napi::Number::New(env, elem));
  result.Set(2u, dims);

  if (elem == ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING) {
    result.Set(1u, StringsToJs(env, value.get(), count));
    return result;
  }
  size_t element_size = ElementSize(elem);
  if (element_size == 0)
    throw OrtFailure(ORT_NOT_IMPLEMENTED,
                     what.str() + " has element type " + std::to_string(elem) + ", which ort-napi does not convert yet");
  size_t units = StorageUnits(elem, count);
  size_t byte_length = units * element_size;
  void* bytes = nullptr;
  if (byte_length > 0) Check(g_ort->GetTensorMutableData(value.get(), &bytes));

  // An output that shares memory with an input (ONNX Runtime may alias them) is copied: that memory
  // belongs to a JS ArrayBuffer already.
  napi_value buffer = nullptr;
  if (byte_length > kCopyBelowBytes && !SharesLent(bytes, byte_length, lent)) buffer = LeaseToJs(env, value, bytes, byte_length);
  void* out = bytes;
  if (buffer == nullptr) {
    NAPI_THROW_IF_FAILED(env, napi_create_arraybuffer(env, byte_length, &out, &buffer), Napi::Value());
    if (byte_length > 0) std::memcpy(out, bytes, byte_length);
  }
  // An odd count of 4-bit values leaves the last byte's high half unwritten by ONNX Runtime: zero
  // it rather than hand out whatever the allocator left there.
  bool packed = elem == ONNX_TENSOR_ELEMENT_DATA_TYPE_INT4 || elem == ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT4;
  if (packed && count % 2 == 1) static_cast<uint8_t*>(out)[units - 1] &= 0x0F;
  napi_value array;
  NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, TypedArrayFor(elem), units, buffer, 0, &array), Napi::Value());
  result.Set(1u, Napi::Value(env, array));
  return result;
}

}  // namespace ortn

namespace ortn {

Napi::Value ValueToJs(Napi::Env env, ValuePtr value, const ValueName& what, const std::vector<LentRange>& lent) {
  int has = 1;
  Check(g_ort->HasValue(value.get(), &has));
  if (!has) {
    Napi::Object none = Napi::Object::New(env);
    none.Set("none", true);
    return none;
  }
  ONNXType kind = ONNX_TYPE_UNKNOWN;
  Check(g_ort->GetValueType(value.get(), &kind));
  if (kind == ONNX_TYPE_TENSOR) return KnownTensorToJs(env, std::move(value), what, lent);
  if (kind != ONNX_TYPE_SEQUENCE && kind != ONNX_TYPE_MAP)
    throw OrtFailure(ORT_NOT_IMPLEMENTED, what.str() + " is a value of ONNX type " + std::to_string(kind) +
                                              ", which ort-napi does not convert yet");
  size_t count = 0;
  Check(g_ort->GetValueCount(value.get(), &count));
  auto element = [&](size_t i) {
    OrtValue* raw = nullptr;
    Check(g_ort->GetValue(value.get(), static_cast<int>(i), DefaultAllocator(), &raw));
    return ValuePtr(raw);
  };
  Napi::Object result = Napi::Object::New(env);
  if (kind == ONNX_TYPE_MAP) {  // GetValue gives the keys (0) and the values (1), each a tensor
    result.Set("keys", KnownTensorToJs(env, element(0), what, lent));
    result.Set("values", KnownTensorToJs(env, element(1), what, lent));
    return result;
  }
  Napi::Array items = Napi::Array::New(env, count);
  for (size_t i = 0; i < count; ++i) items.Set(static_cast<uint32_t>(i), ValueToJs(env, element(i), what, lent));
  result.Set("sequence", items);
  return result;
}

ValuePtr ValueFromJs(Napi::Env env, Napi::Value js, const ValueName& what, std::vector<LentRange>* lent,
                     std::vector<Napi::Value>* lent_arrays, std::vector<ValuePtr>* parts) {
  auto tensor = [&](Napi::Value triple) {
    if (!triple.IsArray() || triple.As<Napi::Array>().Length() != 3)
      throw Napi::TypeError::New(env, what.str() + ": expected a tensor as [typeCode, data, dims]");
    Napi::Array t = triple.As<Napi::Array>();
    LentRange range;
    ValuePtr value = TensorFromJs(env, t.Get(0u), t.Get(1u), t.Get(2u), what, &range);
    if (range.first != nullptr) {
      lent->push_back(range);
      lent_arrays->push_back(t.Get(1u));
    }
    return value;
  };
  if (js.IsArray()) return tensor(js);
  if (!js.IsObject()) throw Napi::TypeError::New(env, what.str() + ": expected a tensor, a sequence or a map");
  Napi::Object object = js.As<Napi::Object>();
  std::vector<OrtValue*> members;
  ONNXType kind;
  if (object.Has("sequence")) {
    Napi::Value items = object.Get("sequence");
    if (!items.IsArray()) throw Napi::TypeError::New(env, what.str() + ": a sequence must be an array");
    Napi::Array array = items.As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); ++i) {
      parts->push_back(ValueFromJs(env, array.Get(i), what, lent, lent_arrays, parts));
      members.push_back(parts->back().get());
    }
    kind = ONNX_TYPE_SEQUENCE;
  } else if (object.Has("keys") && object.Has("values")) {
    parts->push_back(tensor(object.Get("keys")));
    members.push_back(parts->back().get());
    parts->push_back(tensor(object.Get("values")));
    members.push_back(parts->back().get());
    kind = ONNX_TYPE_MAP;
  } else {
    throw Napi::TypeError::New(env, what.str() + ": expected a tensor, a sequence or a map");
  }
  if (members.empty()) throw Napi::RangeError::New(env, what.str() + ": ONNX Runtime cannot make an empty sequence from JS values");
  OrtValue* raw = nullptr;
  Check(g_ort->CreateValue(members.data(), members.size(), kind, &raw));
  return ValuePtr(raw);
}

}  // namespace ortn
