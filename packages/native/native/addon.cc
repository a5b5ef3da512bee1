// @convkit/native: oneDNN's CPU convolutions and matrix products for float32 arrays, exposed to Node through
// Node-API. Every function works in place on caller-owned Float32Arrays (views of the wasm heap, in @convkit/core)
// and runs synchronously on oneDNN's OpenMP threads. Layouts are TensorFlow's: activations NHWC, filters HWIO,
// row-major matrices. Primitives are built once per shape and cached.
#include <node_api.h>

#include <omp.h>
#include <pthread.h>
#include <signal.h>

#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dnnl.hpp"
#include "jpeg.h"

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

// ---------------------------------------------------------------------------------------------------------------
// Node-API helpers

struct JsError {
  std::string message;
};

void check(napi_env env, napi_status status, const char* what) {
  if (status != napi_ok) throw JsError{std::string("@convkit/native: ") + what + " failed"};
}

struct FloatView {
  float* data = nullptr;
  size_t length = 0;
};

FloatView float_array(napi_env env, napi_value value, const char* name, size_t expected) {
  bool is_typed = false;
  check(env, napi_is_typedarray(env, value, &is_typed), "napi_is_typedarray");
  if (!is_typed) throw JsError{std::string(name) + ": expected a Float32Array"};
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t offset = 0;
  check(env, napi_get_typedarray_info(env, value, &type, &length, &data, &buffer, &offset), "napi_get_typedarray_info");
  if (type != napi_float32_array) throw JsError{std::string(name) + ": expected a Float32Array"};
  if (length < expected) {
    std::ostringstream message;
    message << name << ": expected at least " << expected << " floats, received " << length;
    throw JsError{message.str()};
  }
  return FloatView{static_cast<float*>(data), length};
}

bool is_null_or_undefined(napi_env env, napi_value value) {
  napi_valuetype type;
  check(env, napi_typeof(env, value, &type), "napi_typeof");
  return type == napi_null || type == napi_undefined;
}

int64_t int_arg(napi_env env, napi_value value, const char* name) {
  int64_t result = 0;
  if (napi_get_value_int64(env, value, &result) != napi_ok) throw JsError{std::string(name) + ": expected an integer"};
  return result;
}

double number_arg(napi_env env, napi_value value, const char* name) {
  double result = 0;
  if (napi_get_value_double(env, value, &result) != napi_ok) throw JsError{std::string(name) + ": expected a number"};
  return result;
}

bool bool_arg(napi_env env, napi_value value, const char* name) {
  bool result = false;
  if (napi_get_value_bool(env, value, &result) != napi_ok) throw JsError{std::string(name) + ": expected a boolean"};
  return result;
}

std::vector<napi_value> args(napi_env env, napi_callback_info info, size_t count) {
  std::vector<napi_value> values(count);
  size_t received = count;
  check(env, napi_get_cb_info(env, info, &received, values.data(), nullptr, nullptr), "napi_get_cb_info");
  if (received < count) {
    std::ostringstream message;
    message << "expected " << count << " arguments, received " << received;
    throw JsError{message.str()};
  }
  return values;
}

template <typename F>
napi_value guarded(napi_env env, F body) {
  try {
    return body();
  } catch (const JsError& error) {
    napi_throw_error(env, nullptr, error.message.c_str());
  } catch (const dnnl::error& error) {
    std::string message = std::string("oneDNN: ") + error.what();
    napi_throw_error(env, nullptr, message.c_str());
  } catch (const std::exception& error) {
    napi_throw_error(env, nullptr, error.what());
  }
  return nullptr;
}

napi_value undefined(napi_env env) {
  napi_value value;
  napi_get_undefined(env, &value);
  return value;
}

// ---------------------------------------------------------------------------------------------------------------
// Convolution geometry, in the order the JavaScript side packs it into an Int32Array.

struct Conv {
  int64_t n, h, w, c, oc, kh, kw, oh, ow, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, pad_bottom,
      pad_right;
  static constexpr size_t kFields = 17;

  static Conv from(napi_env env, napi_value value) {
    bool is_typed = false;
    check(env, napi_is_typedarray(env, value, &is_typed), "napi_is_typedarray");
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    if (is_typed) check(env, napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr), "info");
    if (!is_typed || type != napi_int32_array || length != kFields) {
      throw JsError{"geometry: expected an Int32Array of 17 convolution parameters"};
    }
    const int32_t* p = static_cast<const int32_t*>(data);
    Conv conv{p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16]};
    for (size_t i = 0; i < kFields; ++i) {
      // Sizes, strides and dilations are positive; oneDNN accepts negative bottom and right pads (for input rows and
      // columns a stride skips), but never below minus a kernel's extent.
      const bool pad = i >= 13;
      if ((!pad && p[i] < 1) || (pad && p[i] < -(p[5] > p[6] ? p[5] : p[6]) * (p[11] > p[12] ? p[11] : p[12]))) {
        std::ostringstream message;
        message << "geometry[" << i << "]: invalid value " << p[i];
        throw JsError{message.str()};
      }
    }
    return conv;
  }

  std::string key(const char* kind, int extra = 0) const {
    std::ostringstream k;
    k << kind << ':' << n << ',' << h << ',' << w << ',' << c << ',' << oc << ',' << kh << ',' << kw << ',' << oh << ','
      << ow << ',' << stride_h << ',' << stride_w << ',' << dilation_h << ',' << dilation_w << ',' << pad_top << ','
      << pad_left << ',' << pad_bottom << ',' << pad_right << ',' << extra;
    return k.str();
  }
  size_t src_size() const { return n * h * w * c; }
  size_t dst_size() const { return n * oh * ow * oc; }
  size_t weights_size() const { return kh * kw * c * oc; }
  memory::desc src_md(dt type = dt::f32) const { return memory::desc({n, c, h, w}, type, tag::nhwc); }
  memory::desc dst_md(dt type = dt::f32) const { return memory::desc({n, oc, oh, ow}, type, tag::nhwc); }
  memory::desc weights_md(tag t, dt type = dt::f32) const { return memory::desc({oc, c, kh, kw}, type, t); }
  memory::desc bias_md() const { return memory::desc({oc}, dt::f32, tag::x); }
  memory::dims strides() const { return {stride_h, stride_w}; }
  memory::dims dilates() const { return {dilation_h - 1, dilation_w - 1}; }  // oneDNN counts the gaps
  memory::dims pad_l() const { return {pad_top, pad_left}; }
  memory::dims pad_r() const { return {pad_bottom, pad_right}; }

  // Activations in the layout a Winograd primitive picks (`tag::any`), for `wino`; NHWC otherwise.
  memory::desc src_md_for(bool wino, dt type = dt::f32) const {
    return wino ? memory::desc({n, c, h, w}, type, tag::any) : src_md(type);
  }
  memory::desc dst_md_for(bool wino, dt type = dt::f32) const {
    return wino ? memory::desc({n, oc, oh, ow}, type, tag::any) : dst_md(type);
  }
  static dnnl::algorithm algorithm(bool wino) {
    return wino ? dnnl::algorithm::convolution_winograd : dnnl::algorithm::convolution_direct;
  }

  // `low`: bf16 source and weights (products in bf16, sums in f32), f32 destination. `wino`: oneDNN's Winograd
  // F(4×4, 3×3) algorithm, on activations in its own blocked layout.
  dnnl::convolution_forward::desc forward_desc(bool with_bias, bool low = false, bool wino = false) const {
    const dt in = low ? dt::bf16 : dt::f32;
    if (with_bias) {
      return dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algorithm(wino), src_md_for(wino, in),
                                             weights_md(tag::any, in), bias_md(), dst_md_for(wino), strides(),
                                             dilates(), pad_l(), pad_r());
    }
    return dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algorithm(wino), src_md_for(wino, in),
                                           weights_md(tag::any, in), dst_md_for(wino), strides(), dilates(), pad_l(),
                                           pad_r());
  }
};

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  static dnnl::stream s(engine());
  return s;
}

// A cached primitive with the reorder between the caller's weights (HWIO) and the layout the primitive chose.
struct Cached {
  dnnl::primitive primitive;
  bool reorder = false;     // whether the primitive's weights layout differs from HWIO
  dnnl::reorder weights_reorder;
  memory weights_scratch;   // the primitive's copy of the weights when reorder is true
  std::string impl;
  // bf16 and Winograd primitives: the conversions of the caller's f32 NHWC activation inputs (src or diff_dst; a
  // second for backward weights) into the type or layout the primitive reads (`low`), in scratch arenas 0 and 1.
  std::vector<dnnl::reorder> to_low;
  std::vector<memory::desc> low;
  // Winograd primitives: the activation output (dst or diff_src) in the primitive's layout, in scratch arena 2, and
  // its reorder into the caller's NHWC array.
  bool converted_output = false;
  memory::desc output_md;
  dnnl::reorder from_output;
};

// The calling thread's scratch arena number `slot` (0 and 1: converted inputs, 2: an output in a primitive's layout),
// at least `bytes` long. Every cached primitive shares them (a call converts, runs and converts back before it
// returns), so converted activations cost three buffers of the largest conversion seen, not one per layer and pass.
void* scratch(size_t slot, size_t bytes) {
  struct Arena {
    void* data = nullptr;
    size_t size = 0;
    ~Arena() { std::free(data); }
  };
  thread_local Arena arenas[3];
  Arena& arena = arenas[slot];
  if (arena.size < bytes) {
    std::free(arena.data);
    arena.size = 0;
    arena.data = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (arena.data == nullptr) throw std::bad_alloc();
    arena.size = bytes;
  }
  return arena.data;
}

// The precision of the convolutions: f32 (the default), or bf16 products with f32 sums where the CPU has bf16
// instructions (avx512_core_bf16, avx512_core_amx). Set by setPrecision.
bool& use_bf16() {
  static bool value = false;
  return value;
}

// Adds to `entry` the conversion of a caller's f32 array of descriptor `user` into `low_md` (bf16, or a Winograd
// primitive's layout).
void add_low_input(Cached& entry, const memory::desc& user, const memory::desc& low_md) {
  entry.low.push_back(low_md);
  entry.to_low.emplace_back(memory(user, engine(), nullptr), memory(low_md, engine(), nullptr));
}

// Converts the caller's f32 `data` into scratch arena `index` as the entry's conversion number `index` says, and
// returns that memory.
memory low_input(Cached& entry, size_t index, const memory::desc& user, float* data) {
  memory source(user, engine(), data);
  memory target(entry.low[index], engine(), scratch(index, entry.low[index].get_size()));
  entry.to_low[index].execute(stream(), source, target);
  return target;
}

// Adds to `entry` an output of descriptor `chosen` in scratch and its reorder into the caller's `user` array.
void add_converted_output(Cached& entry, const memory::desc& chosen, const memory::desc& user) {
  entry.converted_output = true;
  entry.output_md = chosen;
  entry.from_output = dnnl::reorder(memory(chosen, engine(), nullptr), memory(user, engine(), nullptr));
}

// The memory a primitive reads for the caller's f32 NHWC input `data` (descriptor `user`): the array itself, or its
// conversion number `index` (bf16, or a Winograd primitive's layout).
memory input_memory(Cached& entry, size_t index, const memory::desc& user, float* data) {
  return entry.low.empty() ? memory(user, engine(), data) : low_input(entry, index, user, data);
}

// The memory a primitive writes for the caller's f32 NHWC output `data`, and the copy into `data` after it ran.
memory output_memory(Cached& entry, const memory::desc& user, float* data) {
  if (!entry.converted_output) return memory(user, engine(), data);
  return memory(entry.output_md, engine(), scratch(2, entry.output_md.get_size()));
}
void finish_output(Cached& entry, const memory::desc& user, float* data) {
  if (!entry.converted_output) return;
  memory source(entry.output_md, engine(), scratch(2, entry.output_md.get_size()));
  memory target(user, engine(), data);
  entry.from_output.execute(stream(), source, target);
}

// The convolution algorithm: 'auto' (the default) runs the shapes measured faster with Winograd that way, 'direct'
// never does, 'winograd' does wherever oneDNN has a Winograd kernel for the shape. Set by setConvAlgorithm.
enum ConvAlgorithm { kAlgorithmAuto = 0, kAlgorithmDirect = 1, kAlgorithmWinograd = 2 };
ConvAlgorithm& conv_algorithm() {
  static ConvAlgorithm value = kAlgorithmAuto;
  return value;
}

// Whether a float32 convolution is tried with Winograd F(4×4, 3×3) under the current setting. oneDNN 2.x has it on
// AVX-512 CPUs, for 3×3 kernels at stride 1 without dilation over channel counts in multiples of 16 (its own check
// refuses the rest; the call then stays direct). 'auto' adds what measurement showed on a 2-core Xeon (AVX-512), each
// pass timed in a model's place on the wasm heap with its layout conversions: Winograd saves multiplies in proportion
// to c·oc per pixel and its conversions cost memory traffic in proportion to c + oc, so it gains where
// c·oc / (c + oc) is at least 20 (32 → 64 channels at 16×16: 13.4 → 11.2 ms for the three passes at batch 64, 64 → 64:
// 26.3 → 18.7, 128 → 128 at 8×8: 27.7 → 15.4) and not below (32 → 32 at 32×32: 32.0 against 32.1), and only on outputs
// whose sides are multiples of 4, which its 4×4 tiles cover exactly (32 → 64 at 14×14, tiles over 16×16: 11.0 against
// 11.5 ms; at 28×28: 49.5 → 42.7).
bool winograd_for(const Conv& conv) {
  const ConvAlgorithm setting = conv_algorithm();
  if (setting == kAlgorithmDirect) return false;
  const bool shape = conv.kh == 3 && conv.kw == 3 && conv.stride_h == 1 && conv.stride_w == 1 &&
                     conv.dilation_h == 1 && conv.dilation_w == 1 && conv.c % 16 == 0 && conv.oc % 16 == 0;
  if (!shape) return false;
  if (setting == kAlgorithmWinograd) return true;
  return conv.c >= 32 && conv.c * conv.oc >= 20 * (conv.c + conv.oc) && conv.oh % 4 == 0 && conv.ow % 4 == 0;
}

std::unordered_map<std::string, std::unique_ptr<Cached>>& cache() {
  static std::unordered_map<std::string, std::unique_ptr<Cached>> c;
  return c;
}

