// json.cc: a JSON reader for v2 infer requests, where the cost is in the numbers. V8's JSON.parse
// takes about 200 ns a number written with 17 digits (a float32 printed as a double, what most
// clients send): 107 us for a 512-wide input, most of a request's main-thread time. This reader
// converts numbers with std::from_chars (libstdc++ 12 uses fast_float, correctly rounded: the same
// doubles as JSON.parse), and hands the "data" array of each of the request's inputs, where it is
// all numbers, over as one flat Float64Array instead of a JS array of numbers.
//
// It pays where numbers dominate: a document of a few dozen values costs more here (Node-API builds
// objects a property at a time) than in JSON.parse, so the caller hands it large bodies only, and
// it gives up on a document of many strings or small values (kMostValues).
//
// It takes only what it is sure of and gives up (returns undefined) on anything else: malformed
// JSON, a string that is not valid UTF-8 or holds an escaped lone surrogate, a byte it does not
// expect. The caller then runs JSON.parse, whose result (or SyntaxError) stands. So a document this
// reader accepts parses to what JSON.parse gives, except that those arrays arrive as Float64Arrays;
// test/86.json holds it to that on generated and mutated documents.
//
// No recursion: containers live on an explicit stack, so depth costs heap, never the C stack.
#include "json.h"

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace ortn {

namespace {

// Values made one by one (all but the Float64Arrays): past this many, JSON.parse, which makes them
// faster than Node-API calls can (about 0.3 us each here), takes the document.
constexpr size_t kMostValues = 128;

class Reader {
 public:
  Reader(napi_env env, const char* begin, const char* end) : env_(env), p_(begin), end_(end) {}

  // The document's value, or nullptr: not for this reader (the caller falls back to JSON.parse).
  napi_value Document() {
    struct Frame {
      napi_value container;
      bool is_array;
      uint32_t index;     // arrays: the next element's index
      std::string key;    // objects: the key whose value is being read, as UTF-8
    };
    std::vector<Frame> stack;
    for (;;) {
      // Read one value; a container opens a frame and its first member is read next.
      napi_value value = nullptr;
      if (++made_ > kMostValues) return nullptr;
      SkipSpace();
      if (p_ == end_) return nullptr;
      const char c = *p_;
      if (c == '{') {
        ++p_;
        if (napi_create_object(env_, &value) != napi_ok) return nullptr;
        if (!Closes('}')) {
          stack.push_back({value, false, 0, {}});
          if (!Key(stack.back().key)) return nullptr;
          continue;
        }
      } else if (c == '[') {
        // Only a request's inputs[i].data: everything else stays as JSON.parse makes it.
        if (stack.size() == 3 && !stack[0].is_array && stack[0].key == "inputs" && stack[1].is_array && !stack[2].is_array && stack[2].key == "data") value = Numbers();
        if (value == nullptr) {
          ++p_;
          if (napi_create_array(env_, &value) != napi_ok) return nullptr;
          if (!Closes(']')) {
            stack.push_back({value, true, 0, {}});
            continue;
          }
        }
      } else if (c == '"') {
        std::string& text = scratch_;
        bool ascii;
        if (Decode(text, ascii)) {
          const napi_status made = ascii ? napi_create_string_latin1(env_, text.data(), text.size(), &value) : napi_create_string_utf8(env_, text.data(), text.size(), &value);
          if (made != napi_ok) return nullptr;
        }
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        double number;
        if (Number(number) && napi_create_double(env_, number, &value) != napi_ok) return nullptr;
      } else if (Literal("true")) {
        if (napi_get_boolean(env_, true, &value) != napi_ok) return nullptr;
      } else if (Literal("false")) {
        if (napi_get_boolean(env_, false, &value) != napi_ok) return nullptr;
      } else if (Literal("null")) {
        if (napi_get_null(env_, &value) != napi_ok) return nullptr;
      }
      if (value == nullptr) return nullptr;

      // A value is complete: it goes into its container, and containers it completes close.
      for (;;) {
        if (stack.empty()) {
          SkipSpace();
          return p_ == end_ ? value : nullptr;  // anything after the value: not JSON
        }
        Frame& top = stack.back();
        if (top.is_array) {
          if (napi_set_element(env_, top.container, top.index++, value) != napi_ok) return nullptr;
        } else if (!Member(top.container, top.key, value)) {
          return nullptr;
        }
        SkipSpace();
        if (p_ == end_) return nullptr;
        if (*p_ == ',') {
          ++p_;
          if (!top.is_array && !Key(top.key)) return nullptr;
          break;  // the next member's value
        }
        if (*p_ != (top.is_array ? ']' : '}')) return nullptr;
        ++p_;
        value = top.container;
        stack.pop_back();
      }
    }
  }

 private:
  void SkipSpace() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  // An empty container's closing bracket, taken if it is next.
  bool Closes(char bracket) {
    SkipSpace();
    if (p_ == end_ || *p_ != bracket) return false;
    ++p_;
    return true;
  }

  bool Literal(const char* word) {
    const size_t n = std::strlen(word);
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return false;
    p_ += n;
    return true;
  }

  // An object's key, decoded, and its ':'.
  bool Key(std::string& key) {
    SkipSpace();
    if (p_ == end_ || *p_ != '"') return false;
    bool ascii;
    if (!Decode(key, ascii)) return false;
    SkipSpace();
    if (p_ == end_ || *p_ != ':') return false;
    ++p_;
    return true;
  }

  // object[key] = value, as JSON.parse does it: an own data property, the last of equal keys wins.
  bool Member(napi_value object, const std::string& key, napi_value value) {
    // The usual key: set by its C string, which Node-API makes an internalized string at once.
    if (key != "__proto__" && key.find('\0') == std::string::npos) return napi_set_named_property(env_, object, key.c_str(), value) == napi_ok;
    napi_value name;
    if (napi_create_string_utf8(env_, key.data(), key.size(), &name) != napi_ok) return false;
    if (key != "__proto__") return napi_set_property(env_, object, name, value) == napi_ok;
    // Setting "__proto__" would change the object's prototype; JSON.parse defines an own property.
    napi_property_descriptor own = {nullptr, name, nullptr, nullptr, nullptr, value, napi_default_jsproperty, nullptr};
    return napi_define_properties(env_, object, 1, &own) == napi_ok;
  }

  // The string at p_ (its opening quote), decoded into `out` as UTF-8; `ascii`: all of it ASCII.
  bool Decode(std::string& out, bool& ascii) {
    const char* start = ++p_;
    // Printable ASCII without escapes, the usual case.
    while (p_ < end_ && *p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20 && static_cast<unsigned char>(*p_) < 0x80) ++p_;
    if (p_ == end_) return false;
    out.assign(start, p_);
    ascii = true;
    while (p_ < end_ && *p_ != '"') {
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c < 0x20) return false;  // a raw control character: JSON.parse refuses it
      if (c >= 0x80) {
        const size_t n = Utf8Length(p_, end_);
        if (n == 0) return false;  // not UTF-8: left to JSON.parse's replacement characters
        out.append(p_, n);
        p_ += n;
        ascii = false;
        continue;
      }
      if (c != '\\') {
        out.push_back(static_cast<char>(c));
        ++p_;
        continue;
      }
      if (++p_ == end_) return false;
      switch (*p_++) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          uint32_t unit;
          if (!Hex4(unit)) return false;
          if (unit >= 0xDC00 && unit <= 0xDFFF) return false;  // a lone low surrogate
          if (unit >= 0xD800 && unit <= 0xDBFF) {
            uint32_t low;
            if (end_ - p_ < 6 || p_[0] != '\\' || p_[1] != 'u') return false;  // a lone high surrogate
            p_ += 2;
            if (!Hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
            unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
          }
          if (unit >= 0x80) ascii = false;
          AppendUtf8(out, unit);
          break;
        }
        default:
          return false;
      }
    }
    if (p_ == end_) return false;
    ++p_;
    return true;
  }

  bool Hex4(uint32_t& unit) {
    if (end_ - p_ < 4) return false;
    unit = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = *p_++;
      unit <<= 4;
      if (h >= '0' && h <= '9') unit |= h - '0';
      else if (h >= 'a' && h <= 'f') unit |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F') unit |= h - 'A' + 10;
      else return false;
    }
    return true;
  }

  static void AppendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // The length of one well-formed UTF-8 sequence at p (Unicode's table 3-7), or 0.
  static size_t Utf8Length(const char* p, const char* end) {
    const auto* s = reinterpret_cast<const unsigned char*>(p);
    const size_t left = static_cast<size_t>(end - p);
    auto cont = [&](size_t i, unsigned lo = 0x80, unsigned hi = 0xBF) { return i < left && s[i] >= lo && s[i] <= hi; };
    const unsigned c = s[0];
    if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
    if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
    if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
    if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;  // no surrogates
    if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
    if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
    if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
    return 0;
  }

  // A number in JSON's grammar at p_, as the double JSON.parse gives. from_chars finds its end (it
  // reads the longest number it can), then what it takes beyond JSON's grammar is refused: a
  // leading zero ("01"), a point without digits after it ("1.", "1.e5"), "-inf" and "-nan".
  bool Number(double& out) {
    const char* start = p_;
    auto result = std::from_chars(start, end_, out);
    const char* q = result.ptr;
    if (result.ec == std::errc::invalid_argument) return false;
    const char* s = start + (*start == '-');
    if (s == q || *s < '0' || *s > '9') return false;
    if (*s == '0' && s + 1 < q && s[1] >= '0' && s[1] <= '9') return false;
    const void* point = std::memchr(s, '.', static_cast<size_t>(q - s));
    if (point != nullptr) {
      const char* after = static_cast<const char*>(point) + 1;
      if (after == q || *after < '0' || *after > '9') return false;
    }
    if (result.ec == std::errc::result_out_of_range) {
      // Past double's range: strtod gives what JSON.parse does (an infinity, a zero or a subnormal).
      const std::string copy(start, q);
      out = std::strtod(copy.c_str(), nullptr);
    }
    p_ = q;
    return true;
  }

  // A "data" array of numbers, nested arrays flattened in row-major order, as one Float64Array; or
  // nullptr with p_ unmoved where anything else is in it (strings, booleans, an empty array...).
  napi_value Numbers() {
    const char* start = p_;
    numbers_.clear();
    size_t depth = 0;
    for (;;) {
      // A value: an array opens, or a number.
      SkipSpace();
      if (p_ == end_) break;
      if (*p_ == '[') {
        ++p_;
        ++depth;
        SkipSpace();
        if (p_ < end_ && *p_ == ']') break;  // an empty array: not for this path
        continue;
      }
      double number;
      if (!(*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) || !Number(number)) break;
      numbers_.push_back(number);
      // After a value: a comma, or arrays closing.
      bool next = false;
      for (;;) {
        SkipSpace();
        if (p_ == end_) break;
        if (*p_ == ',') {
          ++p_;
          next = true;
          break;
        }
        if (*p_ != ']') break;
        ++p_;
        if (--depth == 0) return Float64Array();
      }
      if (!next) break;
    }
    p_ = start;
    return nullptr;
  }

  napi_value Float64Array() {
    const size_t bytes = numbers_.size() * sizeof(double);
    void* data = nullptr;
    napi_value buffer, array;
    if (napi_create_arraybuffer(env_, bytes, &data, &buffer) != napi_ok) return nullptr;
    std::memcpy(data, numbers_.data(), bytes);
    if (napi_create_typedarray(env_, napi_float64_array, numbers_.size(), buffer, 0, &array) != napi_ok) return nullptr;
    return array;
  }

  napi_env env_;
  const char* p_;
  const char* end_;
  std::vector<double> numbers_;
  std::string scratch_;
  size_t made_ = 0;
};

}  // namespace

// [sync] parseJson(bytes: Uint8Array, length: number): the value, or undefined where JSON.parse must decide.
Napi::Value ParseJson(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "parseJson: expected a Uint8Array");
  }
  Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
  size_t length = bytes.ElementLength();
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "parseJson: length must be a number");
    const double given = info[1].As<Napi::Number>().DoubleValue();
    if (!(given >= 0 && given <= static_cast<double>(length))) throw Napi::RangeError::New(env, "parseJson: length is outside the array");
    length = static_cast<size_t>(given);
  }
  const char* begin = reinterpret_cast<const char*>(bytes.Data());
  Reader reader(env, begin, begin + length);
  napi_value value = reader.Document();
  if (value == nullptr) {
    // A Node-API call that failed may have left an exception (out of memory, say): it stands.
    if (env.IsExceptionPending()) throw env.GetAndClearPendingException();
    return env.Undefined();
  }
  return Napi::Value(env, value);
}

}  // namespace ortn
