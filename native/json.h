// json.h: parseJson, a JSON reader for v2 infer requests (numbers by std::from_chars, inputs[i].data
// as Float64Arrays); undefined where it is unsure, and JSON.parse decides.
#pragma once

#include <napi.h>

namespace ortn {

// [sync] parseJson(bytes: Uint8Array, length?: number): unknown | undefined
Napi::Value ParseJson(const Napi::CallbackInfo& info);

}  // namespace ortn