// Activations fused into the forward convolution, in the numbering of the JavaScript side.
enum Activation { kLinear = 0, kRelu = 1, kRelu6 = 2, kLeakyRelu = 3, kElu = 4, kSigmoid = 5 };

dnnl::primitive_attr activation_attr(int activation, float alpha) {
  dnnl::post_ops ops;
  switch (activation) {
    case kLinear:
      break;
    case kRelu:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      break;
    case kRelu6:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, 6.f);
      break;
    case kLeakyRelu:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, alpha, 0.f);
      break;
    case kElu:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_elu, 1.f, 0.f);
      break;
    case kSigmoid:
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f);
      break;
    default:
      throw JsError{"activation: expected 0 (linear) to 5 (sigmoid), received " + std::to_string(activation)};
  }
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  return attr;
}

// Records the layout a primitive chose for its weights (or diff weights) and, when it is not HWIO, the reorder
// between the caller's HWIO array and the primitive's copy: into the copy (`to_hwio` false) or out of it.
std::unique_ptr<Cached> with_weights(dnnl::primitive primitive, const memory::desc& chosen, const std::string& impl,
                                     const Conv& conv, bool to_hwio) {
  auto entry = std::make_unique<Cached>();
  entry->primitive = std::move(primitive);
  entry->impl = impl;
  entry->reorder = chosen != conv.weights_md(tag::hwio);
  if (entry->reorder) {
    entry->weights_scratch = memory(chosen, engine());
    memory user(conv.weights_md(tag::hwio), engine(), nullptr);
    entry->weights_reorder =
        to_hwio ? dnnl::reorder(entry->weights_scratch, user) : dnnl::reorder(user, entry->weights_scratch);
  }
  return entry;
}

// The cached entry under `key`, made by `make` on first use.
template <typename Make>
Cached& cached(const std::string& shape_key, Make make) {
  // oneDNN splits a primitive's work for the thread count current when it is created: a primitive made at 1 thread
  // keeps running on 1 after setThreads(2) (measured: no speed-up at all), so the count is part of the key.
  const std::string key = shape_key + "@t" + std::to_string(omp_get_max_threads());
  auto found = cache().find(key);
  if (found != cache().end()) return *found->second;
  return *cache().emplace(key, make()).first->second;
}

// A bf16 primitive is used only when oneDNN gives a JIT implementation for it (never its reference loops); a
// convolution it would run as a reference falls back to f32. 
bool jit(const std::string& impl) { return impl.find("ref") == std::string::npos; }

// A Winograd primitive descriptor made by `make`, or nothing when oneDNN has no Winograd kernel for the shape.
template <typename Pd, typename Make>
std::optional<Pd> winograd_pd(Make make) {
  try {
    return make();
  } catch (const dnnl::error&) {
    return std::nullopt;
  }
}

Cached& forward_primitive(const Conv& conv, bool with_bias, int activation, float alpha, bool low) {
  const bool try_wino = !low && winograd_for(conv);
  const std::string key = conv.key(low ? "fwd_bf16" : try_wino ? "fwd_wino" : "fwd", with_bias * 100 + activation) +
                          ":" + std::to_string(alpha);
  return cached(key, [&] {
    using Pd = dnnl::convolution_forward::primitive_desc;
    const auto attr = activation_attr(activation, alpha);
    std::optional<Pd> wino;
    if (try_wino) wino = winograd_pd<Pd>([&] { return Pd(conv.forward_desc(with_bias, false, true), attr, engine()); });
    const Pd pd = wino ? *wino : Pd(conv.forward_desc(with_bias, low), attr, engine());
    auto entry = with_weights(dnnl::convolution_forward(pd), pd.weights_desc(), pd.impl_info_str(), conv, false);
    if (low) add_low_input(*entry, conv.src_md(), conv.src_md(dt::bf16));
    if (wino) {
      add_low_input(*entry, conv.src_md(), pd.src_desc());
      add_converted_output(*entry, pd.dst_desc(), conv.dst_md());
    }
    return entry;
  });
}

Cached& backward_data_primitive(const Conv& conv, bool low) {
  const bool try_wino = !low && winograd_for(conv);
  return cached(conv.key(low ? "bwd_data_bf16" : try_wino ? "bwd_data_wino" : "bwd_data"), [&] {
    using Pd = dnnl::convolution_backward_data::primitive_desc;
    const auto make = [&](bool wino) {
      const dt in = low ? dt::bf16 : dt::f32;
      auto hint = dnnl::convolution_forward::primitive_desc(conv.forward_desc(false, low, wino), engine());
      auto desc = dnnl::convolution_backward_data::desc(Conv::algorithm(wino), conv.src_md_for(wino),
                                                        conv.weights_md(tag::any, in), conv.dst_md_for(wino, in),
                                                        conv.strides(), conv.dilates(), conv.pad_l(), conv.pad_r());
      return Pd(desc, engine(), hint);
    };
    std::optional<Pd> wino;
    if (try_wino) wino = winograd_pd<Pd>([&] { return make(true); });
    const Pd pd = wino ? *wino : make(false);
    auto entry = with_weights(dnnl::convolution_backward_data(pd), pd.weights_desc(), pd.impl_info_str(), conv, false);
    if (low) add_low_input(*entry, conv.dst_md(), conv.dst_md(dt::bf16));
    if (wino) {
      add_low_input(*entry, conv.dst_md(), pd.diff_dst_desc());
      add_converted_output(*entry, pd.diff_src_desc(), conv.src_md());
    }
    return entry;
  });
}

Cached& backward_weights_primitive(const Conv& conv, bool low) {
  const bool try_wino = !low && winograd_for(conv);
  return cached(conv.key(low ? "bwd_weights_bf16" : try_wino ? "bwd_weights_wino" : "bwd_weights"), [&] {
    using Pd = dnnl::convolution_backward_weights::primitive_desc;
    const auto make = [&](bool wino) {
      const dt in = low ? dt::bf16 : dt::f32;
      auto hint = dnnl::convolution_forward::primitive_desc(conv.forward_desc(false, low, wino), engine());
      auto desc = dnnl::convolution_backward_weights::desc(Conv::algorithm(wino), conv.src_md_for(wino, in),
                                                           conv.weights_md(tag::any), conv.dst_md_for(wino, in),
                                                           conv.strides(), conv.dilates(), conv.pad_l(), conv.pad_r());
      return Pd(desc, engine(), hint);
    };
    std::optional<Pd> wino;
    if (try_wino) wino = winograd_pd<Pd>([&] { return make(true); });
    const Pd pd = wino ? *wino : make(false);
    auto entry = with_weights(dnnl::convolution_backward_weights(pd), pd.diff_weights_desc(), pd.impl_info_str(), conv,
                              true);
    if (low) {
      add_low_input(*entry, conv.src_md(), conv.src_md(dt::bf16));
      add_low_input(*entry, conv.dst_md(), conv.dst_md(dt::bf16));
    }
    if (wino) {
      add_low_input(*entry, conv.src_md(), pd.src_desc());
      add_low_input(*entry, conv.dst_md(), pd.diff_dst_desc());
    }
    return entry;
  });
}

// Whether this convolution runs in bf16: asked for, and oneDNN has a JIT bf16 implementation of the pass.
template <typename Make>
bool low_for(Make make) {
  if (!use_bf16()) return false;
  try {
    return jit(make().impl);
  } catch (const dnnl::error&) {
    return false;  // no bf16 implementation of this shape on this CPU
  }
}

// The largest |v| over n floats, or +inf when one of them is NaN or ±inf (v · 0 is NaN exactly for those).
float max_abs_or_inf(const float* v, size_t n) {
  float largest = 0.f;
  float poison = 0.f;
  const int64_t count = static_cast<int64_t>(n);
#pragma omp parallel for simd reduction(max : largest) reduction(+ : poison) if (count > 65536)
  for (int64_t i = 0; i < count; ++i) {
    const float a = std::fabs(v[i]);
    largest = a > largest ? a : largest;
    poison += v[i] * 0.f;
  }
  return poison == 0.f ? largest : std::numeric_limits<float>::infinity();
}

// Whether conv(x, filter) + bias can hold a NaN: a NaN or ±inf operand, or sums that could overflow (|x|·|w| over the
// fan-in plus |bias|, with room for rounding). oneDNN's relu and clip post-ops are max/min instructions that turn NaN
// into 0; tfjs's relu keeps NaN (a diverged layer must not look healthy), so such calls take the activation apart.
bool may_hold_nan(const Conv& conv, const FloatView& x, const FloatView& filter, const FloatView* bias) {
  const double fan_in = static_cast<double>(conv.kh) * conv.kw * conv.c;
  const double bound = static_cast<double>(max_abs_or_inf(x.data, conv.src_size())) *
                           max_abs_or_inf(filter.data, conv.weights_size()) * fan_in +
                       (bias == nullptr ? 0.0 : max_abs_or_inf(bias->data, static_cast<size_t>(conv.oc)));
  return !(bound < 1e37);
}

// tfjs's relu (code 1) and relu6 (code 2) in place, NaN kept: the activation for calls may_hold_nan flags.
void activate_keeping_nan(float* y, size_t n, int activation) {
  const int64_t count = static_cast<int64_t>(n);
#pragma omp parallel for schedule(static) if (count > 65536)
  for (int64_t i = 0; i < count; ++i) {
    const float v = y[i];
    if (v != v) continue;
    y[i] = v > 0.f ? (activation == 2 && v > 6.f ? 6.f : v) : 0.f;
  }
}

// conv2d(geometry, x, filter, bias | null, y, activation, alpha): y = activation(conv(x, filter) + bias).
napi_value Conv2d(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 7);
    const Conv conv = Conv::from(env, a[0]);
    FloatView x = float_array(env, a[1], "x", conv.src_size());
    FloatView filter = float_array(env, a[2], "filter", conv.weights_size());
    const bool with_bias = !is_null_or_undefined(env, a[3]);
    FloatView bias = with_bias ? float_array(env, a[3], "bias", conv.oc) : FloatView{};
    FloatView y = float_array(env, a[4], "y", conv.dst_size());
    const int requested = static_cast<int>(int_arg(env, a[5], "activation"));
    const float alpha = static_cast<float>(number_arg(env, a[6], "alpha"));
    // relu and relu6 are fused unless the sums could hold a NaN (see may_hold_nan): then linear, and the activation after.
    const bool apart = (requested == 1 || requested == 2) && may_hold_nan(conv, x, filter, with_bias ? &bias : nullptr);
    const int activation = apart ? 0 : requested;
    const bool low = low_for([&]() -> Cached& { return forward_primitive(conv, with_bias, activation, alpha, true); });
    Cached& entry = forward_primitive(conv, with_bias, activation, alpha, low);
    memory user_weights(conv.weights_md(tag::hwio), engine(), filter.data);
    if (entry.reorder) {
      entry.weights_reorder.execute(stream(), user_weights, entry.weights_scratch);
    }
    std::unordered_map<int, memory> io{
        {DNNL_ARG_SRC, input_memory(entry, 0, conv.src_md(), x.data)},
        {DNNL_ARG_WEIGHTS, entry.reorder ? entry.weights_scratch : user_weights},
        {DNNL_ARG_DST, output_memory(entry, conv.dst_md(), y.data)},
    };
    if (with_bias) io.emplace(DNNL_ARG_BIAS, memory(conv.bias_md(), engine(), bias.data));
    entry.primitive.execute(stream(), io);
    finish_output(entry, conv.dst_md(), y.data);
    stream().wait();
    if (apart) activate_keeping_nan(y.data, conv.dst_size(), requested);
    return undefined(env);
  });
}

// Runs a backward-data entry: dx (the caller's NHWC array) from diff_dst and the caller's HWIO filter.
void run_backward_data(Cached& entry, const Conv& conv, const memory& diff_dst, float* filter, float* dx) {
  memory user_weights(conv.weights_md(tag::hwio), engine(), filter);
  if (entry.reorder) entry.weights_reorder.execute(stream(), user_weights, entry.weights_scratch);
  entry.primitive.execute(stream(), {{DNNL_ARG_DIFF_DST, diff_dst},
                                     {DNNL_ARG_WEIGHTS, entry.reorder ? entry.weights_scratch : user_weights},
                                     {DNNL_ARG_DIFF_SRC, output_memory(entry, conv.src_md(), dx)}});
  finish_output(entry, conv.src_md(), dx);
  stream().wait();
}

// Runs a backward-weights entry: dfilter (the caller's HWIO array) from src and diff_dst.
void run_backward_weights(Cached& entry, const Conv& conv, const memory& src, const memory& diff_dst, float* dfilter) {
  memory user_weights(conv.weights_md(tag::hwio), engine(), dfilter);
  entry.primitive.execute(stream(), {{DNNL_ARG_SRC, src},
                                     {DNNL_ARG_DIFF_DST, diff_dst},
                                     {DNNL_ARG_DIFF_WEIGHTS, entry.reorder ? entry.weights_scratch : user_weights}});
  if (entry.reorder) entry.weights_reorder.execute(stream(), entry.weights_scratch, user_weights);
  stream().wait();
}

// conv2dBackwardData(geometry, dy, filter, dx): dx = the gradient of conv(x, filter) with respect to x.
napi_value Conv2dBackwardData(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 4);
    const Conv conv = Conv::from(env, a[0]);
    FloatView dy = float_array(env, a[1], "dy", conv.dst_size());
    FloatView filter = float_array(env, a[2], "filter", conv.weights_size());
    FloatView dx = float_array(env, a[3], "dx", conv.src_size());
    const bool low = low_for([&]() -> Cached& { return backward_data_primitive(conv, true); });
    Cached& entry = backward_data_primitive(conv, low);
    run_backward_data(entry, conv, input_memory(entry, 0, conv.dst_md(), dy.data), filter.data, dx.data);
    return undefined(env);
  });
}

// conv2dBackwardFilter(geometry, x, dy, dfilter): dfilter = the gradient of conv(x, filter) with respect to filter.
napi_value Conv2dBackwardFilter(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 4);
    const Conv conv = Conv::from(env, a[0]);
    FloatView x = float_array(env, a[1], "x", conv.src_size());
    FloatView dy = float_array(env, a[2], "dy", conv.dst_size());
    FloatView dfilter = float_array(env, a[3], "dfilter", conv.weights_size());
    const bool low = low_for([&]() -> Cached& { return backward_weights_primitive(conv, true); });
    Cached& entry = backward_weights_primitive(conv, low);
    run_backward_weights(entry, conv, input_memory(entry, 0, conv.src_md(), x.data),
                         input_memory(entry, 1, conv.dst_md(), dy.data), dfilter.data);
    return undefined(env);
  });
}

