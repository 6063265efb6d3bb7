// ort_api.h: the OrtApi table, loaded with dlopen at run time, and ONNX Runtime errors as C++ values.
#pragma once

#include <onnxruntime_c_api.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace ortn {

// ONNX Runtime's C functions; null until LoadOrt succeeds. Set once per process, never unset.
extern const OrtApi* g_ort;

struct LibraryInfo {
  std::string path;     // as given to dlopen
  std::string version;  // OrtGetApiBase()->GetVersionString()
};

// Loads the library at `path` (once per process). Returns "" on success, else a message that
// names the path tried and, where it could be read, the version found.
std::string LoadOrt(const std::string& path);
bool OrtLoaded();
const LibraryInfo& Library();
// A symbol of the loaded library outside the OrtApi table (OrtSessionOptionsAppendExecutionProvider_CPU).
void* OrtSymbol(const char* name);

// An ONNX Runtime error (or one of ours, given one of its codes). Safe to throw and catch off the
// main thread: it holds no JS value.
class OrtFailure : public std::runtime_error {
 public:
  OrtFailure(OrtErrorCode code, const std::string& message) : std::runtime_error(message), code(code) {}
  OrtErrorCode code;
};

// Takes ownership of `status` and throws OrtFailure when it reports an error.
inline void Check(OrtStatus* status) {
  if (status == nullptr) return;
  OrtErrorCode code = g_ort->GetErrorCode(status);
  std::string message = g_ort->GetErrorMessage(status);
  g_ort->ReleaseStatus(status);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  throw OrtFailure(code, message);
}

// Runs `body` (off the main thread) and returns how it failed, if it did: the one place where work
// on a runner thread turns exceptions into a value to report on the main thread.
template <typename F>
std::optional<OrtFailure> Capture(F&& body) noexcept {
  try {
    body();
    return std::nullopt;
  } catch (const OrtFailure& failure) {
    return failure;
  } catch (const std::exception& error) {
    return OrtFailure(ORT_RUNTIME_EXCEPTION, error.what());
  }
}

// ONNX Runtime's name for an error code, without the ORT_ prefix ("INVALID_ARGUMENT").
const char* ErrorCodeName(OrtErrorCode code);

// Bytes per storage unit of a tensor element type; 0 for types ort-napi does not convert as numbers
// (string). A unit is one element, or for 4-bit types a byte holding two (low nibble first).
size_t ElementSize(ONNXTensorElementDataType type);
// Storage units that `count` elements of `type` take.
size_t StorageUnits(ONNXTensorElementDataType type, size_t count);

}  // namespace ortn