// matMul(batch, m, n, k, transposeA, transposeB, a, aStride, b, bStride, c): for each batch i,
// c[i] = op(a[i]) · op(b[i]) with row-major m×n results; a stride of 0 broadcasts an operand.
// Asynchronous signals (SIGPROF from `node --cpu-prof`, SIGINT, SIGTERM, ...) held back on this thread while it lives,
// and delivered when it ends. oneDNN 2.6's dnnl_sgemm, interrupted by a signal handler on its thread, corrupted the
// process's heap (`node --cpu-prof` over a loop of matMul calls aborted in glibc's free within seconds; with the
// signals held back, never). Faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP) and SIGABRT stay open.
class AsyncSignalsBlocked {
 public:
  AsyncSignalsBlocked() {
    sigset_t set;
    sigfillset(&set);
    for (int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT}) sigdelset(&set, fault);
    pthread_sigmask(SIG_BLOCK, &set, &previous_);
  }
  ~AsyncSignalsBlocked() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  AsyncSignalsBlocked(const AsyncSignalsBlocked&) = delete;
  AsyncSignalsBlocked& operator=(const AsyncSignalsBlocked&) = delete;

 private:
  sigset_t previous_;
};

napi_value MatMul(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 11);
    const int64_t batch = int_arg(env, a[0], "batch");
    const int64_t m = int_arg(env, a[1], "m");
    const int64_t n = int_arg(env, a[2], "n");
    const int64_t k = int_arg(env, a[3], "k");
    if (batch <= 0 || m <= 0 || n <= 0 || k <= 0) throw JsError{"matMul: batch, m, n and k must be positive"};
    const bool transpose_a = bool_arg(env, a[4], "transposeA");
    const bool transpose_b = bool_arg(env, a[5], "transposeB");
    const int64_t a_stride = int_arg(env, a[7], "aStride");
    const int64_t b_stride = int_arg(env, a[9], "bStride");
    if (a_stride < 0 || b_stride < 0) throw JsError{"matMul: aStride and bStride must be at least 0"};
    FloatView lhs = float_array(env, a[6], "a", static_cast<size_t>(a_stride * (batch - 1) + m * k));
    FloatView rhs = float_array(env, a[8], "b", static_cast<size_t>(b_stride * (batch - 1) + k * n));
    FloatView out = float_array(env, a[10], "c", static_cast<size_t>(batch * m * n));
    const int64_t lda = transpose_a ? m : k;
    const int64_t ldb = transpose_b ? k : n;
    const AsyncSignalsBlocked blocked;
    for (int64_t i = 0; i < batch; ++i) {
      dnnl_status_t status = dnnl_sgemm(transpose_a ? 'T' : 'N', transpose_b ? 'T' : 'N', m, n, k, 1.f,
                                        lhs.data + i * a_stride, lda, rhs.data + i * b_stride, ldb, 0.f,
                                        out.data + i * m * n, n);
      if (status != dnnl_success) throw JsError{"oneDNN sgemm failed with status " + std::to_string(status)};
    }
    return undefined(env);
  });
}

// Loops compiled for AVX-512, AVX2 and the baseline (the addon is otherwise built for the baseline x86-64); the loader
// picks what the CPU has.
#define CONVKIT_CLONES __attribute__((target_clones("avx512f", "avx2", "default"), flatten))

// One row of SumRows: acc[j] += row[j] in float64, in blocks of 16 columns then the rest. Measured: the same loop over
// a runtime width compiled to code whose time did not drop with a second thread (0.37 ms at 1 and 2 threads for a
// 64×28×28×32 sum); in fixed blocks it halves (0.17 ms).
void sum_row(const float* __restrict row, double* __restrict acc, int64_t cols) {
  int64_t j = 0;
  for (; j + 16 <= cols; j += 16) {
    for (int k = 0; k < 16; ++k) acc[j + k] += row[j + k];
  }
  for (; j < cols; ++j) acc[j] += row[j];
}

// `count` consecutive rows of SumRows added into acc in order, compiled per ISA (CONVKIT_CLONES): the float → double
// conversions and adds run 8 columns an instruction with AVX-512 instead of 2 (the same adds in the same order, so
// the same sums). 64×28×28×32 at one thread: 1.18 → 0.86 ms with a fused pool gradient pass.
CONVKIT_CLONES void sum_rows_block(const float* __restrict rows, int64_t count, double* __restrict acc, int64_t cols) {
  for (int64_t r = 0; r < count; ++r) sum_row(rows + r * cols, acc, cols);
}

// One row of ReluBiasGrad: out = dy · step(y) (ReluGrad's mask), acc[j] += out[j] in float64; blocks as in sum_row.
// The mask is written out here and in ReluGrad on purpose: as a shared inline function, gcc 12 folded dy · 1 into a
// branch and both loops ran 15× slower (7.4 against 0.48 ms for 1.6 M floats).
void relu_bias_row(const float* __restrict dy, const float* __restrict y, float* __restrict out, double* __restrict acc,
                   int64_t cols) {
  const auto one = [dy, y, out, acc](int64_t j) {
    const float value = y[j];
    const float mask = value > 0.f ? 1.f : (value != value ? value : 0.f);
    const float d = dy[j] * mask;
    out[j] = d;
    acc[j] += d;
  };
  int64_t j = 0;
  for (; j + 16 <= cols; j += 16) {
    for (int k = 0; k < 16; ++k) one(j + k);
  }
  for (; j < cols; ++j) one(j);
}

// Column sums in float64 over rows split statically across OpenMP threads: row(i, acc) adds row i into the calling
// thread's accumulators (its own allocation, so that threads never share a cache line), which are then added in thread
// order and rounded once into out[cols]. Small sums (a dense layer's bias gradient) stay on this thread: waking the pool
// costs more than they do. SumRows and ReluBiasGrad share it, so their sums agree bit for bit.
// The threads column sums over `rows` × `cols` values run on.
int column_sum_threads(int64_t rows, int64_t cols) { return rows * cols > 65536 ? omp_get_max_threads() : 1; }

// The rows [first, second) thread `t` of `threads` sums: contiguous blocks, the first rows % threads blocks one row
// longer (libgomp's schedule(static) split, written out so that a pass fusing the sums can follow it).
std::pair<int64_t, int64_t> column_sum_range(int64_t rows, int t, int threads) {
  const int64_t q = rows / threads;
  const int64_t r = rows % threads;
  const int64_t begin = t < r ? t * (q + 1) : r * (q + 1) + (t - r) * q;
  return {begin, begin + (t < r ? q + 1 : q)};
}

// Column sums where range(begin, end, acc) adds rows [begin, end), in order, into the calling thread's accumulators.
template <typename Range>
void column_sums_by_range(int64_t rows, int64_t cols, float* out, Range range) {
  const int threads = column_sum_threads(rows, cols);
  std::vector<std::vector<double>> partial(static_cast<size_t>(threads));
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const auto [begin, end] = column_sum_range(rows, t, omp_get_num_threads());
    std::vector<double> acc(static_cast<size_t>(cols), 0.0);
    range(begin, end, acc.data());
    partial[static_cast<size_t>(t)] = std::move(acc);
  }
  for (int64_t j = 0; j < cols; ++j) {
    double total = 0;
    for (const auto& acc : partial) total += acc.empty() ? 0.0 : acc[static_cast<size_t>(j)];
    out[j] = static_cast<float>(total);
  }
}

template <typename Row>
void column_sums(int64_t rows, int64_t cols, float* out, Row row) {
  column_sums_by_range(rows, cols, out, [&](int64_t begin, int64_t end, double* acc) {
    for (int64_t i = begin; i < end; ++i) row(i, acc);
  });
}

// sumRows(x, rows, cols, out): out[j] = Σ_i x[i·cols + j], the reduction of every axis but the innermost.
napi_value SumRows(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 4);
    const int64_t rows = int_arg(env, a[1], "rows");
    const int64_t cols = int_arg(env, a[2], "cols");
    if (rows <= 0 || cols <= 0) throw JsError{"sumRows: rows and cols must be positive"};
    FloatView x = float_array(env, a[0], "x", static_cast<size_t>(rows * cols));
    FloatView out = float_array(env, a[3], "out", static_cast<size_t>(cols));
    const float* values = x.data;
    column_sums_by_range(rows, cols, out.data, [values, cols](int64_t begin, int64_t end, double* acc) {
      sum_rows_block(values + begin * cols, end - begin, acc, cols);
    });
    return undefined(env);
  });
}

// A pool's window at one output position: batch b, output row oh and column ow, and the input rows and columns
// it covers, [row_min, row_max) and [col_min, col_max) stepped by the dilation, clipped to the input.
struct PoolWindow {
  int64_t b, oh, ow, row_min, row_max, col_min, col_max;
  // Whether it is a whole 2x2 window without dilation (the usual maxPooling2d({ poolSize: 2 })).
  bool two_by_two(const Conv& g) const {
    return row_max - row_min == 2 && col_max - col_min == 2 && g.dilation_h == 1 && g.dilation_w == 1;
  }
};

// Calls start(b) once per batch, then visit(window) for each of its output positions in row-major order; batches
// run on OpenMP threads. The geometry is a convolution's with outChannels = inChannels and the window as the filter.
template <typename Start, typename Visit>
void for_each_window(const Conv& g, Start start, Visit visit) {
  const int64_t extent_h = (g.kh - 1) * g.dilation_h + 1;
  const int64_t extent_w = (g.kw - 1) * g.dilation_w + 1;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < g.n; ++b) {
    start(b);
    for (int64_t oh = 0; oh < g.oh; ++oh) {
      const int64_t row_corner = oh * g.stride_h - g.pad_top;
      int64_t row_min = row_corner;
      while (row_min < 0) row_min += g.dilation_h;
      const int64_t row_max = std::min(g.h, row_corner + extent_h);
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        const int64_t col_corner = ow * g.stride_w - g.pad_left;
        int64_t col_min = col_corner;
        while (col_min < 0) col_min += g.dilation_w;
        visit(PoolWindow{b, oh, ow, row_min, row_max, col_min, std::min(g.w, col_corner + extent_w)});
      }
    }
  }
}

// Whether a pool is 2x2 windows with stride 2 and no dilation or leading pad, each window whole: the windows tile the
// input without overlap (a last odd row or column, if any, lies in none).
bool tiles_two_by_two(const Conv& g) {
  return g.kh == 2 && g.kw == 2 && g.stride_h == 2 && g.stride_w == 2 && g.dilation_h == 1 && g.dilation_w == 1 &&
         g.pad_top == 0 && g.pad_left == 0 && 2 * g.oh <= g.h && 2 * g.ow <= g.w;
}

// One 2x2 window's gradient over `count` channels: each of the four inputs gets 0 + dy where it is the window's first
// strictly greatest element and 0 elsewhere (the fill-then-add of the general path, written once and without a
// scatter). a, b: the window's top row; c, d: its bottom row.
// d[k] ·= relu's gradient mask of its output y[k], ReluGrad's rule: 1 where y > 0, NaN where y is NaN, else 0.
void apply_relu_mask(const float* __restrict y, float* __restrict d, int64_t count) {
  for (int64_t k = 0; k < count; ++k) {
    const float value = y[k];
    const float mask = value > 0.f ? 1.f : (value != value ? value : 0.f);
    d[k] = d[k] * mask;
  }
}

template <bool ReluMask>
void pool_window_grad(const float* __restrict a, const float* __restrict b, const float* __restrict c,
                      const float* __restrict d, const float* __restrict grad, float* __restrict da,
                      float* __restrict db, float* __restrict dc, float* __restrict dd, int64_t count) {
  const float lowest = -std::numeric_limits<float>::infinity();
  // All in float selects (the winner's index too), which the compiler vectorizes.
  for (int64_t k = 0; k < count; ++k) {
    const float va = a[k], vb = b[k], vc = c[k], vd = d[k];
    float top = lowest;
    float which = -1.f;
    which = va > top ? 0.f : which;
    top = va > top ? va : top;
    which = vb > top ? 1.f : which;
    top = vb > top ? vb : top;
    which = vc > top ? 2.f : which;
    top = vc > top ? vc : top;
    which = vd > top ? 3.f : which;
    const float g = 0.f + grad[k];
    da[k] = which == 0.f ? g : 0.f;
    db[k] = which == 1.f ? g : 0.f;
    dc[k] = which == 2.f ? g : 0.f;
    dd[k] = which == 3.f ? g : 0.f;
  }
  if (ReluMask) {
    // reluGrad of the result (x is relu's output), on the window just written (in L1): each element times its mask,
    // as ReluGrad computes it. A separate loop: folded into the one above, gcc 12 stopped vectorizing it (4x slower).
    apply_relu_mask(a, da, count);
    apply_relu_mask(b, db, count);
    apply_relu_mask(c, dc, count);
    apply_relu_mask(d, dd, count);
  }
}

// One 2x2 window's max over `count` channels, tfjs's cpu rule (NaN never wins, a window without a winner gives -inf).
void pool_window_max(const float* __restrict a, const float* __restrict b, const float* __restrict c,
                     const float* __restrict d, float* __restrict out, int64_t count) {
  const float lowest = -std::numeric_limits<float>::infinity();
  for (int64_t k = 0; k < count; ++k) {
    float top = lowest;
    top = a[k] > top ? a[k] : top;
    top = b[k] > top ? b[k] : top;
    top = c[k] > top ? c[k] : top;
    top = d[k] > top ? d[k] : top;
    out[k] = top;
  }
}

// The rows of a tiles_two_by_two pool's windows on OpenMP threads: visit(row, at) for each output row (batch-major,
// `row` < n · oh), `at` the offset of its windows' top input row.
template <typename Visit>
void for_each_window_row(const Conv& g, Visit visit) {
  const int64_t row_stride = g.w * g.c;
  const int64_t image = g.h * row_stride;
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < g.n * g.oh; ++row) visit(row, (row / g.oh) * image + 2 * (row % g.oh) * row_stride);
}

// MaxPool for tiles_two_by_two pools.
void max_pool_tiled(const Conv& g, const float* x, float* y) {
  const int64_t channels = g.c;
  const int64_t row_stride = g.w * channels;
  for_each_window_row(g, [&](int64_t row, int64_t at_row) {
    const float* top = x + at_row;
    const float* bottom = top + row_stride;
    float* out = y + row * g.ow * channels;
    for (int64_t ow = 0; ow < g.ow; ++ow) {
      const int64_t at = 2 * ow * channels;
      pool_window_max(top + at, top + at + channels, bottom + at, bottom + at + channels, out + ow * channels, channels);
    }
  });
}

// The elements no window covers: 0 (times relu's mask of x with ReluMask, as ReluGrad would give: NaN where x is NaN).
template <bool ReluMask>
void zero_outside_impl(const float* x, float* dx, int64_t count) {
  std::fill(dx, dx + count, 0.f);
  if (ReluMask) apply_relu_mask(x, dx, count);
}

// One output row of windows of a tiles_two_by_two MaxPoolGrad: the two input rows `top` and `bottom` and their
// gradients, including the odd last column no window covers.
template <bool ReluMask>
inline void max_pool_grad_row(const float* top, const float* bottom, const float* grad, float* dtop, float* dbottom,
                              int64_t out_width, int64_t channels, int64_t row_stride) {
  for (int64_t ow = 0; ow < out_width; ++ow) {
    const int64_t at = 2 * ow * channels;
    pool_window_grad<ReluMask>(top + at, top + at + channels, bottom + at, bottom + at + channels, grad + ow * channels,
                               dtop + at, dtop + at + channels, dbottom + at, dbottom + at + channels, channels);
  }
  const int64_t covered_w = 2 * out_width * channels;
  zero_outside_impl<ReluMask>(top + covered_w, dtop + covered_w, row_stride - covered_w);
  zero_outside_impl<ReluMask>(bottom + covered_w, dbottom + covered_w, row_stride - covered_w);
}

// The rows compiled for AVX-512, AVX2 and the baseline (CONVKIT_CLONES); the masked row runs at the plain row's speed
// with AVX-512 and 2x slower on SSE2.
CONVKIT_CLONES void max_pool_grad_row_plain(const float* top, const float* bottom, const float* grad, float* dtop, float* dbottom,
                                            int64_t out_width, int64_t channels, int64_t row_stride) {
  max_pool_grad_row<false>(top, bottom, grad, dtop, dbottom, out_width, channels, row_stride);
}
CONVKIT_CLONES void max_pool_grad_row_masked(const float* top, const float* bottom, const float* grad, float* dtop, float* dbottom,
                                             int64_t out_width, int64_t channels, int64_t row_stride) {
  max_pool_grad_row<true>(top, bottom, grad, dtop, dbottom, out_width, channels, row_stride);
}

// MaxPoolGrad for tiles_two_by_two pools: one write per input element. With ReluMask, times relu's mask of x (x is
// relu's output): reluGrad(maxPoolGrad(dy), x) in the same pass.
template <bool ReluMask>
void max_pool_grad_tiled(const Conv& g, const float* x, const float* dy, float* dx) {
  const int64_t channels = g.c;
  const int64_t row_stride = g.w * channels;
  const int64_t image = g.h * row_stride;
  for_each_window_row(g, [&](int64_t row, int64_t at_row) {
    const float* grad = dy + row * g.ow * channels;
    if (ReluMask) max_pool_grad_row_masked(x + at_row, x + at_row + row_stride, grad, dx + at_row, dx + at_row + row_stride, g.ow, channels, row_stride);
    else max_pool_grad_row_plain(x + at_row, x + at_row + row_stride, grad, dx + at_row, dx + at_row + row_stride, g.ow, channels, row_stride);
  });
  if (2 * g.oh < g.h) {
    for (int64_t b = 0; b < g.n; ++b) {
      const int64_t from = b * image + 2 * g.oh * row_stride;
      zero_outside_impl<ReluMask>(x + from, dx + from, image - 2 * g.oh * row_stride);
    }
  }
}

// The arguments (geometry, x, dy, dx) of the max-pool gradients, checked.
struct PoolGradArgs {
  Conv g;
  FloatView x, dy, dx;
};

PoolGradArgs pool_grad_args(napi_env env, napi_callback_info info) {
  auto a = args(env, info, 4);
  const Conv g = Conv::from(env, a[0]);
  if (g.oc != g.c) throw JsError{"geometry: a pool's outChannels must equal its inChannels"};
  return {g, float_array(env, a[1], "x", g.src_size()), float_array(env, a[2], "dy", g.dst_size()), float_array(env, a[3], "dx", g.src_size())};
}

// maxPoolReluGrad(geometry, x, dy, dx) -> bool: reluGrad(maxPoolGrad(x, dy), x) in one pass, for a pool whose input x
// is relu's output; bit for bit the two kernels in turn. Only for 2x2 windows with stride 2 (tiles_two_by_two):
// returns false, writing nothing, for other pools.
napi_value MaxPoolReluGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    const PoolGradArgs parsed = pool_grad_args(env, info);
    const Conv& g = parsed.g;
    const FloatView x = parsed.x, dy = parsed.dy, dx = parsed.dx;
    const bool tiled = tiles_two_by_two(g);
    if (tiled) max_pool_grad_tiled<true>(g, x.data, dy.data, dx.data);
    napi_value result;
    check(env, napi_get_boolean(env, tiled, &result), "napi_get_boolean");
    return result;
  });
}

// reluGrad(maxPoolGrad(x, dy), x) for a tiles_two_by_two pool, with dbias = its column sums over every pixel
// (sumRows(dx, n·h·w, c)) taken in the same pass, bit for bit as sumRows takes them: each summing thread writes its
// own block of pixels (column_sum_range) one window row (two image rows) at a time and adds those rows while they are
// in cache, in pixel order. When a block does not start on a window row (an odd batch split across two threads), the
// pass and the sums run one after the other instead.
void max_pool_relu_bias_grad(const Conv& g, const float* x, const float* dy, float* dx, float* dbias) {
  const int64_t channels = g.c;
  const int64_t pixels = g.n * g.h * g.w;
  const int64_t row_stride = g.w * channels;
  const int threads = column_sum_threads(pixels, channels);
  bool aligned = true;
  for (int t = 0; t < threads; ++t) {
    const int64_t begin = column_sum_range(pixels, t, threads).first;
    const int64_t y = (begin / g.w) % g.h;
    aligned = aligned && begin % g.w == 0 && (y % 2 == 0 || y >= 2 * g.oh);
  }
  if (!aligned) {
    max_pool_grad_tiled<true>(g, x, dy, dx);
    column_sums_by_range(pixels, channels, dbias, [dx, channels](int64_t begin, int64_t end, double* acc) {
      sum_rows_block(dx + begin * channels, end - begin, acc, channels);
    });
    return;
  }
  column_sums_by_range(pixels, channels, dbias, [&](int64_t begin, int64_t end, double* acc) {
    for (int64_t r = begin / g.w; r < end / g.w;) {  // r: an image row, batch-major
      const int64_t y = r % g.h;
      const int64_t at = r * row_stride;
      const int64_t rows = y < 2 * g.oh ? 2 : 1;  // a window row, or a row no window covers
      if (rows == 2) {
        const float* grad = dy + ((r / g.h) * g.oh + y / 2) * g.ow * channels;
        max_pool_grad_row_masked(x + at, x + at + row_stride, grad, dx + at, dx + at + row_stride, g.ow, channels, row_stride);
      } else {
        zero_outside_impl<true>(x + at, dx + at, row_stride);
      }
      sum_rows_block(dx + at, rows * g.w, acc, channels);
      r += rows;
    }
  });
}

// maxPoolReluBiasGrad(geometry, x, dy, dx, dbias) -> bool: maxPoolReluGrad's dx and, in the same pass, dbias = the sum
// of dx over every axis but the channels, bit for bit sumRows of dx: the backward pass of conv + bias + relu → 2x2 max
// pool up to the convolution's own gradients. Returns false, writing nothing, for pools other than 2x2 stride 2.
napi_value MaxPoolReluBiasGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    const PoolGradArgs parsed = pool_grad_args(env, info);
    const Conv& g = parsed.g;
    auto a = args(env, info, 5);
    FloatView dbias = float_array(env, a[4], "dbias", static_cast<size_t>(g.c));
    const bool tiled = tiles_two_by_two(g);
    if (tiled) max_pool_relu_bias_grad(g, parsed.x.data, parsed.dy.data, parsed.dx.data, dbias.data);
    napi_value result;
    check(env, napi_get_boolean(env, tiled, &result), "napi_get_boolean");
    return result;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// conv + bias + relu + 2x2 max pool as one kernel, forward and backward, for convolutions over few input channels (a
// network's first layer): its full-size output never goes to memory. Each pair of output rows is computed into a
// buffer, pooled there, and recomputed in the backward pass, which finds the windows' winners again (the same code,
// the same bits) and adds the filter and bias gradients from them.

// The row loops of conv_pool.inc (relu(conv(x, filter) + bias) of an output row: float32 products and sums in the
// order ky, kx, ci, then the bias, tfjs's relu (NaN kept, −0 → +0); a row's filter and bias gradients; the 2x2 pool
// of two rows and its masked gradient) compiled for AVX-512, AVX2 and the baseline.
namespace conv_pool_v4 {
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v4")
#pragma GCC optimize("fp-contract=fast")
constexpr int kAccumulators = 24;
#include "conv_pool.inc"
#pragma GCC pop_options
}  // namespace conv_pool_v4
namespace conv_pool_avx2 {
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#pragma GCC optimize("fp-contract=fast")
constexpr int kAccumulators = 6;
#include "conv_pool.inc"
#pragma GCC pop_options
}  // namespace conv_pool_avx2
namespace conv_pool_base {
constexpr int kAccumulators = 3;
#include "conv_pool.inc"
}  // namespace conv_pool_base

// The row loops for this CPU: AVX-512 (x86-64-v4: F, BW, DQ, VL, CD), AVX2, or the baseline.
struct ConvPoolRows {
  decltype(&conv_pool_base::conv_relu_row) relu_row;
  decltype(&conv_pool_base::conv_weight_grad_row) weight_grad_row;
  decltype(&conv_pool_base::pool_row_pair) pool_rows;
  decltype(&conv_pool_base::pool_grad_row_pair) pool_grad_rows;
  decltype(&conv_pool_base::blocked_relu_pool_rows) blocked_pool_rows;
  decltype(&conv_pool_base::blocked_relu_pool_grad_rows) blocked_pool_grad_rows;
  decltype(&conv_pool_base::blocked_uncovered_row) blocked_uncovered_row;
  decltype(&conv_pool_base::pool_row_pair_masked) pool_rows_masked;
  decltype(&conv_pool_base::pool_grad_row_pair_from_mask) pool_grad_rows_from_mask;
};
const ConvPoolRows& conv_pool_rows() {
  static const ConvPoolRows rows = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl")) {
      return ConvPoolRows{conv_pool_v4::conv_relu_row, conv_pool_v4::conv_weight_grad_row, conv_pool_v4::pool_row_pair, conv_pool_v4::pool_grad_row_pair,
                         conv_pool_v4::blocked_relu_pool_rows, conv_pool_v4::blocked_relu_pool_grad_rows, conv_pool_v4::blocked_uncovered_row,
                         conv_pool_v4::pool_row_pair_masked, conv_pool_v4::pool_grad_row_pair_from_mask};
    }
    if (__builtin_cpu_supports("avx2")) return ConvPoolRows{conv_pool_avx2::conv_relu_row, conv_pool_avx2::conv_weight_grad_row, conv_pool_avx2::pool_row_pair, conv_pool_avx2::pool_grad_row_pair,
                         conv_pool_avx2::blocked_relu_pool_rows, conv_pool_avx2::blocked_relu_pool_grad_rows, conv_pool_avx2::blocked_uncovered_row,
                         conv_pool_avx2::pool_row_pair_masked, conv_pool_avx2::pool_grad_row_pair_from_mask};
    return ConvPoolRows{conv_pool_base::conv_relu_row, conv_pool_base::conv_weight_grad_row, conv_pool_base::pool_row_pair, conv_pool_base::pool_grad_row_pair,
                         conv_pool_base::blocked_relu_pool_rows, conv_pool_base::blocked_relu_pool_grad_rows, conv_pool_base::blocked_uncovered_row,
                         conv_pool_base::pool_row_pair_masked, conv_pool_base::pool_grad_row_pair_from_mask};
  }();
  return rows;
}

// The fused kernels' fast path: output channels in 1 to 4 blocks of 16, the input rows zero-padded per output row.
bool conv_pool_padded(const Conv& g) { return g.oc % 16 == 0 && g.oc <= 64; }

// Width in floats of a zero-padded input row (stride 1): ow + kw − 1 columns, column j the input column j − pad_left.
int64_t padded_row_floats(const Conv& g) { return (g.ow + g.kw - 1) * g.c; }

// Input rows [iy0, iy0 + rows) of image b zero-padded into out (rows of padded_row_floats; rows outside the image 0).
void pad_input_rows(const Conv& g, const float* x, int64_t b, int64_t iy0, int64_t rows, float* out) {
  const int64_t stride = padded_row_floats(g);
  const int64_t begin = std::min<int64_t>(g.pad_left, g.ow + g.kw - 1);
  const int64_t end = std::max<int64_t>(begin, std::min<int64_t>(g.pad_left + g.w, g.ow + g.kw - 1));
  for (int64_t r = 0; r < rows; ++r) {
    float* row = out + r * stride;
    const int64_t iy = iy0 + r;
    if (iy < 0 || iy >= g.h) {
      std::fill(row, row + stride, 0.f);
      continue;
    }
    std::fill(row, row + begin * g.c, 0.f);
    const float* source = x + ((b * g.h + iy) * g.w + begin - g.pad_left) * g.c;
    std::copy(source, source + (end - begin) * g.c, row + begin * g.c);
    std::fill(row + end * g.c, row + stride, 0.f);
  }
}

// The geometry of a convolution the fused kernels take: stride 1, no dilation, an output of at least 2 × 2.
void check_conv_pool_geometry(const Conv& g) {
  if (g.stride_h != 1 || g.stride_w != 1 || g.dilation_h != 1 || g.dilation_w != 1) {
    throw JsError{"geometry: convReluPool takes stride 1 without dilation"};
  }
  if (g.oh < 2 || g.ow < 2) throw JsError{"geometry: convReluPool needs an output of at least 2 x 2 for its 2 x 2 pool"};
}

// A group of output rows: a window row (2py, 2py + 1), or the odd last row no window covers.
struct RowGroup {
  int64_t b, oy, rows;
};
RowGroup row_group(const Conv& g, int64_t index) {
  const int64_t per_image = g.oh / 2 + g.oh % 2;
  const int64_t b = index / per_image;
  const int64_t k = index % per_image;
  return {b, 2 * k, 2 * k + 1 < g.oh ? 2 : 1};
}

// Whether convReluPool can write, and convReluPoolGrad read, the pool's winners (a byte per pooled value): the padded
// path (16 to 64 output channels in blocks of 16) with every output row and column in a window (even sides).
bool conv_pool_masked(const Conv& g) { return conv_pool_padded(g) && g.oh % 2 == 0 && g.ow % 2 == 0; }

// A Uint8Array argument of `expected` bytes, or null.
uint8_t* byte_array_or_null(napi_env env, napi_value value, const char* name, size_t expected) {
  if (is_null_or_undefined(env, value)) return nullptr;
  bool is_typed = false;
  check(env, napi_is_typedarray(env, value, &is_typed), "napi_is_typedarray");
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (is_typed) check(env, napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr), "info");
  if (!is_typed || type != napi_uint8_array || length != expected) {
    std::ostringstream message;
    message << name << ": expected a Uint8Array of " << expected << " bytes";
    throw JsError{message.str()};
  }
  return static_cast<uint8_t*>(data);
}

// convReluPool(geometry, x, filter, bias | null, pooled, mask?) -> bool: pooled = maxPool(relu(conv(x, filter) + bias)),
// 2x2 windows at stride 2 ('valid'), tfjs's pool rule (the first strictly greatest; NaN never wins; -inf without a
// winner). With mask (a Uint8Array of pooled's length), also each pooled value's winner and what its gradient needs
// (see pool_row_pair_masked), for convReluPoolGrad: written, and true returned, where conv_pool_masked holds; else the
// mask is left alone and false returned.
napi_value ConvReluPool(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 6);
    const Conv g = Conv::from(env, a[0]);
    check_conv_pool_geometry(g);
    const int64_t ph = g.oh / 2, pw = g.ow / 2;
    FloatView x = float_array(env, a[1], "x", g.src_size());
    FloatView filter = float_array(env, a[2], "filter", g.weights_size());
    const float* bias = is_null_or_undefined(env, a[3]) ? nullptr : float_array(env, a[3], "bias", g.oc).data;
    FloatView pooled = float_array(env, a[4], "pooled", static_cast<size_t>(g.n * ph * pw * g.oc));
    uint8_t* given = byte_array_or_null(env, a[5], "mask", static_cast<size_t>(g.n * ph * pw * g.oc));
    uint8_t* mask = conv_pool_masked(g) ? given : nullptr;
    const int64_t oc = g.oc;
    const bool padded = conv_pool_padded(g);
    const int64_t stride = padded_row_floats(g);
#pragma omp parallel if (g.n * ph * g.ow * oc > 65536)
    {
      std::vector<float> rows(static_cast<size_t>(2 * g.ow * oc));
      std::vector<float> xpad(padded ? static_cast<size_t>((g.kh + 1) * stride) : 0);
      const ConvPoolRows& loops = conv_pool_rows();
#pragma omp for schedule(static)
      for (int64_t r = 0; r < g.n * ph; ++r) {
        const int64_t b = r / ph, py = r % ph;
        float* top = rows.data();
        float* bottom = top + g.ow * oc;
        if (padded) pad_input_rows(g, x.data, b, 2 * py - g.pad_top, g.kh + 1, xpad.data());
        const float* pad = padded ? xpad.data() : nullptr;
        loops.relu_row(g, x.data, pad, stride, filter.data, bias, b, 2 * py, top);
        loops.relu_row(g, x.data, padded ? pad + stride : nullptr, stride, filter.data, bias, b, 2 * py + 1, bottom);
        if (mask != nullptr) loops.pool_rows_masked(top, bottom, pw, oc, pooled.data + r * pw * oc, mask + r * pw * oc);
        else loops.pool_rows(top, bottom, pw, oc, pooled.data + r * pw * oc);
      }
    }
    napi_value result;
    check(env, napi_get_boolean(env, mask != nullptr, &result), "napi_get_boolean");
    return result;
  });
}

// convReluPoolGrad(geometry, x, filter, bias | null, dpooled, dfilter, dbias | null, dz | null, mask?): the gradients of
// sum(pooled · dpooled) for convReluPool's pooled. dz (optional, the convolution output's gradient, n·oh·ow·oc) is
// reluGrad(maxPoolGrad(dpooled)) bit for bit as maxPoolReluGrad gives it from this kernel's outputs; dfilter (HWIO)
// and dbias are its convolution gradients, summed in float32 over each output row and in float64 over rows. mask: the
// bytes convReluPool wrote for these x, filter and bias (when it returned true): the windows' winners are read from it
// instead of computing the rows again (the same values).
napi_value ConvReluPoolGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 9);
    const Conv g = Conv::from(env, a[0]);
    check_conv_pool_geometry(g);
    const int64_t ph = g.oh / 2, pw = g.ow / 2, oc = g.oc;
    FloatView x = float_array(env, a[1], "x", g.src_size());
    FloatView filter = float_array(env, a[2], "filter", g.weights_size());
    const float* bias = is_null_or_undefined(env, a[3]) ? nullptr : float_array(env, a[3], "bias", oc).data;
    FloatView dpooled = float_array(env, a[4], "dpooled", static_cast<size_t>(g.n * ph * pw * oc));
    FloatView dfilter = float_array(env, a[5], "dfilter", g.weights_size());
    float* dbias = is_null_or_undefined(env, a[6]) ? nullptr : float_array(env, a[6], "dbias", oc).data;
    float* dz = is_null_or_undefined(env, a[7]) ? nullptr : float_array(env, a[7], "dz", g.dst_size()).data;
    const uint8_t* given = byte_array_or_null(env, a[8], "mask", static_cast<size_t>(g.n * ph * pw * oc));
    if (given != nullptr && !conv_pool_masked(g)) throw JsError{"mask: convReluPool writes none for this geometry"};
    const uint8_t* mask = given;
    const int64_t taps = g.weights_size();
    const int64_t groups = g.n * (ph + g.oh % 2);
    const int threads = g.n * g.oh * g.ow * oc > 65536 ? omp_get_max_threads() : 1;
    std::vector<std::vector<double>> partial(static_cast<size_t>(threads));
    const int64_t row_stride = g.ow * oc;
    const bool padded = conv_pool_padded(g);
    const int64_t stride = padded_row_floats(g);
#pragma omp parallel num_threads(threads)
    {
      std::vector<float> y(static_cast<size_t>(2 * row_stride)), d(static_cast<size_t>(2 * row_stride));
      std::vector<float> wacc(static_cast<size_t>(taps + oc));
      std::vector<double> total(static_cast<size_t>(taps + oc), 0.0);
      std::vector<float> xpad(padded ? static_cast<size_t>((g.kh + 1) * stride) : 0);
      const ConvPoolRows& loops = conv_pool_rows();
#pragma omp for schedule(static)
      for (int64_t r = 0; r < groups; ++r) {
        const RowGroup group = row_group(g, r);
        if (padded) pad_input_rows(g, x.data, group.b, group.oy - g.pad_top, g.kh + group.rows - 1, xpad.data());
        const auto pad_of = [&](int64_t k) { return padded ? xpad.data() + k * stride : nullptr; };
        if (mask == nullptr) {
          for (int64_t k = 0; k < group.rows; ++k) {
            loops.relu_row(g, x.data, pad_of(k), stride, filter.data, bias, group.b, group.oy + k, y.data() + k * row_stride);
          }
        }
        if (mask != nullptr) {
          const int64_t at = (group.b * ph + group.oy / 2) * pw * oc;
          loops.pool_grad_rows_from_mask(mask + at, dpooled.data + at, d.data(), d.data() + row_stride, pw, oc);
        } else if (group.rows == 2 && padded) {
          const float* grad = dpooled.data + (group.b * ph + group.oy / 2) * pw * oc;
          loops.pool_grad_rows(y.data(), y.data() + row_stride, grad, d.data(), d.data() + row_stride, pw, g.ow, oc);
        } else if (group.rows == 2) {
          const float* grad = dpooled.data + (group.b * ph + group.oy / 2) * pw * oc;
          max_pool_grad_row_masked(y.data(), y.data() + row_stride, grad, d.data(), d.data() + row_stride, pw, oc, row_stride);
        } else {
          zero_outside_impl<true>(y.data(), d.data(), row_stride);
        }
        std::fill(wacc.begin(), wacc.end(), 0.f);
        for (int64_t k = 0; k < group.rows; ++k) {
          const float* dk = d.data() + k * row_stride;
          loops.weight_grad_row(g, x.data, pad_of(k), stride, dk, group.b, group.oy + k, wacc.data(), wacc.data() + taps);
          if (dz != nullptr) std::copy(dk, dk + row_stride, dz + ((group.b * g.oh) + group.oy + k) * row_stride);
        }
        for (int64_t i = 0; i < taps + oc; ++i) total[static_cast<size_t>(i)] += wacc[static_cast<size_t>(i)];
      }
      partial[static_cast<size_t>(omp_get_thread_num())] = std::move(total);
    }
    for (int64_t i = 0; i < taps + oc; ++i) {
      double sum = 0;
      for (const auto& p : partial) sum += p.empty() ? 0.0 : p[static_cast<size_t>(i)];
      if (i < taps) dfilter.data[i] = static_cast<float>(sum);
      else if (dbias != nullptr) dbias[i - taps] = static_cast<float>(sum);
    }
    return undefined(env);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// A convolution followed by relu and a 2x2 max pool, for layers past the first (16·k input and output channels):
// oneDNN's Winograd F(4×4, 3×3) convolution writes its output in its own blocked layout (nChw16c) straight into the
// caller's array, the pool and its gradient read that layout, and the backward passes take the gradient in it, so the
// output and its gradient are never converted to and from NHWC (four conversions of the largest activation per step,
// which cost what Winograd saved: W1's 32 → 64 channels at 14×14 ran 2.1–2.3 ms a pass against 2.7–3.0 direct, with
// 1.7–1.9 ms of conversions beside them). Only the input (NHWC) and its gradient are converted.

// Whether a convolution takes the blocked path under the current settings: float32 (bf16 is never Winograd), 3×3,
// stride 1, no dilation, channels in multiples of 16, and under 'auto' at least 32 input and output channels, any
// output size (the output is not converted). Measured at batch 64 on one thread of a 2-core Xeon (AVX-512), the three
// passes and the pool's two against the direct NHWC convolutions (with their separate pool kernels after them):
// 32 → 32 at 32×32 19.6 against 24.2 ms for the convolutions alone; 32 → 64 at 14×14 7.4 against 8.5; 64 → 64 at
// 16×16 13.0 against 13.9 for Winograd with NHWC conversions (22.4 direct).
bool blocked_for(const Conv& conv) {
  const ConvAlgorithm setting = conv_algorithm();
  if (setting == kAlgorithmDirect || use_bf16()) return false;
  const bool shape = conv.kh == 3 && conv.kw == 3 && conv.stride_h == 1 && conv.stride_w == 1 &&
                     conv.dilation_h == 1 && conv.dilation_w == 1 && conv.c % 16 == 0 && conv.oc % 16 == 0 &&
                     conv.oh >= 2 && conv.ow >= 2;
  if (!shape) return false;
  return setting == kAlgorithmWinograd || (conv.c >= 32 && conv.oc >= 32);
}

// The convolution's output (or its gradient) in nChw16c.
memory::desc blocked_dst_md(const Conv& conv) { return memory::desc({conv.n, conv.oc, conv.oh, conv.ow}, dt::f32, tag::nChw16c); }

// The three Winograd primitives of the blocked path, each with its input conversions (NHWC → the primitive's layout)
// and weights reorders; an entry's `primitive` is empty when oneDNN has no Winograd kernel for the shape.
dnnl::convolution_forward::desc blocked_forward_desc(const Conv& conv, bool with_bias) {
  const memory::desc src({conv.n, conv.c, conv.h, conv.w}, dt::f32, tag::any);
  if (with_bias) {
    return dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_winograd, src,
                                           conv.weights_md(tag::any), conv.bias_md(), blocked_dst_md(conv),
                                           conv.strides(), conv.dilates(), conv.pad_l(), conv.pad_r());
  }
  return dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_winograd, src,
                                         conv.weights_md(tag::any), blocked_dst_md(conv), conv.strides(),
                                         conv.dilates(), conv.pad_l(), conv.pad_r());
}

Cached& blocked_forward_primitive(const Conv& conv, bool with_bias) {
  return cached(conv.key("fwd_blocked", with_bias), [&] {
    using Pd = dnnl::convolution_forward::primitive_desc;
    const std::optional<Pd> pd = winograd_pd<Pd>([&] { return Pd(blocked_forward_desc(conv, with_bias), engine()); });
    if (!pd) return std::make_unique<Cached>();
    auto entry = with_weights(dnnl::convolution_forward(*pd), pd->weights_desc(), pd->impl_info_str(), conv, false);
    add_low_input(*entry, conv.src_md(), pd->src_desc());
    return entry;
  });
}

// The blocked path's backward-data (Primitive = convolution_backward_data: dx converted to NHWC after it runs) or
// backward-weights pass (convolution_backward_weights: x converted from NHWC before it runs).
template <typename Primitive>
Cached& blocked_backward_primitive(const Conv& conv) {
  constexpr bool data = std::is_same_v<Primitive, dnnl::convolution_backward_data>;
  return cached(conv.key(data ? "bwd_data_blocked" : "bwd_weights_blocked"), [&] {
    using Pd = typename Primitive::primitive_desc;
    const std::optional<Pd> pd = winograd_pd<Pd>([&] {
      const dnnl::convolution_forward::primitive_desc hint(blocked_forward_desc(conv, false), engine());
      const typename Primitive::desc desc(
          dnnl::algorithm::convolution_winograd, memory::desc({conv.n, conv.c, conv.h, conv.w}, dt::f32, tag::any),
          conv.weights_md(tag::any), blocked_dst_md(conv), conv.strides(), conv.dilates(), conv.pad_l(), conv.pad_r());
      return Pd(desc, engine(), hint);
    });
    if (!pd) return std::make_unique<Cached>();
    if constexpr (data) {
      auto entry = with_weights(Primitive(*pd), pd->weights_desc(), pd->impl_info_str(), conv, false);
      add_converted_output(*entry, pd->diff_src_desc(), conv.src_md());
      return entry;
    } else {
      auto entry = with_weights(Primitive(*pd), pd->diff_weights_desc(), pd->impl_info_str(), conv, true);
      add_low_input(*entry, conv.src_md(), pd->src_desc());
      return entry;
    }
  });
}
Cached& blocked_backward_data_primitive(const Conv& conv) {
  return blocked_backward_primitive<dnnl::convolution_backward_data>(conv);
}
Cached& blocked_backward_weights_primitive(const Conv& conv) {
  return blocked_backward_primitive<dnnl::convolution_backward_weights>(conv);
}

bool has_primitive(const Cached& entry) { return static_cast<bool>(entry.primitive); }

// Whether the blocked path runs this convolution: blocked_for, and oneDNN has all three Winograd kernels for it.
bool blocked_ready(const Conv& conv) {
  return blocked_for(conv) && has_primitive(blocked_forward_primitive(conv, true)) &&
         has_primitive(blocked_forward_primitive(conv, false)) && has_primitive(blocked_backward_data_primitive(conv)) &&
         has_primitive(blocked_backward_weights_primitive(conv));
}

void require_blocked(const Conv& conv) {
  if (!blocked_ready(conv)) {
    throw JsError{"geometry: this convolution does not take the blocked path (see blockedConvFits)"};
  }
}

// blockedConvFits(geometry) -> bool: whether the blocked kernels below take this convolution (3×3, stride 1, channels
// in multiples of 16, the 'auto' rule of blocked_for, f32, and oneDNN's Winograd kernels present: AVX-512).
napi_value BlockedConvFits(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 1);
    const Conv conv = Conv::from(env, a[0]);
    napi_value result;
    check(env, napi_get_boolean(env, blocked_ready(conv), &result), "napi_get_boolean");
    return result;
  });
}

// blockedConv(geometry, x, filter, bias | null, y): y = conv(x, filter) + bias (no activation) in nChw16c, that is
// y[((b · oc/16 + j) · oh + oy) · ow + ox) · 16 + k] for output channel 16j + k.
napi_value BlockedConv(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 5);
    const Conv conv = Conv::from(env, a[0]);
    require_blocked(conv);
    FloatView x = float_array(env, a[1], "x", conv.src_size());
    FloatView filter = float_array(env, a[2], "filter", conv.weights_size());
    const bool with_bias = !is_null_or_undefined(env, a[3]);
    FloatView bias = with_bias ? float_array(env, a[3], "bias", conv.oc) : FloatView{};
    FloatView y = float_array(env, a[4], "y", conv.dst_size());
    Cached& entry = blocked_forward_primitive(conv, with_bias);
    memory user_weights(conv.weights_md(tag::hwio), engine(), filter.data);
    if (entry.reorder) entry.weights_reorder.execute(stream(), user_weights, entry.weights_scratch);
    std::unordered_map<int, memory> io{
        {DNNL_ARG_SRC, low_input(entry, 0, conv.src_md(), x.data)},
        {DNNL_ARG_WEIGHTS, entry.reorder ? entry.weights_scratch : user_weights},
        {DNNL_ARG_DST, memory(blocked_dst_md(conv), engine(), y.data)},
    };
    if (with_bias) io.emplace(DNNL_ARG_BIAS, memory(conv.bias_md(), engine(), bias.data));
    entry.primitive.execute(stream(), io);
    stream().wait();
    return undefined(env);
  });
}

// blockedConvBackwardData(geometry, dy, filter, dx): dx (NHWC) = the gradient of conv(x, filter) with respect to x,
// from dy in nChw16c.
napi_value BlockedConvBackwardData(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 4);
    const Conv conv = Conv::from(env, a[0]);
    require_blocked(conv);
    FloatView dy = float_array(env, a[1], "dy", conv.dst_size());
    FloatView filter = float_array(env, a[2], "filter", conv.weights_size());
    FloatView dx = float_array(env, a[3], "dx", conv.src_size());
    Cached& entry = blocked_backward_data_primitive(conv);
    run_backward_data(entry, conv, memory(blocked_dst_md(conv), engine(), dy.data), filter.data, dx.data);
    return undefined(env);
  });
}

// blockedConvBackwardFilter(geometry, x, dy, dfilter): dfilter (HWIO) = the gradient of conv(x, filter) with respect
// to filter, from x (NHWC) and dy in nChw16c.
napi_value BlockedConvBackwardFilter(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 4);
    const Conv conv = Conv::from(env, a[0]);
    require_blocked(conv);
    FloatView x = float_array(env, a[1], "x", conv.src_size());
    FloatView dy = float_array(env, a[2], "dy", conv.dst_size());
    FloatView dfilter = float_array(env, a[3], "dfilter", conv.weights_size());
    Cached& entry = blocked_backward_weights_primitive(conv);
    run_backward_weights(entry, conv, low_input(entry, 0, conv.src_md(), x.data),
                         memory(blocked_dst_md(conv), engine(), dy.data), dfilter.data);
    return undefined(env);
  });
}

// The sizes of a blocked activation [n, oc/16, oh, ow, 16] from a convolution geometry, checked.
void check_blocked_pool_geometry(const Conv& g) {
  if (g.oc % 16 != 0) throw JsError{"geometry: blocked pools take output channels in multiples of 16"};
  if (g.oh < 2 || g.ow < 2) throw JsError{"geometry: a 2 x 2 pool needs an output of at least 2 x 2"};
}

// blockedReluPool(geometry, y, pooled): pooled (NHWC, n · ⌊oh/2⌋ · ⌊ow/2⌋ · oc) = maxPool(relu(y)) over 2x2 windows at
// stride 2 ('valid'), y the convolution's output in nChw16c; tfjs's relu (NaN kept) and pool rule (the first strictly
// greatest; NaN never wins; -inf without a winner).
napi_value BlockedReluPool(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 3);
    const Conv g = Conv::from(env, a[0]);
    check_blocked_pool_geometry(g);
    const int64_t ph = g.oh / 2, pw = g.ow / 2, blocks = g.oc / 16;
    FloatView y = float_array(env, a[1], "y", g.dst_size());
    FloatView pooled = float_array(env, a[2], "pooled", static_cast<size_t>(g.n * ph * pw * g.oc));
    const ConvPoolRows& loops = conv_pool_rows();
    const int64_t rows = g.n * blocks * ph;
#pragma omp parallel for schedule(static) if (g.n * ph * g.ow * g.oc > 65536)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t py = r % ph, j = (r / ph) % blocks, b = r / (ph * blocks);
      const float* top = y.data + (((b * blocks + j) * g.oh + 2 * py) * g.ow) * 16;
      loops.blocked_pool_rows(top, top + 16 * g.ow, pw, g.oc, pooled.data + ((b * ph + py) * pw) * g.oc + 16 * j);
    }
    return undefined(env);
  });
}

// blockedReluPoolGrad(geometry, y, dpooled, dy, dbias | null): dy (nChw16c) = reluGrad(maxPoolGrad(dpooled)) for
// blockedReluPool's windows, the values maxPoolReluGrad gives on the NHWC relu output (rows and columns in no window:
// 0 · relu's mask); dbias[oc] = the sum of dy over every pixel, in float32 over a pair of rows and float64 over pairs.
napi_value BlockedReluPoolGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 5);
    const Conv g = Conv::from(env, a[0]);
    check_blocked_pool_geometry(g);
    const int64_t ph = g.oh / 2, pw = g.ow / 2, blocks = g.oc / 16;
    FloatView y = float_array(env, a[1], "y", g.dst_size());
    FloatView dpooled = float_array(env, a[2], "dpooled", static_cast<size_t>(g.n * ph * pw * g.oc));
    FloatView dy = float_array(env, a[3], "dy", g.dst_size());
    float* dbias = is_null_or_undefined(env, a[4]) ? nullptr : float_array(env, a[4], "dbias", g.oc).data;
    const ConvPoolRows& loops = conv_pool_rows();
    const int64_t per_block = ph + g.oh % 2;  // window rows, and the odd last row
    const int64_t groups = g.n * blocks * per_block;
    const int threads = g.n * g.oh * g.ow * g.oc > 65536 ? omp_get_max_threads() : 1;
    std::vector<std::vector<double>> partial(static_cast<size_t>(threads));
#pragma omp parallel num_threads(threads)
    {
      std::vector<double> total(static_cast<size_t>(g.oc), 0.0);
#pragma omp for schedule(static)
      for (int64_t r = 0; r < groups; ++r) {
        const int64_t k = r % per_block, j = (r / per_block) % blocks, b = r / (per_block * blocks);
        const int64_t offset = (((b * blocks + j) * g.oh + 2 * k) * g.ow) * 16;
        float sums[16];
        if (k < ph) {
          const float* grad = dpooled.data + ((b * ph + k) * pw) * g.oc + 16 * j;
          loops.blocked_pool_grad_rows(y.data + offset, y.data + offset + 16 * g.ow, grad, dy.data + offset,
                                       dy.data + offset + 16 * g.ow, pw, g.ow, g.oc, sums);
        } else {
          loops.blocked_uncovered_row(y.data + offset, dy.data + offset, g.ow, sums);
        }
        for (int c = 0; c < 16; ++c) total[static_cast<size_t>(16 * j + c)] += sums[c];
      }
      partial[static_cast<size_t>(omp_get_thread_num())] = std::move(total);
    }
    if (dbias != nullptr) {
      for (int64_t c = 0; c < g.oc; ++c) {
        double sum = 0;
        for (const auto& p : partial) sum += p.empty() ? 0.0 : p[static_cast<size_t>(c)];
        dbias[c] = static_cast<float>(sum);
      }
    }
    return undefined(env);
  });
}

// maxPoolGrad(geometry, x, dy, dx): dx[argmax of each window] += dy, where the argmax is the first strictly greatest
// element in row-major window order (tfjs's cpu rule; a window of only NaN or -inf passes nothing). A whole 2x2
// window takes a four-compare path written as selects, which the compiler turns into conditional moves.
napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    const PoolGradArgs parsed = pool_grad_args(env, info);
    const Conv& g = parsed.g;
    const FloatView x = parsed.x, dy = parsed.dy, dx = parsed.dx;
    const int64_t channels = g.c;
    const int64_t row_stride = g.w * channels;
    const int64_t image = g.h * row_stride;
    const float lowest = -std::numeric_limits<float>::infinity();
    if (tiles_two_by_two(g)) {
      max_pool_grad_tiled<false>(g, x.data, dy.data, dx.data);
      return undefined(env);
    }
    for_each_window(
        g, [&](int64_t b) { std::fill(dx.data + b * image, dx.data + (b + 1) * image, 0.f); },
        [&](const PoolWindow& w) {
          const float* xb = x.data + w.b * image;
          float* dxb = dx.data + w.b * image;
          const float* grad = dy.data + ((w.b * g.oh + w.oh) * g.ow + w.ow) * channels;
          if (w.two_by_two(g)) {
            const int64_t corner = (w.row_min * g.w + w.col_min) * channels;
            const float* p0 = xb + corner;
            const float* p1 = p0 + channels;
            const float* p2 = p0 + row_stride;
            const float* p3 = p2 + channels;
            for (int64_t c = 0; c < channels; ++c) {
              float top = lowest;
              int64_t where = -1;
              const float v0 = p0[c], v1 = p1[c], v2 = p2[c], v3 = p3[c];
              where = v0 > top ? corner : where;
              top = v0 > top ? v0 : top;
              where = v1 > top ? corner + channels : where;
              top = v1 > top ? v1 : top;
              where = v2 > top ? corner + row_stride : where;
              top = v2 > top ? v2 : top;
              where = v3 > top ? corner + row_stride + channels : where;
              if (where >= 0) dxb[where + c] += grad[c];
            }
            return;
          }
          for (int64_t c = 0; c < channels; ++c) {
            float top = lowest;
            int64_t where = -1;
            for (int64_t row = w.row_min; row < w.row_max; row += g.dilation_h) {
              for (int64_t col = w.col_min; col < w.col_max; col += g.dilation_w) {
                const int64_t at = (row * g.w + col) * channels + c;
                if (xb[at] > top) {
                  top = xb[at];
                  where = at;
                }
              }
            }
            if (where >= 0) dxb[where] += grad[c];
          }
        });
    return undefined(env);
  });
}

// addRows(a, rows, cols, b, bRows, out): out[i·cols + j] = a[i·cols + j] + b[(i mod bRows)·cols + j]: a same-shape sum
// (bRows = rows), or a bias over the innermost axis (bRows = 1), each float rounded once as tfjs's Add does, on
// OpenMP threads for large arrays.
napi_value AddRows(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 6);
    const int64_t rows = int_arg(env, a[1], "rows");
    const int64_t cols = int_arg(env, a[2], "cols");
    const int64_t b_rows = int_arg(env, a[4], "bRows");
    if (rows <= 0 || cols <= 0) throw JsError{"addRows: rows and cols must be positive"};
    if (b_rows != 1 && b_rows != rows) throw JsError{"bRows: expected 1 or rows (" + std::to_string(rows) + "), received " + std::to_string(b_rows)};
    const FloatView x = float_array(env, a[0], "a", static_cast<size_t>(rows * cols));
    const FloatView y = float_array(env, a[3], "b", static_cast<size_t>(b_rows * cols));
    const FloatView out = float_array(env, a[5], "out", static_cast<size_t>(rows * cols));
    const float* __restrict left = x.data;
    const float* __restrict right = y.data;
    float* __restrict sum = out.data;
    if (b_rows == rows) {
      const int64_t count = rows * cols;
#pragma omp parallel for schedule(static) if (count > 65536)
      for (int64_t i = 0; i < count; ++i) sum[i] = left[i] + right[i];
    } else {
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
      for (int64_t i = 0; i < rows; ++i) {
        const float* row = left + i * cols;
        float* target = sum + i * cols;
        for (int64_t j = 0; j < cols; ++j) target[j] = row[j] + right[j];
      }
    }
    return undefined(env);
  });
}

// relu(x, out): out = x > 0 ? x : 0, NaN kept (tfjs's rule on wasm and cpu: relu(-0) is +0), on OpenMP threads.
napi_value Relu(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 2);
    const FloatView x = float_array(env, a[0], "x", 0);
    const FloatView y = float_array(env, a[1], "out", x.length);
    const float* __restrict in = x.data;
    float* __restrict out = y.data;
    const int64_t count = static_cast<int64_t>(x.length);
#pragma omp parallel for schedule(static) if (count > 65536)
    for (int64_t i = 0; i < count; ++i) {
      const float value = in[i];
      out[i] = value > 0.f ? value : (value != value ? value : 0.f);
    }
    return undefined(env);
  });
}

// maxPool(geometry, x, y): y = the first strictly greatest element of each window, -inf when none is (a window of
// only NaN or -inf): tfjs's cpu rule, which the gradient above follows. A whole 2x2 window takes a four-compare path.
napi_value MaxPool(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 3);
    const Conv g = Conv::from(env, a[0]);
    if (g.oc != g.c) throw JsError{"geometry: a pool's outChannels must equal its inChannels"};
    FloatView x = float_array(env, a[1], "x", g.src_size());
    FloatView y = float_array(env, a[2], "y", g.dst_size());
    if (tiles_two_by_two(g)) {
      max_pool_tiled(g, x.data, y.data);
      return undefined(env);
    }
    const int64_t channels = g.c;
    const int64_t row_stride = g.w * channels;
    const float lowest = -std::numeric_limits<float>::infinity();
    for_each_window(
        g, [](int64_t) {},
        [&](const PoolWindow& w) {
          const float* xb = x.data + w.b * g.h * row_stride;
          float* out = y.data + ((w.b * g.oh + w.oh) * g.ow + w.ow) * channels;
          if (w.two_by_two(g)) {
            const float* p0 = xb + (w.row_min * g.w + w.col_min) * channels;
            pool_window_max(p0, p0 + channels, p0 + row_stride, p0 + row_stride + channels, out, channels);
            return;
          }
          for (int64_t c = 0; c < channels; ++c) out[c] = lowest;
          for (int64_t row = w.row_min; row < w.row_max; row += g.dilation_h) {
            for (int64_t col = w.col_min; col < w.col_max; col += g.dilation_w) {
              const float* px = xb + (row * g.w + col) * channels;
              for (int64_t c = 0; c < channels; ++c) out[c] = px[c] > out[c] ? px[c] : out[c];
            }
          }
        });
    return undefined(env);
  });
}

// std::floor without a libm call on the baseline x86-64 build (no SSE4.1 roundss): the same value for every float,
// -0 and NaN included.
inline float floor_exact(float x) {
  if (!(std::fabs(x) < 8388608.f)) return x;  // NaN, infinities, and floats that are already integers
  float r = static_cast<float>(static_cast<int32_t>(x));
  if (r > x) r -= 1.f;
  return r == 0.f && x == 0.f ? x : r;
}

// transformImages(image, dims, transforms, fillValue, out): tf.image.transform (tfjs's `Transform` kernel) for float32
// NHWC images. dims = [batch, height, width, channels, outHeight, outWidth, perImage (1: 8 values per image, 0: one map
// for all), interpolation (1 nearest, 2 bilinear), fillMode (1 constant, 4 nearest)]. Each output pixel (x, y) reads the
// input at ((t0·x + t1·y + t2) / k, (t3·x + t4·y + t5) / k), k = t6·x + t7·y + 1, with the float32 arithmetic of
// tfjs-backend-wasm's kernel in the same order (bit for bit its values), but the coordinates and weights computed once
// per pixel instead of once per channel. Serial and stateless: safe to call from worker threads.
struct TransformGeometry {
  int64_t height, width, out_height, out_width;
  int interpolation, fill_mode;
  float fill;
};

// One image of transformImages. kChannels > 0 fixes the channel count at compile time (unrolled loops); 0 reads it
// from `channels`.
template <int kChannels>
void transform_image(const TransformGeometry& g, int64_t runtime_channels, const float* map, const float* __restrict src, float* __restrict dst) {
  const int64_t channels = kChannels > 0 ? kChannels : runtime_channels;
  const int64_t height = g.height, width = g.width;
  const int interpolation = g.interpolation, fill_mode = g.fill_mode;
  const float fheight = static_cast<float>(height), fwidth = static_cast<float>(width), fill = g.fill;
  float t[8];
  std::copy(map, map + 8, t);
  // Coordinates whose floor lies beyond this are outside any image (and safe to convert to an integer).
  const float far = 1e9f;
  for (int64_t oy = 0; oy < g.out_height; ++oy) {
    const float fy = static_cast<float>(oy);
    for (int64_t ox = 0; ox < g.out_width; ++ox, dst += channels) {
      const float fx = static_cast<float>(ox);
      const float projection = static_cast<float>(static_cast<double>(t[6] * fx + t[7] * fy) + 1.0);
      if (projection == 0) {
        for (int64_t c = 0; c < channels; ++c) dst[c] = fill;
        continue;
      }
      // x / 1 is x exactly: an affine map (t6 = t7 = 0) skips the divisions.
      float x = t[0] * fx + t[1] * fy + t[2];
      float y = t[3] * fx + t[4] * fy + t[5];
      if (projection != 1.f) {
        x /= projection;
        y /= projection;
      }
      if (fill_mode == 4) {
        x = std::max(0.f, std::min(x, fwidth - 1));
        y = std::max(0.f, std::min(y, fheight - 1));
      }
      if (interpolation == 1) {
        const float rx = std::round(x), ry = std::round(y);
        const bool inside = rx >= 0 && rx < fwidth && ry >= 0 && ry < fheight;
        const float* p = inside ? src + (static_cast<int64_t>(ry) * width + static_cast<int64_t>(rx)) * channels : nullptr;
        for (int64_t c = 0; c < channels; ++c) dst[c] = inside ? p[c] : fill;
        continue;
      }
      const float y_floor = floor_exact(y), x_floor = floor_exact(x);
      const float y_ceil = y_floor + 1, x_ceil = x_floor + 1;
      const float wx0 = x_ceil - x, wx1 = x - x_floor, wy0 = y_ceil - y, wy1 = y - y_floor;
      const bool near = std::fabs(x_floor) < far && std::fabs(y_floor) < far;
      const int64_t xf = near ? static_cast<int64_t>(x_floor) : -2, yf = near ? static_cast<int64_t>(y_floor) : -2;
      if (xf >= 0 && xf + 1 < width && yf >= 0 && yf + 1 < height) {  // all four neighbours inside
        const float* r0 = src + (yf * width + xf) * channels;
        const float* r1 = r0 + width * channels;
        for (int64_t c = 0; c < channels; ++c) {
          const float top = wx0 * r0[c] + wx1 * r0[channels + c];
          const float bottom = wx0 * r1[c] + wx1 * r1[channels + c];
          dst[c] = wy0 * top + wy1 * bottom;
        }
        continue;
      }
      const bool x0 = xf >= 0 && xf < width, x1 = xf + 1 >= 0 && xf + 1 < width;
      const bool y0 = yf >= 0 && yf < height, y1 = yf + 1 >= 0 && yf + 1 < height;
      for (int64_t c = 0; c < channels; ++c) {
        const float v00 = y0 && x0 ? src[(yf * width + xf) * channels + c] : fill;
        const float v01 = y0 && x1 ? src[(yf * width + xf + 1) * channels + c] : fill;
        const float v10 = y1 && x0 ? src[((yf + 1) * width + xf) * channels + c] : fill;
        const float v11 = y1 && x1 ? src[((yf + 1) * width + xf + 1) * channels + c] : fill;
        const float top = wx0 * v00 + wx1 * v01;
        const float bottom = wx0 * v10 + wx1 * v11;
        dst[c] = wy0 * top + wy1 * bottom;
      }
    }
  }
}

napi_value TransformImages(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 5);
    bool is_typed = false;
    check(env, napi_is_typedarray(env, a[1], &is_typed), "napi_is_typedarray");
    napi_typedarray_type type;
    size_t dims_length = 0;
    void* dims_data = nullptr;
    napi_value buffer;
    size_t offset = 0;
    if (is_typed) check(env, napi_get_typedarray_info(env, a[1], &type, &dims_length, &dims_data, &buffer, &offset), "napi_get_typedarray_info");
    if (!is_typed || type != napi_int32_array || dims_length < 9) throw JsError{"dims: expected an Int32Array of 9 values"};
    const int32_t* d = static_cast<const int32_t*>(dims_data);
    for (int i = 0; i < 6; ++i) {
      if (d[i] < 1) throw JsError{"dims: batch, height, width, channels, outHeight and outWidth must be positive"};
    }
    const int64_t batch = d[0], channels = d[3];
    const bool per_image = d[6] != 0;
    const TransformGeometry g{d[1], d[2], d[4], d[5], d[7], d[8], 0.f};
    if (g.interpolation != 1 && g.interpolation != 2) throw JsError{"dims[7]: interpolation must be 1 (nearest) or 2 (bilinear)"};
    if (g.fill_mode != 1 && g.fill_mode != 4) throw JsError{"dims[8]: fillMode must be 1 (constant) or 4 (nearest)"};
    const FloatView image = float_array(env, a[0], "image", static_cast<size_t>(batch * g.height * g.width * channels));
    const FloatView transforms = float_array(env, a[2], "transforms", per_image ? static_cast<size_t>(batch * 8) : 8);
    TransformGeometry geometry = g;
    geometry.fill = static_cast<float>(number_arg(env, a[3], "fillValue"));
    FloatView out = float_array(env, a[4], "out", static_cast<size_t>(batch * g.out_height * g.out_width * channels));
    const int64_t in_size = g.height * g.width * channels, out_size = g.out_height * g.out_width * channels;
    for (int64_t b = 0; b < batch; ++b) {
      const float* t = transforms.data + (per_image ? b * 8 : 0);
      const float* src = image.data + b * in_size;
      float* dst = out.data + b * out_size;
      if (channels == 3) transform_image<3>(geometry, 3, t, src, dst);
      else if (channels == 1) transform_image<1>(geometry, 1, t, src, dst);
      else transform_image<0>(geometry, channels, t, src, dst);
    }
    return undefined(env);
  });
}

// reluGrad(dy, x, dx): the gradient of relu, dx = dy where x > 0 and dy·0 elsewhere (a signed zero, or NaN where
// dy is NaN or infinite), NaN where x is NaN: what tfjs's mul(dy, cast(step(x), 'float32')) gives on wasm, in one
// pass instead of three, on OpenMP threads.
napi_value ReluGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 3);
    const FloatView dy = float_array(env, a[0], "dy", 0);
    const size_t n = dy.length;
    const FloatView x = float_array(env, a[1], "x", n);
    const FloatView dx = float_array(env, a[2], "dx", n);
    const float* __restrict g = dy.data;
    const float* __restrict v = x.data;
    float* __restrict out = dx.data;
    const int64_t count = static_cast<int64_t>(n);
#pragma omp parallel for schedule(static) if (count > 65536)
    for (int64_t i = 0; i < count; ++i) {
      const float value = v[i];
      const float mask = value > 0.f ? 1.f : (value != value ? value : 0.f);
      out[i] = g[i] * mask;
    }
    return undefined(env);
  });
}

// reluBiasGrad(dy, y, cols, dx, dbias): the backward pass of relu(conv + bias) in one sweep over dy, from the layer's
// output y = relu(z) (y > 0 exactly where z > 0, NaN where z is NaN): dx[i] = dy[i] · (y[i] > 0 ? 1 : y[i] is NaN ? NaN
// : 0), bit for bit ReluGrad; dbias[j] = Σ_r dx[r·cols + j] accumulated in float64 per thread over the same static row
// split as SumRows, so it equals SumRows(dx) bit for bit.
napi_value ReluBiasGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 5);
    const FloatView dy = float_array(env, a[0], "dy", 0);
    const size_t n = dy.length;
    const FloatView y = float_array(env, a[1], "y", n);
    const int64_t cols = int_arg(env, a[2], "cols");
    if (cols <= 0 || n % static_cast<size_t>(cols) != 0) {
      throw JsError{"reluBiasGrad: cols must be positive and divide dy's length"};
    }
    const FloatView dx = float_array(env, a[3], "dx", n);
    FloatView dbias = float_array(env, a[4], "dbias", static_cast<size_t>(cols));
    const int64_t rows = static_cast<int64_t>(n) / cols;
    const float* __restrict g = dy.data;
    const float* __restrict v = y.data;
    float* __restrict out = dx.data;
    column_sums(rows, cols, dbias.data, [g, v, out, cols](int64_t i, double* acc) {
      relu_bias_row(g + i * cols, v + i * cols, out + i * cols, acc, cols);
    });
    return undefined(env);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Fused optimizer updates: one pass over a variable's weights, gradient and slots, in float32 with every product,
// sum, quotient and square root rounded on its own (built with -ffp-contract=off: no fused multiply-add), in the
// order of @convkit/optim's tensor ops, so that the results are bit-identical to the unfused path on wasm.

// Runs body(begin, end) over [0, n) in one contiguous slice per OpenMP thread (slices start on 16-float boundaries),
// or on this thread alone for small n, where waking the pool costs more than the loop. For elementwise loops: each
// element is computed as it would be on one thread, so the result is the same bit for bit.
template <typename Body>
void split_elementwise(size_t n, Body body) {
  if (n <= 65536) {
    body(size_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const size_t threads = static_cast<size_t>(omp_get_num_threads());
    const size_t t = static_cast<size_t>(omp_get_thread_num());
    const size_t slice = ((n + threads - 1) / threads + 15) / 16 * 16;
    const size_t begin = std::min(n, t * slice);
    const size_t end = std::min(n, begin + slice);
    if (begin < end) body(begin, end);
  }
}

// A slice of an optional array (null stays null).
inline const float* offset(const float* p, size_t at) { return p == nullptr ? nullptr : p + at; }
inline float* offset(float* p, size_t at) { return p == nullptr ? nullptr : p + at; }

// An output may be its input (wOut = w, mOut = m, ...: the update in place, which reads and writes each weight's
// lines once instead of streaming to new ones: W1's 421,642 weights with cold caches 0.86 → 0.48 ms): each element is
// read before it is written and no element reads another's, which `ivdep` tells the vectorizer in place of
// `__restrict`.
template <bool kAmsgrad, bool kDecoupled, bool kL2>
void adam_loop(size_t n, const float* w, const float* g, const float* m, const float* v, const float* v_max,
               float* w_out, float* m_out, float* v_out, float* v_max_out, const float* s) {
  const float weight_scale = s[0], weight_decay = s[1], beta1 = s[2], one_minus_beta1 = s[3], beta2 = s[4],
              one_minus_beta2 = s[5], negative_step_size = s[6], sqrt_bias_correction2 = s[7], epsilon = s[8];
#pragma GCC ivdep
  for (size_t i = 0; i < n; ++i) {
    const float weight = w[i];
    const float base = kDecoupled ? weight * weight_scale : weight;
    const float grad = kL2 ? g[i] + weight * weight_decay : g[i];
    const float first = m[i] * beta1 + grad * one_minus_beta1;
    const float second = v[i] * beta2 + (grad * one_minus_beta2) * grad;
    float used = second;
    if (kAmsgrad) {
      used = v_max[i] < second || second != second ? second : v_max[i];
      v_max_out[i] = used;
    }
    const float denominator = std::sqrt(used) / sqrt_bias_correction2 + epsilon;
    w_out[i] = base + (first * negative_step_size) / denominator;
    m_out[i] = first;
    v_out[i] = second;
  }
}

using AdamLoop = void (*)(size_t, const float*, const float*, const float*, const float*, const float*, float*, float*,
                          float*, float*, const float*);
// Left to the baseline build: its 4-wide square roots and divisions (0.48 ms for W1's 421,642 weights at one thread)
// ran faster than AVX-512's (0.66 ms); the divider's throughput per element does not grow with the width.
const AdamLoop kAdamLoops[8] = {adam_loop<false, false, false>, adam_loop<true, false, false>, adam_loop<false, true, false>,
                                adam_loop<true, true, false>,   adam_loop<false, false, true>, adam_loop<true, false, true>,
                                adam_loop<false, true, true>,   adam_loop<true, true, true>};

// adamUpdate(w, g, m, v, vMax | null, wOut, mOut, vOut, vMaxOut | null, scalars, flags): scalars are the float32
// [weightScale, weightDecay, beta1, 1 − beta1, beta2, 1 − beta2, −stepSize, √biasCorrection2, epsilon]; flags bit 0
// amsgrad (vMax, vMaxOut given), bit 1 decoupled (AdamW: w·weightScale), bit 2 the L2 term (g + w·weightDecay).
napi_value AdamUpdate(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 11);
    const int64_t flags = int_arg(env, a[10], "flags");
    if (flags < 0 || flags > 7) throw JsError{"flags: expected an integer in [0, 7], received " + std::to_string(flags)};
    const bool amsgrad = (flags & 1) != 0;
    const FloatView w = float_array(env, a[0], "w", 0);
    const size_t n = w.length;
    const FloatView g = float_array(env, a[1], "g", n), m = float_array(env, a[2], "m", n), v = float_array(env, a[3], "v", n);
    const FloatView w_out = float_array(env, a[5], "wOut", n), m_out = float_array(env, a[6], "mOut", n),
                    v_out = float_array(env, a[7], "vOut", n);
    const FloatView v_max = amsgrad ? float_array(env, a[4], "vMax", n) : FloatView{};
    const FloatView v_max_out = amsgrad ? float_array(env, a[8], "vMaxOut", n) : FloatView{};
    const FloatView scalars = float_array(env, a[9], "scalars", 9);
    const auto loop = kAdamLoops[flags];
    split_elementwise(n, [&](size_t begin, size_t end) {
      loop(end - begin, w.data + begin, g.data + begin, m.data + begin, v.data + begin, offset(v_max.data, begin),
           w_out.data + begin, m_out.data + begin, v_out.data + begin, offset(v_max_out.data, begin), scalars.data);
    });
    return undefined(env);
  });
}

// In place or not, as adam_loop.
template <bool kL2, bool kMomentum, bool kNesterov>
void sgd_loop(size_t n, const float* w, const float* g, const float* b, float* w_out, float* b_out, const float* s) {
  const float weight_decay = s[0], momentum = s[1], one_minus_dampening = s[2], negative_learning_rate = s[3];
#pragma GCC ivdep
  for (size_t i = 0; i < n; ++i) {
    const float weight = w[i];
    float direction = kL2 ? g[i] + weight * weight_decay : g[i];
    if (kMomentum) {
      const float buffer = b[i] * momentum + direction * one_minus_dampening;
      b_out[i] = buffer;
      direction = kNesterov ? direction + buffer * momentum : buffer;
    }
    w_out[i] = weight + direction * negative_learning_rate;
  }
}

using SgdLoop = void (*)(size_t, const float*, const float*, const float*, float*, float*, const float*);
const SgdLoop kSgdLoops[8] = {sgd_loop<false, false, false>, sgd_loop<true, false, false>, sgd_loop<false, true, false>,
                              sgd_loop<true, true, false>,   sgd_loop<false, false, true>, sgd_loop<true, false, true>,
                              sgd_loop<false, true, true>,   sgd_loop<true, true, true>};

// sgdUpdate(w, g, b | null, wOut, bOut | null, scalars, flags): scalars are the float32 [weightDecay, momentum,
// 1 − dampening, −learningRate]; flags bit 0 the L2 term, bit 1 momentum (b, bOut given), bit 2 Nesterov.
napi_value SgdUpdate(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 7);
    const int64_t flags = int_arg(env, a[6], "flags");
    if (flags < 0 || flags > 7) throw JsError{"flags: expected an integer in [0, 7], received " + std::to_string(flags)};
    const bool momentum = (flags & 2) != 0;
    const FloatView w = float_array(env, a[0], "w", 0);
    const size_t n = w.length;
    const FloatView g = float_array(env, a[1], "g", n), w_out = float_array(env, a[3], "wOut", n);
    const FloatView b = momentum ? float_array(env, a[2], "b", n) : FloatView{};
    const FloatView b_out = momentum ? float_array(env, a[4], "bOut", n) : FloatView{};
    const FloatView scalars = float_array(env, a[5], "scalars", 4);
    const auto loop = kSgdLoops[flags];
    split_elementwise(n, [&](size_t begin, size_t end) {
      loop(end - begin, w.data + begin, g.data + begin, offset(b.data, begin), w_out.data + begin,
           offset(b_out.data, begin), scalars.data);
    });
    return undefined(env);
  });
}

// setPrecision("f32" | "bf16"): the convolutions' precision (bf16: bf16 products, f32 sums and outputs; only on a
// CPU with bf16 instructions, else an error). getPrecision(): the current one.
napi_value SetPrecision(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 1);
    char value[16] = {0};
    size_t length = 0;
    if (napi_get_value_string_utf8(env, a[0], value, sizeof value, &length) != napi_ok) {
      throw JsError{"precision: expected 'f32' or 'bf16'"};
    }
    if (std::strcmp(value, "f32") == 0) {
      use_bf16() = false;
    } else if (std::strcmp(value, "bf16") == 0) {
      const auto isa = dnnl::get_effective_cpu_isa();
      if (isa != dnnl::cpu_isa::avx512_core_bf16 && isa != dnnl::cpu_isa::avx512_core_amx) {
        throw JsError{"precision 'bf16' needs a CPU with bf16 instructions (avx512_core_bf16 or avx512_core_amx)"};
      }
      use_bf16() = true;
    } else {
      throw JsError{std::string("precision: expected 'f32' or 'bf16', received '") + value + "'"};
    }
    return undefined(env);
  });
}

// setConvAlgorithm("auto" | "direct" | "winograd"): which float32 convolutions run with Winograd (winograd_for).
// getConvAlgorithm(): the current setting.
const char* const kAlgorithmNames[] = {"auto", "direct", "winograd"};

napi_value SetConvAlgorithm(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 1);
    char value[16] = {0};
    size_t length = 0;
    if (napi_get_value_string_utf8(env, a[0], value, sizeof value, &length) != napi_ok) {
      throw JsError{"algorithm: expected 'auto', 'direct' or 'winograd'"};
    }
    for (int i = 0; i < 3; ++i) {
      if (std::strcmp(value, kAlgorithmNames[i]) == 0) {
        conv_algorithm() = static_cast<ConvAlgorithm>(i);
        return undefined(env);
      }
    }
    throw JsError{std::string("algorithm: expected 'auto', 'direct' or 'winograd', received '") + value + "'"};
  });
}

napi_value GetConvAlgorithm(napi_env env, napi_callback_info) {
  napi_value value;
  napi_create_string_utf8(env, kAlgorithmNames[conv_algorithm()], NAPI_AUTO_LENGTH, &value);
  return value;
}

napi_value GetPrecision(napi_env env, napi_callback_info) {
  napi_value value;
  const char* text = use_bf16() ? "bf16" : "f32";
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value);
  return value;
}

// setThreads(n): the number of OpenMP threads oneDNN uses. getThreads(): the current number.
napi_value SetThreads(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 1);
    const int64_t threads = int_arg(env, a[0], "threads");
    if (threads < 1) throw JsError{"threads: expected a positive integer, received " + std::to_string(threads)};
    omp_set_num_threads(static_cast<int>(threads));
    return undefined(env);
  });
}

napi_value GetThreads(napi_env env, napi_callback_info) {
  napi_value value;
  napi_create_int32(env, omp_get_max_threads(), &value);
  return value;
}

// info(): { version, cpuIsa } of the oneDNN library loaded.
napi_value Info(napi_env env, napi_callback_info) {
  return guarded(env, [&]() -> napi_value {
    const dnnl_version_t* v = dnnl_version();
    std::string version = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
    const char* isa = "unknown";
    switch (dnnl::get_effective_cpu_isa()) {
      case dnnl::cpu_isa::sse41: isa = "sse41"; break;
      case dnnl::cpu_isa::avx: isa = "avx"; break;
      case dnnl::cpu_isa::avx2: isa = "avx2"; break;
      case dnnl::cpu_isa::avx512_core: isa = "avx512_core"; break;
      case dnnl::cpu_isa::avx512_core_vnni: isa = "avx512_core_vnni"; break;
      case dnnl::cpu_isa::avx512_core_bf16: isa = "avx512_core_bf16"; break;
      case dnnl::cpu_isa::avx512_core_amx: isa = "avx512_core_amx"; break;
      default: break;
    }
    napi_value result, version_value, isa_value;
    check(env, napi_create_object(env, &result), "napi_create_object");
    check(env, napi_create_string_utf8(env, version.c_str(), version.size(), &version_value), "string");
    check(env, napi_create_string_utf8(env, isa, NAPI_AUTO_LENGTH, &isa_value), "string");
    check(env, napi_set_named_property(env, result, "version", version_value), "set");
    check(env, napi_set_named_property(env, result, "cpuIsa", isa_value), "set");
    return result;
  });
}

// implementation(kind, geometry): the oneDNN implementation chosen for a convolution ("fwd", "bwd_data",
// "bwd_weights"), for profiles and tests.
napi_value Implementation(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 2);
    size_t length = 0;
    char kind[32] = {0};
    check(env, napi_get_value_string_utf8(env, a[0], kind, sizeof kind, &length), "kind");
    const Conv conv = Conv::from(env, a[1]);
    std::string impl;
    const bool low = use_bf16();
    auto pick = [&](auto make) -> std::string {
      if (low && low_for([&]() -> Cached& { return make(true); })) return make(true).impl + " bf16";
      return make(false).impl;
    };
    if (std::strcmp(kind, "fwd") == 0) impl = pick([&](bool l) -> Cached& { return forward_primitive(conv, false, kLinear, 0.f, l); });
    else if (std::strcmp(kind, "bwd_data") == 0) impl = pick([&](bool l) -> Cached& { return backward_data_primitive(conv, l); });
    else if (std::strcmp(kind, "bwd_weights") == 0) impl = pick([&](bool l) -> Cached& { return backward_weights_primitive(conv, l); });
    else throw JsError{std::string("kind: expected 'fwd', 'bwd_data' or 'bwd_weights', received '") + kind + "'"};
    napi_value value;
    check(env, napi_create_string_utf8(env, impl.c_str(), impl.size(), &value), "string");
    return value;
  });
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor properties[] = {
      {"conv2d", nullptr, Conv2d, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackwardData", nullptr, Conv2dBackwardData, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackwardFilter", nullptr, Conv2dBackwardFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matMul", nullptr, MatMul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolGrad", nullptr, MaxPoolGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolReluGrad", nullptr, MaxPoolReluGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolReluBiasGrad", nullptr, MaxPoolReluBiasGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"convReluPool", nullptr, ConvReluPool, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"convReluPoolGrad", nullptr, ConvReluPoolGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"blockedConvFits", nullptr, BlockedConvFits, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"blockedConv", nullptr, BlockedConv, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"blockedConvBackwardData", nullptr, BlockedConvBackwardData, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"blockedConvBackwardFilter", nullptr, BlockedConvBackwardFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"blockedReluPool", nullptr, BlockedReluPool, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"blockedReluPoolGrad", nullptr, BlockedReluPoolGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumRows", nullptr, SumRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"transformImages", nullptr, TransformImages, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reluGrad", nullptr, ReluGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reluBiasGrad", nullptr, ReluBiasGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addRows", nullptr, AddRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"relu", nullptr, Relu, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPool", nullptr, MaxPool, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamUpdate", nullptr, AdamUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sgdUpdate", nullptr, SgdUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"getThreads", nullptr, GetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setPrecision", nullptr, SetPrecision, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"getPrecision", nullptr, GetPrecision, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setConvAlgorithm", nullptr, SetConvAlgorithm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"getConvAlgorithm", nullptr, GetConvAlgorithm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"implementation", nullptr, Implementation, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  register_jpeg(env, exports);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
