// oneDNN kernels for the RadioLens tfjs backend: convolution, pooling, matmul, eltwise, softmax, batch norm.
//
// Tensors stay in the tfjs CPU backend's Float32Arrays (channels-last, NHWC / NDHWC; filters HWIO / DHWIO);
// they are described to oneDNN with explicit strides so no copy is made on the way in or out. Primitives are
// cached by their full parameter vector; weight-side reorders to the primitive's preferred blocked layout are
// created once per cache entry and reused. oneDNN reference: https://oneapi-src.github.io/oneDNN/v2.6/
#include <napi.h>
#include <omp.h>

#include <immintrin.h>
#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "abi.h"
#include "oneapi/dnnl/dnnl.hpp"

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

dnnl::engine& eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
dnnl::stream& strm() {
  static dnnl::stream s(eng());
  return s;
}

int g_threads = 1;

// Channels per work item of the per-channel reductions: each channel is summed by one thread in row order (so the
// bits do not depend on the thread count), and 16 channels give a 64-channel layer four items to share out.
constexpr int64_t kChannelBlock = 16;

// ---------- argument helpers ----------

float* f32(const Napi::Value& v) {
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  return v.As<Napi::Float32Array>().Data();
}
size_t f32len(const Napi::Value& v) { return v.As<Napi::Float32Array>().ElementLength(); }

std::vector<int32_t> ints(const Napi::Value& v) {
  auto a = v.As<Napi::Int32Array>();
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

std::string keyOf(char kind, const std::vector<int32_t>& p, float a = 0.f, float b = 0.f) {
  std::string k(1, kind);
  k.append(reinterpret_cast<const char*>(p.data()), p.size() * sizeof(int32_t));
  k.append(reinterpret_cast<const char*>(&a), sizeof a);
  k.append(reinterpret_cast<const char*>(&b), sizeof b);
  return k;
}

// Channels-last strides for dims {N, C, S0, S1, ...}.
memory::desc channelsLast(const memory::dims& d) {
  memory::dims s(d.size());
  memory::dim acc = d[1];
  for (size_t i = d.size() - 1; i >= 2; --i) {
    s[i] = acc;
    acc *= d[i];
  }
  s[1] = 1;
  s[0] = acc;
  return memory::desc(d, dt::f32, s);
}


dnnl::primitive_attr actAttr(int act, float alpha) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::library);
  if (act == ACT_NONE) return attr;
  dnnl::post_ops po;
  switch (act) {
    case ACT_RELU: po.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f); break;
    case ACT_RELU6: po.append_eltwise(1.f, algorithm::eltwise_clip, 0.f, 6.f); break;
    case ACT_ELU: po.append_eltwise(1.f, algorithm::eltwise_elu, 1.f, 0.f); break;
    case ACT_SIGMOID: po.append_eltwise(1.f, algorithm::eltwise_logistic, 0.f, 0.f); break;
    case ACT_LEAKY: po.append_eltwise(1.f, algorithm::eltwise_relu, alpha, 0.f); break;
    default: break;
  }
  attr.set_post_ops(po);
  return attr;
}

// A reorder between a user buffer and a primitive-owned buffer in the primitive's preferred layout.
struct Staged {
  bool needed = false;
  memory user, inner;
  dnnl::reorder r;
  void init(const memory::desc& userMd, const memory::desc& wantMd, bool toInner) {
    user = memory(userMd, eng(), DNNL_MEMORY_NONE);
    if (userMd == wantMd) return;
    needed = true;
    inner = memory(wantMd, eng());
    r = toInner ? dnnl::reorder(user, inner) : dnnl::reorder(inner, user);
  }
  memory& in(float* p) {
    user.set_data_handle(p);
    if (!needed) return user;
    r.execute(strm(), user, inner);
    version = 0;
    return inner;
  }
  // Like in(), but the reorder is skipped when the same buffer with the same tensor version (an id the backend gives
  // each tensor's storage; 0 = unknown) was reordered last time: weights at inference, and within a training step.
  memory& inVersioned(float* p, double v) {
    if (needed && v != 0 && v == version && p == lastPtr) return inner;
    memory& m = in(p);
    version = v;
    lastPtr = p;
    return m;
  }
  double version = 0;
  float* lastPtr = nullptr;
  memory& out(float* p) {
    user.set_data_handle(p);
    return needed ? inner : user;
  }
  void flush() {
    if (needed) r.execute(strm(), inner, user);
  }
};

// Channels per block of oneDNN's direct JIT convolutions on the ISA it dispatches to: 16 floats per vector on
// AVX-512, 8 on AVX/AVX2 (and the SSE4.1 kernels, which work on pairs of 4-float vectors over 8-channel blocks).
// Read once: ONEDNN_MAX_CPU_ISA is fixed for the process.
int isaChannelBlock() {
  static const int block = [] {
    switch (dnnl::get_effective_cpu_isa()) {
      case dnnl::cpu_isa::avx512_core:
      case dnnl::cpu_isa::avx512_core_vnni:
      case dnnl::cpu_isa::avx512_core_bf16:
      case dnnl::cpu_isa::avx512_core_amx:
      case dnnl::cpu_isa::avx512_mic:
      case dnnl::cpu_isa::avx512_mic_4ops: return 16;
      default: return 8;
    }
  }();
  return block;
}

// Convolution activation layouts: per shape and ISA (activationLayout), or forced by setConvLayout() (ConvLayoutMode).
int g_layoutMode = LAYOUT_AUTO;

// ---------- implementation guard ----------
// oneDNN answers any primitive request, falling back to its reference C++ loops (`ref:`) when no JIT kernel covers
// the layouts asked for — 100-1000× slower (a 4×4×512 convolution in aBcd16b on an AVX2 CPU: 18 s instead of
// 20 ms). Every primitive's implementation name is recorded; a convolution that got a reference one is re-created
// with another activation layout, and the remaining reference implementations are listed by `implementations()`
// (`radiolens doctor`). Each distinct event is reported once to the debug logger set by `setLogger`.
std::vector<std::string> g_implOrder;
std::unordered_map<std::string, int> g_implSeen;
std::unordered_map<std::string, int> g_logged;
Napi::FunctionReference g_logger;

bool isRef(const std::string& impl) { return impl.rfind("ref", 0) == 0; }

void debugOnce(const std::string& msg) {
  if (g_logged.count(msg) != 0) return;
  g_logged.emplace(msg, 1);
  if (g_logger.IsEmpty()) return;
  Napi::Env env = g_logger.Env();
  g_logger.Call({Napi::String::New(env, msg)});
}

// Records the implementation a primitive of `kind` was created with; a reference one is reported once.
void noteImpl(const char* kind, const std::string& impl) {
  const std::string key = std::string(kind) + " " + impl;
  if (g_implSeen.count(key) == 0) {
    g_implSeen.emplace(key, 1);
    g_implOrder.push_back(key);
  }
  if (isRef(impl)) debugOnce(std::string("oneDNN has no JIT ") + kind + " for this shape and ISA; running " + impl);
}

// ---------- convolution (2D / 3D, grouped for depthwise) ----------
// params: abi::conv (abi.json): nd, N, IC, OC, G, then per spatial dim i: in, k, out, stride, dil (oneDNN: extra
// gap), padL, padR; then act.
struct ConvParams {
  int nd, N, IC, OC, G, act;
  // Activation layout of the primitive: the user's channels-last, oneDNN's choice (`any`), or channel blocks of
  // the dispatched ISA's vector width (8 floats on AVX/AVX2 and SSE4.1's 8-channel kernels, 16 on AVX-512).
  enum Layout { PLAIN, ANY, BLOCKED } layout = PLAIN;
  memory::dims in, k, out, stride, dil, padL, padR;
  explicit ConvParams(const std::vector<int32_t>& p) {
    namespace L = abi::conv;
    nd = p[L::head::nd];
    N = p[L::head::N];
    IC = p[L::head::IC];
    OC = p[L::head::OC];
    G = p[L::head::G];
    for (int i = 0; i < nd; ++i) {
      in.push_back(p[L::at(i, L::dim::in)]);
      k.push_back(p[L::at(i, L::dim::k)]);
      out.push_back(p[L::at(i, L::dim::out)]);
      stride.push_back(p[L::at(i, L::dim::stride)]);
      dil.push_back(p[L::at(i, L::dim::dil)]);
      padL.push_back(p[L::at(i, L::dim::padL)]);
      padR.push_back(p[L::at(i, L::dim::padR)]);
    }
    act = p[L::tailAt(nd, L::tail::act)];
  }
  memory::desc srcMd() const {
    memory::dims d{N, IC};
    d.insert(d.end(), in.begin(), in.end());
    return channelsLast(d);
  }
  memory::desc dstMd() const {
    memory::dims d{N, OC};
    d.insert(d.end(), out.begin(), out.end());
    return channelsLast(d);
  }
  // tfjs filters are [k..., IC/G, OC] (HWIO); depthwise filters are [k..., IC, OC/IC] which is the same buffer
  // seen as groups G=IC of (OC/G, 1) with the group index outermost in the channel dimension.
  memory::desc weiUserMd() const {
    memory::dim ksz = 1;
    for (auto v : k) ksz *= v;
    memory::dims d, s;
    memory::dim spatialStride = static_cast<memory::dim>(IC / G) * OC;
    if (G == 1) {
      d = {OC, IC};
      s = {1, OC};
    } else {
      d = {G, OC / G, IC / G};
      s = {OC / G, 1, OC};
    }
    memory::dims ks(nd);
    memory::dim acc = spatialStride;
    for (int i = nd - 1; i >= 0; --i) {
      ks[i] = acc;
      acc *= k[i];
    }
    d.insert(d.end(), k.begin(), k.end());
    s.insert(s.end(), ks.begin(), ks.end());
    return memory::desc(d, dt::f32, s);
  }
  memory::desc weiAnyMd() const {
    memory::dims d = G == 1 ? memory::dims{OC, IC} : memory::dims{G, OC / G, IC / G};
    d.insert(d.end(), k.begin(), k.end());
    return memory::desc(d, dt::f32, tag::any);
  }
  memory::desc biasMd() const { return memory::desc({OC}, dt::f32, tag::x); }
  memory::desc layoutMd(const memory::desc& plain) const {
    if (layout == PLAIN) return plain;
    const bool b16 = isaChannelBlock() == 16 || g_layoutMode == LAYOUT_BLOCK16;
    tag t = layout == ANY ? tag::any : nd == 2 ? (b16 ? tag::aBcd16b : tag::aBcd8b) : (b16 ? tag::aBcde16b : tag::aBcde8b);
    return memory::desc(plain.dims(), dt::f32, t);
  }
  memory::desc srcMdFor() const { return layoutMd(srcMd()); }
  memory::desc dstMdFor() const { return layoutMd(dstMd()); }
  dnnl::convolution_forward::primitive_desc fwdPd(prop_kind pk, bool bias, const dnnl::primitive_attr& attr) const {
    memory::desc dst = dstMdFor();
    dnnl::convolution_forward::desc d =
        bias ? dnnl::convolution_forward::desc(pk, algorithm::convolution_direct, srcMdFor(), weiAnyMd(), biasMd(),
                                               dst, stride, dil, padL, padR)
             : dnnl::convolution_forward::desc(pk, algorithm::convolution_direct, srcMdFor(), weiAnyMd(), dst, stride,
                                               dil, padL, padR);
    return dnnl::convolution_forward::primitive_desc(d, attr, eng());
  }
};

struct ConvFwd {
  dnnl::convolution_forward prim;
  Staged src, wei, dst;
  memory bias;
  bool hasBias;
  std::string impl;
};
struct ConvBwdData {
  std::string impl;
  dnnl::convolution_backward_data prim;
  Staged diffDst, wei, diffSrc;
};
struct ConvBwdWeights {
  std::string impl;
  dnnl::convolution_backward_weights prim;
  Staged src, diffDst, diffWei;
};

std::unordered_map<std::string, std::shared_ptr<void>> g_cache;
std::string g_lastConvImpl, g_lastBwdDataImpl, g_lastBwdWeightsImpl, g_lastBnImpl;

// Small primitives run on one thread: a parallel region costs more than it saves on them, and far more when the
// cores are shared with other processes (a worker that is not scheduled stalls the barrier). The choice depends
// only on the shape, so results stay reproducible for a given thread setting.
struct ThreadScope {
  bool narrowed = false;
  ThreadScope(double work, double threshold) {
    if (g_threads > 1 && work < threshold) {
      narrowed = true;
      omp_set_num_threads(1);
    }
  }
  ~ThreadScope() {
    if (narrowed) omp_set_num_threads(g_threads);
  }
};
constexpr double kMinParallelMacs = 4e6;
constexpr double kMinParallelElems = 2.5e5;

// A parameter array shorter than its abi.json layout is refused before any index is read (the forward convolution
// appends a bias flag, so longer is allowed).
void checkParams(const std::vector<int32_t>& p, std::size_t head, std::size_t (*size)(int), const char* what) {
  if (p.size() < head || p[0] < 1 || p[0] > 3 || p.size() < size(p[0]))
    throw std::invalid_argument(std::string(what) + " parameters do not match abi.json");
}

double convMacs(const std::vector<int32_t>& p) {
  namespace L = abi::conv;
  checkParams(p, L::kHead, L::size, "convolution");
  const int nd = p[L::head::nd];
  double macs = static_cast<double>(p[L::head::N]) * p[L::head::OC] * (p[L::head::IC] / p[L::head::G]);
  for (int i = 0; i < nd; ++i) macs *= static_cast<double>(p[L::at(i, L::dim::k)]) * p[L::at(i, L::dim::out)];
  return macs;
}
double poolWork(const std::vector<int32_t>& p) {
  namespace L = abi::pool;
  checkParams(p, L::kHead, L::size, "pooling");
  const int nd = p[L::head::nd];
  double w = static_cast<double>(p[L::head::N]) * p[L::head::C];
  for (int i = 0; i < nd; ++i)
    w *= static_cast<double>(p[L::at(i, L::dim::in)]) + p[L::at(i, L::dim::k)] * p[L::at(i, L::dim::out)];
  return w;
}

template <typename T, typename F>
T& cached(const std::string& key, F make) {
  auto it = g_cache.find(key);
  if (it != g_cache.end()) return *static_cast<T*>(it->second.get());
  std::shared_ptr<T> v = make();
  g_cache.emplace(key, v);
  return *v;
}

dnnl::primitive_attr plainAttr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::library);
  return attr;
}

#define GUARD_BEGIN try {
#define GUARD_END                                                                           \
  }                                                                                         \
  catch (const dnnl::error& e) {                                                            \
    Napi::Error::New(info.Env(), std::string("oneDNN: ") + e.what()).ThrowAsJavaScriptException(); \
  }                                                                                         \
  catch (const std::exception& e) {                                                         \
    Napi::Error::New(info.Env(), e.what()).ThrowAsJavaScriptException();                    \
  }                                                                                         \
  return info.Env().Undefined();

// Activations mostly stay channels-last (no reorders): oneDNN 2.6 picks its brgemm kernels for them on AVX-512 and
// its direct JIT kernels on AVX2, as fast as their blocked-layout counterparts on the reference models' larger
// layers. On small feature maps with many channels (ResNet-18's 4×4×512 stage) the AVX-512 forward brgemm kernel
// reaches ~125 GFLOPS against ~150 for the direct JIT kernel on channel blocks, which oneDNN only picks when the
// activations are given in that layout; there the forward pass reorders its input and output (a few hundred KB)
// around it (ADR 017). The block is the dispatched ISA's (ADR 019): a 16-channel block on an AVX2 CPU has no JIT
// kernel. Whatever is chosen here, jitConvPd() replaces a layout that only a reference kernel covers.
// setConvLayout() (tests, tuning) forces channels-last or oneDNN's choice for every convolution.

ConvParams::Layout activationLayout(const ConvParams& cp, bool forward) {
  if (g_layoutMode == LAYOUT_ANY) return ConvParams::ANY;
  if (g_layoutMode == LAYOUT_PLAIN) return ConvParams::PLAIN;
  if (g_layoutMode == LAYOUT_BLOCK16) return forward && cp.G == 1 ? ConvParams::BLOCKED : ConvParams::PLAIN;
  const int block = isaChannelBlock();
  memory::dim outSpatial = 1;
  for (auto v : cp.out) outSpatial *= v;
  const bool blockable = forward && cp.nd == 2 && cp.G == 1 && cp.IC % block == 0 && cp.OC % block == 0;
  if (blockable && outSpatial <= 16) return ConvParams::BLOCKED;
  // Below AVX-512 there is no brgemm convolution for channels-last activations; oneDNN's own choice (8-channel
  // blocks, with the reorders around the primitive) cost ~12% less CPU time over a ResNet-18 (28) inference pass on
  // an AVX2 EPYC (1229 vs 1401 ms at one thread, medians of 4 alternating rounds).
  if (blockable && block != 16) return ConvParams::ANY;
  return ConvParams::PLAIN;
}

const char* layoutName(ConvParams::Layout l) {
  return l == ConvParams::PLAIN ? "channels-last" : l == ConvParams::ANY ? "oneDNN-chosen" : "channel-blocked";
}

// The primitive descriptor `make(cp)` gives for cp.layout, or, when that is a reference implementation, for the
// first of channels-last and oneDNN's own choice that has a JIT one (cp.layout is left at the layout used). A
// layout for which the primitive cannot be created at all is skipped.
template <typename Make>
auto jitConvPd(ConvParams& cp, const char* kind, Make make) -> decltype(make(cp)) {
  const ConvParams::Layout first = cp.layout;
  auto pd = make(cp);
  const std::string firstImpl = pd.impl_info_str();
  if (!isRef(firstImpl)) {
    noteImpl(kind, firstImpl);
    return pd;
  }
  for (ConvParams::Layout alt : {ConvParams::PLAIN, ConvParams::ANY}) {
    if (alt == first) continue;
    cp.layout = alt;
    try {
      auto q = make(cp);
      const std::string impl = q.impl_info_str();
      if (isRef(impl)) continue;
      debugOnce(std::string(kind) + ": " + firstImpl + " for " + layoutName(first) + " activations; using " + impl +
                " on " + layoutName(alt) + " activations");
      noteImpl(kind, impl);
      return q;
    } catch (const dnnl::error&) {
      continue;
    }
  }
  cp.layout = first;
  noteImpl(kind, firstImpl);
  return pd;
}

// convForward(params, src, wei, bias|null, dst, alpha, weiVersion?)
Napi::Value ConvForward(const Napi::CallbackInfo& info) {
  GUARD_BEGIN
  auto p = ints(info[0]);
  float* bias = f32(info[3]);
  float alpha = info[5].As<Napi::Number>().FloatValue();
  p.push_back(bias ? 1 : 0);
  ThreadScope ts(convMacs(p), kMinParallelMacs);
  ConvFwd& c = cached<ConvFwd>(keyOf('c', p, alpha), [&] {
    ConvParams cp(p);
    cp.layout = activationLayout(cp, true);
    auto pd = jitConvPd(cp, "convolution forward", [&](const ConvParams& q) {
      return q.fwdPd(prop_kind::forward_inference, bias != nullptr, actAttr(q.act, alpha));
    });
    auto e = std::make_shared<ConvFwd>();
    e->prim = dnnl::convolution_forward(pd);
    e->src.init(cp.srcMd(), pd.src_desc(), true);
    e->wei.init(cp.weiUserMd(), pd.weights_desc(), true);
    e->dst.init(cp.dstMd(), pd.dst_desc(), false);
    e->hasBias = bias != nullptr;
    if (e->hasBias) e->bias = memory(cp.biasMd(), eng(), DNNL_MEMORY_NONE);
    e->impl = pd.impl_info_str();
    return e;
  });
  const double weiVersion = info.Length() > 6 ? info[6].As<Napi::Number>().DoubleValue() : 0;
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, c.src.in(f32(info[1]))},
                                       {DNNL_ARG_WEIGHTS, c.wei.inVersioned(f32(info[2]), weiVersion)},
                                       {DNNL_ARG_DST, c.dst.out(f32(info[4]))}};
  if (c.hasBias) {
    c.bias.set_data_handle(bias);
    args[DNNL_ARG_BIAS] = c.bias;
  }
  c.prim.execute(strm(), args);
  c.dst.flush();
  strm().wait();
  g_lastConvImpl = c.impl;
  GUARD_END
}

// convBackwardData(params, dy, wei, dx, weiVersion?)
Napi::Value ConvBackwardData(const Napi::CallbackInfo& info) {
  GUARD_BEGIN
  auto p = ints(info[0]);
  ThreadScope ts(convMacs(p), kMinParallelMacs);
  ConvBwdData& c = cached<ConvBwdData>(keyOf('d', p), [&] {
    ConvParams cp(p);
    cp.layout = activationLayout(cp, false);
    auto pd = jitConvPd(cp, "convolution backward data", [&](const ConvParams& q) {
      auto hint = q.fwdPd(prop_kind::forward_training, false, plainAttr());
      dnnl::convolution_backward_data::desc d(algorithm::convolution_direct, q.srcMdFor(), q.weiAnyMd(),
                                              q.dstMdFor(), q.stride, q.dil, q.padL, q.padR);
      return dnnl::convolution_backward_data::primitive_desc(d, plainAttr(), eng(), hint);
    });
    auto e = std::make_shared<ConvBwdData>();
    e->prim = dnnl::convolution_backward_data(pd);
    e->impl = pd.impl_info_str();
    e->diffDst.init(cp.dstMd(), pd.diff_dst_desc(), true);
    e->wei.init(cp.weiUserMd(), pd.weights_desc(), true);
    e->diffSrc.init(cp.srcMd(), pd.diff_src_desc(), false);
    return e;
  });
  const double weiVersion = info.Length() > 4 ? info[4].As<Napi::Number>().DoubleValue() : 0;
  c.prim.execute(strm(), {{DNNL_ARG_DIFF_DST, c.diffDst.in(f32(info[1]))},
                          {DNNL_ARG_WEIGHTS, c.wei.inVersioned(f32(info[2]), weiVersion)},
                          {DNNL_ARG_DIFF_SRC, c.diffSrc.out(f32(info[3]))}});
  c.diffSrc.flush();
  strm().wait();
  g_lastBwdDataImpl = c.impl;
  GUARD_END
}

// convBackwardWeights(params, x, dy, dw)
Napi::Value ConvBackwardWeights(const Napi::CallbackInfo& info) {
  GUARD_BEGIN
  auto p = ints(info[0]);
  ThreadScope ts(convMacs(p), kMinParallelMacs);
  ConvBwdWeights& c = cached<ConvBwdWeights>(keyOf('w', p), [&] {
    ConvParams cp(p);
    cp.layout = activationLayout(cp, false);
    auto pd = jitConvPd(cp, "convolution backward weights", [&](const ConvParams& q) {
      auto hint = q.fwdPd(prop_kind::forward_training, false, plainAttr());
      dnnl::convolution_backward_weights::desc d(algorithm::convolution_direct, q.srcMdFor(), q.weiAnyMd(),
                                                 q.dstMdFor(), q.stride, q.dil, q.padL, q.padR);
      return dnnl::convolution_backward_weights::primitive_desc(d, plainAttr(), eng(), hint);
    });
    auto e = std::make_shared<ConvBwdWeights>();
    e->prim = dnnl::convolution_backward_weights(pd);
    e->impl = pd.impl_info_str();
    e->src.init(cp.srcMd(), pd.src_desc(), true);
    e->diffDst.init(cp.dstMd(), pd.diff_dst_desc(), true);
    e->diffWei.init(cp.weiUserMd(), pd.diff_weights_desc(), false);
    return e;
  });
  c.prim.execute(strm(), {{DNNL_ARG_SRC, c.src.in(f32(info[1]))},
                          {DNNL_ARG_DIFF_DST, c.diffDst.in(f32(info[2]))},
                          {DNNL_ARG_DIFF_WEIGHTS, c.diffWei.out(f32(info[3]))}});
  c.diffWei.flush();
  strm().wait();
  g_lastBwdWeightsImpl = c.impl;
  GUARD_END
}

// ---------- 3D convolution filter gradient (stride 1, undilated; ADR 160) ----------
// oneDNN 2.6 has no JIT kernel for 3D backward weights below AVX-512: it runs an im2col GEMM, 10-25x slower than
// the forward pass on a 3D U-Net's 8-32-channel layers. This direct form accumulates, per kernel offset, the outer
// products x[q + offset] ⊗ dy[q] over the output voxels in a fixed order into a ci×co tile that stays in L1; offsets
// are independent, so threads split them and the sums do not depend on the thread count.
template <int Dummy>
__attribute__((always_inline)) static inline void filterGradRows(const int32_t* p, const float* x, const float* dy, float* dw, int off, float* acc) {
  const int N = p[0], D = p[1], H = p[2], W = p[3], CI = p[4], OD = p[5], OH = p[6], OW = p[7], CO = p[8];
  const int KH = p[10], KW = p[11], PF = p[12], PT = p[13], PL = p[14];
  const int a = off / (KH * KW), b = (off / KW) % KH, c = off % KW;
  std::fill(acc, acc + CI * CO, 0.0f);
  const int x0 = std::max(0, PL - c), x1 = std::min(OW, W + PL - c);
  for (int n = 0; n < N; ++n)
    for (int z = 0; z < OD; ++z) {
      const int iz = z + a - PF;
      if (iz < 0 || iz >= D) continue;
      for (int y = 0; y < OH; ++y) {
        const int iy = y + b - PT;
        if (iy < 0 || iy >= H) continue;
        const float* xr = x + ((static_cast<size_t>(n) * D + iz) * H + iy) * static_cast<size_t>(W) * CI;
        const float* gr = dy + ((static_cast<size_t>(n) * OD + z) * OH + y) * static_cast<size_t>(OW) * CO;
        for (int xo = x0; xo < x1; ++xo) {
          const float* xi = xr + static_cast<size_t>(xo + c - PL) * CI;
          const float* g = gr + static_cast<size_t>(xo) * CO;
          for (int i = 0; i < CI; ++i) {
            const float v = xi[i];
            float* row = acc + i * CO;
            for (int o = 0; o < CO; ++o) row[o] += v * g[o];
          }
        }
      }
    }
  std::copy(acc, acc + CI * CO, dw + static_cast<size_t>(off) * CI * CO);
}

// One register tile of the AVX2 form: RI input channels × RO·8 output channels held in ymm accumulators while a row
// of output voxels streams past (one dy load per 8 output channels, one broadcast per input channel). The generic
// loop above reloads and stores its accumulator row for every voxel and channel, which on 8-32-channel layers costs
// more than the multiply-adds. The sum over voxels runs in the same order, so the thread count still does not matter.
template <int RI, int RO>
__attribute__((target("avx2,fma"))) static inline void filterGradTile(const float* xi, int ci, const float* g,
                                                                      int co, int n, float* acc) {
  __m256 t[RI][RO];
  for (int r = 0; r < RI; ++r)
    for (int c = 0; c < RO; ++c) t[r][c] = _mm256_loadu_ps(acc + r * co + c * 8);
  for (int v = 0; v < n; ++v) {
    __m256 gv[RO];
    for (int c = 0; c < RO; ++c) gv[c] = _mm256_loadu_ps(g + static_cast<size_t>(v) * co + c * 8);
    for (int r = 0; r < RI; ++r) {
      const __m256 xb = _mm256_broadcast_ss(xi + static_cast<size_t>(v) * ci + r);
      for (int c = 0; c < RO; ++c) t[r][c] = _mm256_fmadd_ps(xb, gv[c], t[r][c]);
    }
  }
  for (int r = 0; r < RI; ++r)
    for (int c = 0; c < RO; ++c) _mm256_storeu_ps(acc + r * co + c * 8, t[r][c]);
}

// All tiles of one output row for one kernel offset: 4×16 tiles where the output channels allow (8 accumulators,
// 2 dy vectors, 1 broadcast of the 16 ymm registers), 8×8 otherwise, single input-channel tiles for the rest.
template <int RO>
__attribute__((target("avx2,fma"))) static inline void filterGradRowTiles(const float* xi, int CI, const float* g,
                                                                          int CO, int n, float* acc) {
  constexpr int RI = RO == 2 ? 4 : 8;
  for (int o = 0; o < CO; o += RO * 8) {
    int i = 0;
    for (; i + RI <= CI; i += RI) filterGradTile<RI, RO>(xi + i, CI, g + o, CO, n, acc + i * CO + o);
    for (; i < CI; ++i) filterGradTile<1, RO>(xi + i, CI, g + o, CO, n, acc + i * CO + o);
  }
}

// The generic loop compiled for AVX2 (output channel counts that are not a multiple of 8, such as a 1×1×1 head).
__attribute__((target("avx2,fma"))) static void filterGradRowsAvx2(const int32_t* p, const float* x,
                                                                    const float* dy, float* dw, int off,
                                                                    float* acc) {
  filterGradRows<1>(p, x, dy, dw, off, acc);
}

// The AVX2 form for output channels in multiples of 8, over a set of kernel offsets at once: output rows outermost,
// so each row of x and dy is read from memory once per call rather than once per offset (27 passes over the
// activations of a 3×3×3 layer would otherwise make it memory-bound), with every offset's accumulator (27·ci·co
// floats) kept in L1/L2. Each offset still sums its voxels in row order.
__attribute__((target("avx2,fma"))) static void filterGradOffsetsAvx2(const int32_t* p, const float* x,
                                                                       const float* dy, float* dw,
                                                                       const std::vector<int>& offs) {
  const int N = p[0], D = p[1], H = p[2], W = p[3], CI = p[4], OD = p[5], OH = p[6], OW = p[7], CO = p[8];
  const int KH = p[10], KW = p[11], PF = p[12], PT = p[13], PL = p[14];
  const size_t tile = static_cast<size_t>(CI) * CO;
  std::vector<float> acc(tile * offs.size(), 0.0f);
  for (int n = 0; n < N; ++n)
    for (int z = 0; z < OD; ++z)
      for (int y = 0; y < OH; ++y) {
        const float* gr = dy + ((static_cast<size_t>(n) * OD + z) * OH + y) * static_cast<size_t>(OW) * CO;
        for (size_t k = 0; k < offs.size(); ++k) {
          const int off = offs[k];
          const int a = off / (KH * KW), b = (off / KW) % KH, c = off % KW;
          const int iz = z + a - PF, iy = y + b - PT;
          if (iz < 0 || iz >= D || iy < 0 || iy >= H) continue;
          const int x0 = std::max(0, PL - c), x1 = std::min(OW, W + PL - c);
          if (x1 <= x0) continue;
          const float* xr = x + ((static_cast<size_t>(n) * D + iz) * H + iy) * static_cast<size_t>(W) * CI;
          const float* xi = xr + static_cast<size_t>(x0 + c - PL) * CI;
          const float* g = gr + static_cast<size_t>(x0) * CO;
          if (CO % 16 == 0)
            filterGradRowTiles<2>(xi, CI, g, CO, x1 - x0, acc.data() + k * tile);
          else
            filterGradRowTiles<1>(xi, CI, g, CO, x1 - x0, acc.data() + k * tile);
        }
      }
  for (size_t k = 0; k < offs.size(); ++k)
    std::copy(acc.begin() + k * tile, acc.begin() + (k + 1) * tile, dw + static_cast<size_t>(offs[k]) * tile);
}

// conv3dFilterGrad(params [N, D, H, W, CI, OD, OH, OW, CO, KD, KH, KW, padFront, padTop, padLeft], x, dy, dw)
Napi::Value Conv3dFilterGrad(const Napi::CallbackInfo& info) {
  GUARD_BEGIN
  auto p = ints(info[0]);
  if (p.size() != 15) throw std::runtime_error("conv3dFilterGrad: 15 parameters expected");
  const float* x = f32(info[1]);
  const float* dy = f32(info[2]);
  float* dw = f32(info[3]);
  const int CI = p[4], CO = p[8];
  const int K = p[9] * p[10] * p[11];
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2 && CO % 8 == 0) {
    // Offsets dealt round-robin to the threads; which thread sums an offset does not change its sum.
#pragma omp parallel num_threads(std::min(g_threads, K))
    {
      const int t = omp_get_thread_num(), T = omp_get_num_threads();
      std::vector<int> offs;
      for (int off = t; off < K; off += T) offs.push_back(off);
      filterGradOffsetsAvx2(p.data(), x, dy, dw, offs);
    }
    return info.Env().Undefined();
  }
#pragma omp parallel num_threads(g_threads)
  {
    std::vector<float> acc(static_cast<size_t>(CI) * CO);
#pragma omp for schedule(dynamic, 1)
    for (int off = 0; off < K; ++off) {
      if (avx2)
        filterGradRowsAvx2(p.data(), x, dy, dw, off, acc.data());
      else
        filterGradRows<0>(p.data(), x, dy, dw, off, acc.data());
    }
  }
  GUARD_END
}

// ---------- pooling ----------
// params: abi::pool (abi.json): nd, N, C, alg (PoolAlg), then per spatial dim: in, k, out, stride, padL, padR
struct PoolParams {
  int nd, N, C, alg;
  memory::dims in, k, out, stride, padL, padR;
  explicit PoolParams(const std::vector<int32_t>& p) {
    namespace L = abi::pool;
    nd = p[L::head::nd];
    N = p[L::head::N];
    C = p[L::head::C];
    alg = p[L::head::alg];
    for (int i = 0; i < nd; ++i) {
      in.push_back(p[L::at(i, L::dim::in)]);
      k.push_back(p[L::at(i, L::dim::k)]);
      out.push_back(p[L::at(i, L::dim::out)]);
      stride.push_back(p[L::at(i, L::dim::stride)]);
      padL.push_back(p[L::at(i, L::dim::padL)]);
      padR.push_back(p[L::at(i, L::dim::padR)]);
    }
  }
  memory::desc srcMd() const {
    memory::dims d{N, C};
    d.insert(d.end(), in.begin(), in.end());
    return channelsLast(d);
  }
  memory::desc dstMd() const {
    memory::dims d{N, C};
    d.insert(d.end(), out.begin(), out.end());
    return channelsLast(d);
  }
  algorithm a() const { return alg == POOL_MAX ? algorithm::pooling_max : algorithm::pooling_avg_exclude_padding; }
  dnnl::pooling_forward::primitive_desc fwdPd(prop_kind pk) const {
    dnnl::pooling_forward::desc d(pk, a(), srcMd(), dstMd(), stride, k, padL, padR);
    return dnnl::pooling_forward::primitive_desc(d, plainAttr(), eng());
  }
};

struct PoolFwd {
  dnnl::pooling_forward prim;
  memory src, dst;
};
struct PoolBwd {
  dnnl::pooling_forward fwd;  // training forward that records the max positions (max only)
  dnnl::pooling_backward prim;
  memory src, tmpDst, ws, diffDst, diffSrc;
  bool max;
};

// poolForward(params, x, y)
Napi::Value PoolForward(const Napi::CallbackInfo& info) {
  GUARD_BEGIN
  auto p = ints(info[0]);
  ThreadScope ts(poolWork(p), kMinParallelElems);
  PoolFwd& c = cached<PoolFwd>(keyOf('p', p), [&] {
    PoolParams pp(p);
    auto pd = pp.fwdPd(prop_kind::forward_inference);
    auto e = std::make_shared<PoolFwd>();
    e->prim = dnnl::pooling_forward(pd);
    noteImpl("pooling forward", pd.impl_info_str());
    e->src = memory(pd.src_desc(), eng(), DNNL_MEMORY_NONE);
    e->dst = memory(pd.dst_desc(), eng(), DNNL_MEMORY_NONE);
    return e;
  });
  c.src.set_data_handle(f32(info[1]));
  c.dst.set_data_handle(f32(info[2]));
  c.prim.execute(strm(), {{DNNL_ARG_SRC, c.src}, {DNNL_ARG_DST, c.dst}});
  strm().wait();
  GUARD_END
}

// poolBackward(params, dy, x, dx): max pooling re-runs the forward to get its workspace (the argmax map).
Napi::Value PoolBackward(const Napi::CallbackInfo& info) {
  GUARD_BEGIN
  auto p = ints(info[0]);
  ThreadScope ts(poolWork(p), kMinParallelElems);
  PoolBwd& c = cached<PoolBwd>(keyOf('q', p), [&] {
    PoolParams pp(p);
    auto hint = pp.fwdPd(prop_kind::forward_training);
    dnnl::pooling_backward::desc d(pp.a(), pp.srcMd(), pp.dstMd(), pp.stride, pp.k, pp.padL, pp.padR);
    dnnl::pooling_backward::primitive_desc pd(d, plainAttr(), eng(), hint);
    auto e = std::make_shared<PoolBwd>();
    e->max = pp.alg == POOL_MAX;
    e->prim = dnnl::pooling_backward(pd);
    noteImpl("pooling backward", pd.impl_info_str());
    e->diffDst = memory(pd.diff_dst_desc(), eng(), DNNL_MEMORY_NONE);
    e->diffSrc = memory(pd.diff_src_desc(), eng(), DNNL_MEMORY_NONE);
    if (e->max) {
      e->fwd = dnnl::pooling_forward(hint);
      noteImpl("pooling forward", hint.impl_info_str());
      e->src = memory(hint.src_desc(), eng(), DNNL_MEMORY_NONE);
      e->tmpDst = memory(hint.dst_desc(), eng());
      e->ws = memory(hint.workspace_desc(), eng());
    }
    return e;
  });
  c.diffDst.set_data_handle(f32(info[1]));
  c.diffSrc.set_data_handle(f32(info[3]));
  if (c.max) {
    c.src.set_data_handle(f32(info[2]));
    c.fwd.execute(strm(), {{DNNL_ARG_SRC, c.src}, {DNNL_ARG_DST, c.tmpDst}, {DNNL_ARG_WORKSPACE, c.ws}});
    c.prim.execute(strm(), {{DNNL_ARG_DIFF_DST, c.diffDst}, {DNNL_ARG_WORKSPACE, c.ws}, {DNNL_ARG_DIFF_SRC, c.diffSrc}});
  } else {
    c.prim.execute(strm(), {{DNNL_ARG_DIFF_DST, c.diffDst}, {DNNL_ARG_DIFF_SRC, c.diffSrc}});
  }
  strm().wait();
  GUARD_END
}

// ---------- matmul ----------
// params: B (output batch), M, K, N, batchA, batchB, transA, transB, hasBias, act
struct MatMul {
  dnnl::matmul prim;
  memory a, b, c, bias;
  bool hasBias;
};

memory::desc mmOperand(memory::dim batch, memory::dim rows, memory::dim cols, bool trans) {
  // Logical [batch, rows, cols]; stored as [batch, cols, rows] when transposed.
  memory::dims d{batch, rows, cols};
  memory::dims s = trans ? memory::dims{rows * cols, 1, rows} : memory::dims{rows * cols, cols, 1};
  return memory::desc(d, dt::f32, s);
}

// matMul(params, a, b, bias|null, out, alpha)
Napi::Value MatMulFn(const Napi::CallbackInfo& info) {
  GUARD_BEGIN
  namespace L = abi::matmul;
  auto p = ints(info[0]);
  if (p.size() != L::size(0)) throw std::invalid_argument("matmul parameters do not match abi.json");
  float alpha = info[5].As<Napi::Number>().FloatValue();
  ThreadScope ts(static_cast<double>(p[L::head::B]) * p[L::head::M] * p[L::head::K] * p[L::head::N],
                 kMinParallelMacs);
  MatMul& c = cached<MatMul>(keyOf('m', p, alpha), [&] {
    memory::dim B = p[L::head::B], M = p[L::head::M], K = p[L::head::K], N = p[L::head::N];
    auto aMd = mmOperand(p[L::head::batchA], M, K, p[L::head::transA] != 0);
    auto bMd = mmOperand(p[L::head::batchB], K, N, p[L::head::transB] != 0);
    auto cMd = memory::desc({B, M, N}, dt::f32, memory::dims{M * N, N, 1});
    auto e = std::make_shared<MatMul>();
    e->hasBias = p[L::head::hasBias] != 0;
    auto attr = actAttr(p[L::head::act], alpha);
    if (e->hasBias) {
      auto biasMd = memory::desc({1, 1, N}, dt::f32, memory::dims{N, N, 1});
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(aMd, bMd, biasMd, cMd), attr, eng());
      e->prim = dnnl::matmul(pd);
      noteImpl("matmul", pd.impl_info_str());
      e->bias = memory(biasMd, eng(), DNNL_MEMORY_NONE);
    } else {
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(aMd, bMd, cMd), attr, eng());
      e->prim = dnnl::matmul(pd);
      noteImpl("matmul", pd.impl_info_str());
    }
    e->a = memory(aMd, eng(), DNNL_MEMORY_NONE);
    e->b = memory(bMd, eng(), DNNL_MEMORY_NONE);
    e->c = memory(cMd, eng(), DNNL_MEMORY_NONE);
    return e;
  });
  c.a.set_data_handle(f32(info[1]));
  c.b.set_data_handle(f32(info[2]));
  c.c.set_data_handle(f32(info[4]));
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, c.a}, {DNNL_ARG_WEIGHTS, c.b}, {DNNL_ARG_DST, c.c}};
  if (c.hasBias) {
    c.bias.set_data_handle(f32(info[3]));
    args[DNNL_ARG_BIAS] = c.bias;
  }
  c.prim.execute(strm(), args);
  strm().wait();
  GUARD_END
}

// ---------- eltwise ----------
struct Elt {
  dnnl::eltwise_forward fwd;
  dnnl::eltwise_backward bwd;
  memory a, b, c;
};

algorithm eltAlg(int act, bool useDst) {
  switch (act) {
    case ACT_RELU:
    case ACT_LEAKY: return useDst ? algorithm::eltwise_relu_use_dst_for_bwd : algorithm::eltwise_relu;
    case ACT_RELU6: return useDst ? algorithm::eltwise_clip_v2_use_dst_for_bwd : algorithm::eltwise_clip_v2;
    case ACT_ELU: return useDst ? algorithm::eltwise_elu_use_dst_for_bwd : algorithm::eltwise_elu;
    case ACT_SIGMOID: return useDst ? algorithm::eltwise_logistic_use_dst_for_bwd : algorithm::eltwise_logistic;
    default: throw std::runtime_error("unknown activation");
  }
}
float eltAlpha(int act, float alpha) { return act == ACT_ELU ? 1.f : act == ACT_LEAKY ? alpha : 0.f; }
float eltBeta(int act) { return act == ACT_RELU6 ? 6.f : 0.f; }

// eltwise(act, x, y, alpha)
Napi::Value EltwiseForward(const Napi::CallbackInfo& info) {
  GUARD_BEGIN
  int act = info[0].As<Napi::Number>().Int32Value();
  memory::dim n = static_cast<memory::dim>(f32len(info[1]));
  float alpha = info[3].As<Napi::Number>().FloatValue();
  std::vector<int32_t> p{act, static_cast<int32_t>(n)};
  ThreadScope ts(static_cast<double>(n), kMinParallelElems);
  Elt& c = cached<Elt>(keyOf('e', p, alpha), [&] {
    memory::desc md({n}, dt::f32, tag::x);
    dnnl::eltwise_forward::desc d(prop_kind::forward_inference, eltAlg(act, false), md, eltAlpha(act, alpha),
                                  eltBeta(act));
    auto e = std::make_shared<Elt>();
    dnnl::eltwise_forward::primitive_desc pd(d, plainAttr(), eng());
    e->fwd = dnnl::eltwise_forward(pd);
    noteImpl("eltwise forward", pd.impl_info_str());
    e->a = memory(md, eng(), DNNL_MEMORY_NONE);
    e->b = memory(md, eng(), DNNL_MEMORY_NONE);
    return e;
  });
  c.a.set_data_handle(f32(info[1]));
  c.b.set_data_handle(f32(info[2]));
  c.fwd.execute(strm(), {{DNNL_ARG_SRC, c.a}, {DNNL_ARG_DST, c.b}});
  strm().wait();
  GUARD_END
}

// eltwiseBackward(act, dy, y, dx, alpha): gradient from the forward's output y.
Napi::Value EltwiseBackward(const Napi::CallbackInfo& info) {
  GUARD_BEGIN
  int act = info[0].As<Napi::Number>().Int32Value();
  memory::dim n = static_cast<memory::dim>(f32len(info[1]));
  float alpha = info[4].As<Napi::Number>().FloatValue();
  std::vector<int32_t> p{act, static_cast<int32_t>(n)};
  ThreadScope ts(static_cast<double>(n), kMinParallelElems);
  Elt& c = cached<Elt>(keyOf('f', p, alpha), [&] {
    memory::desc md({n}, dt::f32, tag::x);
    dnnl::eltwise_forward::desc fd(prop_kind::forward_training, eltAlg(act, true), md, eltAlpha(act, alpha),
                                   eltBeta(act));
    dnnl::eltwise_forward::primitive_desc hint(fd, plainAttr(), eng());
    dnnl::eltwise_backward::desc d(eltAlg(act, true), md, md, eltAlpha(act, alpha), eltBeta(act));
    auto e = std::make_shared<Elt>();
    dnnl::eltwise_backward::primitive_desc pd(d, plainAttr(), eng(), hint);
    e->bwd = dnnl::eltwise_backward(pd);
    noteImpl("eltwise backward", pd.impl_info_str());
    e->a = memory(md, eng(), DNNL_MEMORY_NONE);
    e->b = memory(md, eng(), DNNL_MEMORY_NONE);
    e->c = memory(md, eng(), DNNL_MEMORY_NONE);
    return e;
  });
  c.a.set_data_handle(f32(info[1]));
  c.b.set_data_handle(f32(info[2]));
  c.c.set_data_handle(f32(info[3]));
  c.bwd.execute(strm(), {{DNNL_ARG_DIFF_DST, c.a}, {DNNL_ARG_DST, c.b}, {DNNL_ARG_DIFF_SRC, c.c}});
  strm().wait();
  GUARD_END
}

// ---------- softmax over the last axis ----------
struct Softmax {
  dnnl::softmax_forward prim;
  memory x, y;
};
// softmax(rows, cols, x, y)
Napi::Value SoftmaxFn(const Napi::CallbackInfo& info) {
  GUARD_BEGIN
  std::vector<int32_t> p{info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value()};
  ThreadScope ts(static_cast<double>(p[0]) * p[1], kMinParallelElems);
  Softmax& c = cached<Softmax>(keyOf('s', p), [&] {
    memory::desc md({p[0], p[1]}, dt::f32, tag::ab);
    dnnl::softmax_forward::desc d(prop_kind::forward_inference, md, 1);
    auto e = std::make_shared<Softmax>();
    dnnl::softmax_forward::primitive_desc pd(d, plainAttr(), eng());
    e->prim = dnnl::softmax_forward(pd);
    noteImpl("softmax", pd.impl_info_str());
    e->x = memory(md, eng(), DNNL_MEMORY_NONE);
    e->y = memory(md, eng(), DNNL_MEMORY_NONE);
    return e;
  });
  c.x.set_data_handle(f32(info[2]));
  c.y.set_data_handle(f32(info[3]));
  c.prim.execute(strm(), {{DNNL_ARG_SRC, c.x}, {DNNL_ARG_DST, c.y}});
  strm().wait();
  GUARD_END
}

// ---------- batch normalization with given statistics ----------
struct BatchNorm {
  dnnl::batch_normalization_forward prim;
  memory x, y, mean, var, scale, shift;
  bool hasScale, hasShift;
};
// batchNorm(rows, C, x, mean, var, scale|null, offset|null, y, eps)
Napi::Value BatchNormFn(const Napi::CallbackInfo& info) {
  GUARD_BEGIN
  float* scale = f32(info[5]);
  float* shift = f32(info[6]);
  float eps = info[8].As<Napi::Number>().FloatValue();
  std::vector<int32_t> p{info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value(),
                         scale ? 1 : 0, shift ? 1 : 0};
  ThreadScope ts(static_cast<double>(p[0]) * p[1], kMinParallelElems);
  BatchNorm& c = cached<BatchNorm>(keyOf('b', p, eps), [&] {
    // As N×C×1×1 channels-last: oneDNN's JIT batch norm handles nhwc, its 2D "nc" path is the reference one.
    memory::desc md = channelsLast({p[0], p[1], 1, 1});
    memory::desc cMd({p[1]}, dt::f32, tag::x);
    auto flags = dnnl::normalization_flags::use_global_stats;
    if (scale) flags |= dnnl::normalization_flags::use_scale;
    if (shift) flags |= dnnl::normalization_flags::use_shift;
    dnnl::batch_normalization_forward::desc d(prop_kind::forward_inference, md, eps, flags);
    auto e = std::make_shared<BatchNorm>();
    dnnl::batch_normalization_forward::primitive_desc pd(d, plainAttr(), eng());
    e->prim = dnnl::batch_normalization_forward(pd);
    g_lastBnImpl = pd.impl_info_str();
    noteImpl("batch normalization", g_lastBnImpl);
    e->x = memory(md, eng(), DNNL_MEMORY_NONE);
    e->y = memory(md, eng(), DNNL_MEMORY_NONE);
    e->mean = memory(cMd, eng(), DNNL_MEMORY_NONE);
    e->var = memory(cMd, eng(), DNNL_MEMORY_NONE);
    e->scale = memory(cMd, eng(), DNNL_MEMORY_NONE);
    e->shift = memory(cMd, eng(), DNNL_MEMORY_NONE);
    e->hasScale = scale != nullptr;
    e->hasShift = shift != nullptr;
    return e;
  });
  c.x.set_data_handle(f32(info[2]));
  c.mean.set_data_handle(f32(info[3]));
  c.var.set_data_handle(f32(info[4]));
  c.y.set_data_handle(f32(info[7]));
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, c.x}, {DNNL_ARG_MEAN, c.mean}, {DNNL_ARG_VARIANCE, c.var}, {DNNL_ARG_DST, c.y}};
  if (c.hasScale) {
    c.scale.set_data_handle(scale);
    args[DNNL_ARG_SCALE] = c.scale;
  }
  if (c.hasShift) {
    c.shift.set_data_handle(shift);
    args[DNNL_ARG_SHIFT] = c.shift;
  }
  c.prim.execute(strm(), args);
  strm().wait();
  GUARD_END
}

// ---------- plain loops: reductions over leading axes, Adam ----------

// reduce(x, outer, R, inner, out, divisor): out[o, i] = sum_r float32(x[o, r, i] / divisor), accumulated in double
// in r order, as the tfjs CPU Sum (divisor 1) and Mean (sum of x / n) kernels do, so the results match them bit for
// bit. Each output element is owned by one thread, so the result does not depend on the thread count.
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const int64_t outer = info[1].As<Napi::Number>().Int64Value();
  const int64_t R = info[2].As<Napi::Number>().Int64Value();
  const int64_t inner = info[3].As<Napi::Number>().Int64Value();
  float* out = f32(info[4]);
  const float divisor = info[5].As<Napi::Number>().FloatValue();
  constexpr int64_t kBlock = kChannelBlock;
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
  const bool div = divisor != 1.f;
#pragma omp parallel for schedule(static) if (outer * R * inner > 250000 && outer * blocks > 1)
  for (int64_t t = 0; t < outer * blocks; ++t) {
    const int64_t o = t / blocks, c0 = (t % blocks) * kBlock, c1 = std::min(inner, c0 + kBlock);
    double acc[kBlock] = {0};
    const float* base = x + o * R * inner;
    for (int64_t r = 0; r < R; ++r) {
      const float* row = base + r * inner;
      if (div) {
        for (int64_t c = c0; c < c1; ++c) acc[c - c0] += static_cast<double>(row[c] / divisor);
      } else {
        for (int64_t c = c0; c < c1; ++c) acc[c - c0] += static_cast<double>(row[c]);
      }
    }
    for (int64_t c = c0; c < c1; ++c) out[o * inner + c] = static_cast<float>(acc[c - c0]);
  }
  return info.Env().Undefined();
}

// batchNormGrad(x, dy, mean, variance, scale|null, rows, C, eps, dx, dMean, dVariance, dScale, dOffset): the five
// gradients of y = (x - mean) * rsqrt(variance + eps) * scale + offset with per-channel statistics (tfjs's
// FusedBatchNorm gradient, Ioffe & Szegedy 2015 §3), in one pass for the per-channel sums and one for dx, instead
// of tfjs's ~10 full-size ops. dx keeps tfjs's rounding (dy * r, then * scale); channel sums run in double, each
// channel in row order on one thread.
Napi::Value BatchNormGrad(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const float* dy = f32(info[1]);
  const float* mean = f32(info[2]);
  const float* var = f32(info[3]);
  const float* scale = f32(info[4]);
  const int64_t rows = info[5].As<Napi::Number>().Int64Value();
  const int64_t C = info[6].As<Napi::Number>().Int64Value();
  const float eps = info[7].As<Napi::Number>().FloatValue();
  float* dx = f32(info[8]);
  float* dMean = f32(info[9]);
  float* dVar = f32(info[10]);
  float* dScale = f32(info[11]);
  float* dOffset = f32(info[12]);
  std::vector<float> r(C), sc(C);
  for (int64_t c = 0; c < C; ++c) {
    r[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var[c] + eps)));
    sc[c] = scale ? scale[c] : 1.f;
  }
  constexpr int64_t kBlock = kChannelBlock;
  const int64_t blocks = (C + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (rows * C > 250000 && blocks > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t c0 = b * kBlock, c1 = std::min(C, c0 + kBlock);
    double sDy[kBlock] = {0}, sDyXm[kBlock] = {0};
    for (int64_t i = 0; i < rows; ++i) {
      const float* xr = x + i * C;
      const float* dr = dy + i * C;
      for (int64_t c = c0; c < c1; ++c) {
        sDy[c - c0] += dr[c];
        sDyXm[c - c0] += static_cast<double>(dr[c]) * (static_cast<double>(xr[c]) - mean[c]);
      }
    }
    for (int64_t c = c0; c < c1; ++c) {
      const double rc = r[c], s = sc[c];
      dOffset[c] = static_cast<float>(sDy[c - c0]);
      dMean[c] = static_cast<float>(-rc * s * sDy[c - c0]);
      dVar[c] = static_cast<float>(-0.5 * rc * rc * rc * s * sDyXm[c - c0]);
      dScale[c] = static_cast<float>(rc * sDyXm[c - c0]);
    }
  }
  const bool parallelRows = rows * C > 250000;
#pragma omp parallel for schedule(static) if (parallelRows)
  for (int64_t i = 0; i < rows; ++i) {
    const float* dr = dy + i * C;
    float* o = dx + i * C;
    for (int64_t c = 0; c < C; ++c) o[c] = (dr[c] * r[c]) * sc[c];
  }
  return info.Env().Undefined();
}

// moments(x, rows, C, stats): tf.moments(x, all axes but the last) as stats = [mean (C), variance (C)], with the
// rounding of tfjs's op chain on this backend — mean = Σ_r f32(x / n), variance = Σ_r f32(f32(f32(x - mean)²) / n),
// sums in double in row order (the Mean kernel above) — but without materializing x - mean and its square: two
// reads of x instead of four full-size passes and two full-size writes. Each channel is summed on one thread.
Napi::Value Moments(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const int64_t rows = info[1].As<Napi::Number>().Int64Value();
  const int64_t C = info[2].As<Napi::Number>().Int64Value();
  float* mean = f32(info[3]);
  float* var = mean + C;
  const float n = static_cast<float>(rows);
  constexpr int64_t kBlock = kChannelBlock;
  const int64_t blocks = (C + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (rows * C > 250000 && blocks > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t c0 = b * kBlock, c1 = std::min(C, c0 + kBlock), w = c1 - c0;
    double acc[kBlock] = {0};
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = x + r * C + c0;
      for (int64_t c = 0; c < w; ++c) acc[c] += static_cast<double>(row[c] / n);
    }
    float m[kBlock];
    for (int64_t c = 0; c < w; ++c) {
      m[c] = static_cast<float>(acc[c]);
      acc[c] = 0;
    }
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = x + r * C + c0;
      for (int64_t c = 0; c < w; ++c) {
        const float d = row[c] - m[c];
        acc[c] += static_cast<double>((d * d) / n);
      }
    }
    for (int64_t c = 0; c < w; ++c) {
      mean[c0 + c] = m[c];
      var[c0 + c] = static_cast<float>(acc[c]);
    }
  }
  return info.Env().Undefined();
}

// momentsGrad(x, stats, dStats, rows, C, dx): the gradient of Moments for upstream gradients dStats = [dMean, dVar]
// along tfjs's chain (Mean, Sub, Square, Mean gradients): dd = f32(dVar / n) · 2(x - mean), dMean' = dMean - Σ_r dd,
// dx = dd + dMean' / n. One read of x for Σ dd (in double, row order) and one read plus one write for dx.
Napi::Value MomentsGrad(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const float* mean = f32(info[1]);
  const float* dStats = f32(info[2]);
  const int64_t rows = info[3].As<Napi::Number>().Int64Value();
  const int64_t C = info[4].As<Napi::Number>().Int64Value();
  float* dx = f32(info[5]);
  const float n = static_cast<float>(rows);
  std::vector<float> dsq(C), dm(C);
  for (int64_t c = 0; c < C; ++c) dsq[c] = dStats[C + c] / n;
  constexpr int64_t kBlock = kChannelBlock;
  const int64_t blocks = (C + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (rows * C > 250000 && blocks > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t c0 = b * kBlock, c1 = std::min(C, c0 + kBlock);
    double acc[kBlock] = {0};
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = x + r * C;
      for (int64_t c = c0; c < c1; ++c) acc[c - c0] += static_cast<double>(dsq[c] * ((row[c] - mean[c]) * 2.f));
    }
    for (int64_t c = c0; c < c1; ++c) dm[c] = (dStats[c] - static_cast<float>(acc[c - c0])) / n;
  }
#pragma omp parallel for schedule(static) if (rows * C > 250000)
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * C;
    float* o = dx + r * C;
    for (int64_t c = 0; c < C; ++c) o[c] = dsq[c] * ((row[c] - mean[c]) * 2.f) + dm[c];
  }
  return info.Env().Undefined();
}

// adam(w, m, v, g, c, outW, outM, outV) with c = [beta1, 1-beta1, beta2, 1-beta2, 1-beta1^t, 1-beta2^t, eps, -lr]
// (each rounded to float32 by the caller): one Adam step (Kingma & Ba 2015, Algorithm 1) in exactly the operation
// order and float32 rounding of tfjs's AdamOptimizer.applyGradients, so both paths give identical bits. Outputs may
// alias inputs.
Napi::Value Adam(const Napi::CallbackInfo& info) {
  const float* w = f32(info[0]);
  const float* m = f32(info[1]);
  const float* v = f32(info[2]);
  const float* g = f32(info[3]);
  const float* c = f32(info[4]);
  float* ow = f32(info[5]);
  float* om = f32(info[6]);
  float* ov = f32(info[7]);
  const int64_t n = static_cast<int64_t>(f32len(info[0]));
  // float32 + - * / and sqrt of float32 operands are correctly rounded, which is exactly what tfjs gets by computing
  // in double and rounding to float32 after each op (double has more than 2p+2 bits), so plain float arithmetic
  // reproduces it bit for bit as long as nothing is contracted into an FMA (built with -ffp-contract=off).
  const float b1 = c[0], ob1 = c[1], b2 = c[2], ob2 = c[3], c1 = c[4], c2 = c[5], eps = c[6], nlr = c[7];
  // `simd`: GCC does not vectorize this loop by itself (it cannot prove the seven streams independent); lanes only
  // reorder independent elements, never the operations within one, so the bits are unchanged.
#pragma omp parallel for simd schedule(static) if (n > 250000)
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = m[i] * b1 + gi * ob1;
    const float vi = v[i] * b2 + (gi * gi) * ob2;
    const float mh = mi / c1;
    const float vh = vi / c2;
    const float upd = (mh / (std::sqrt(vh) + eps)) * nlr;
    ow[i] = upd + w[i];
    om[i] = mi;
    ov[i] = vi;
  }
  return info.Env().Undefined();
}

// adamStep(w, m, v, g, c, outW, outM, outV) with c = [beta1, 1-beta1, beta2, 1-beta2, lrT, eps, lr·wd, decay?] (each
// rounded to float32 by the caller): one step of RadioLens's Adam/AdamW (src/train/optim.ts; Kingma & Ba 2015 with
// the bias correction folded into lrT, Loshchilov & Hutter 2019 for the decoupled decay) in exactly the order and
// float32 rounding of its tfjs ops, so both paths give identical bits. Outputs may alias inputs.
Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  const float* w = f32(info[0]);
  const float* m = f32(info[1]);
  const float* v = f32(info[2]);
  const float* g = f32(info[3]);
  const float* c = f32(info[4]);
  float* ow = f32(info[5]);
  float* om = f32(info[6]);
  float* ov = f32(info[7]);
  const int64_t n = static_cast<int64_t>(f32len(info[0]));
  const float b1 = c[0], ob1 = c[1], b2 = c[2], ob2 = c[3], lrT = c[4], eps = c[5], lrWd = c[6];
  const bool decay = c[7] != 0.f;
#pragma omp parallel for simd schedule(static) if (n > 250000)
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i], wi = w[i];
    const float mi = m[i] * b1 + gi * ob1;
    const float vi = v[i] * b2 + (gi * gi) * ob2;
    float upd = (mi * lrT) / (std::sqrt(vi) + eps);
    if (decay) upd = upd + wi * lrWd;
    ow[i] = wi - upd;
    om[i] = mi;
    ov[i] = vi;
  }
  return info.Env().Undefined();
}

// ---------- elementwise arithmetic with broadcasting ----------
// The tfjs CPU kernels compute in double and round to float32; for + - * / and sqrt of float32 operands that equals
// the correctly rounded float32 operation, so float arithmetic (no FMA contraction) is bit-identical to them.
// Compound operations (squared difference, exp, log) are computed in double as JS does.

// B_SQUARE_GRAD and B_RELU_GRAD are the one-pass forms of tfjs's Square and Relu gradients (a = dy, b = x):
// mul(dy, mul(x, 2)) and mul(dy, step(x)); x * 2 and the 0/1/NaN step are exact, so one rounding of the product
// gives tfjs's bits (BinOp B_SQUARE_GRAD, B_RELU_GRAD).

template <int OP>
inline float binop(float x, float y) {
  const double a = x, b = y;
  if constexpr (OP == B_ADD) return x + y;
  if constexpr (OP == B_SUB) return x - y;
  if constexpr (OP == B_MUL) return x * y;
  if constexpr (OP == B_DIV) return x / y;
  if constexpr (OP == B_MAX) return std::isnan(x) || std::isnan(y) ? NAN : (x > y ? x : y);
  if constexpr (OP == B_MIN) return std::isnan(x) || std::isnan(y) ? NAN : (x < y ? x : y);
  if constexpr (OP == B_SQDIFF) return static_cast<float>((a - b) * (a - b));
  if constexpr (OP == B_SQUARE_GRAD) return x * (y * 2.f);
  // Selects, not branches: the sign of x is random in a gradient, so a branch mispredicts half the time (and blocks
  // vectorization); NaN > 0 is false, so the NaN case is picked out separately.
  if constexpr (OP == B_RELU_GRAD) {
    const float s = y > 0.f ? 1.f : 0.f;
    return x * (y != y ? y : s);
  }
  return 0.f;
}

// out[shape] = a op b, with per-dimension element strides (0 = broadcast) for a and b; the last dimension's
// strides are 0 or 1.
template <int OP>
void binaryLoop(const float* a, const float* b, float* out, const std::vector<int64_t>& shape,
                const std::vector<int64_t>& sa, const std::vector<int64_t>& sb) {
  const int rank = static_cast<int>(shape.size());
  const int64_t inner = shape[rank - 1];
  const int64_t ia = sa[rank - 1], ib = sb[rank - 1];
  int64_t outer = 1;
  for (int d = 0; d < rank - 1; ++d) outer *= shape[d];
  if (outer == 1) {
    // Same-shape operands collapse to one row: split the row itself between threads.
    constexpr int64_t kChunk = 16384;
    const int64_t chunks = (inner + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (inner > 250000)
    for (int64_t k = 0; k < chunks; ++k) {
      const int64_t j0 = k * kChunk, j1 = std::min(inner, j0 + kChunk);
      if (ia == 1 && ib == 1) {
        for (int64_t j = j0; j < j1; ++j) out[j] = binop<OP>(a[j], b[j]);
      } else if (ia == 1) {
        const float y = b[0];
        for (int64_t j = j0; j < j1; ++j) out[j] = binop<OP>(a[j], y);
      } else if (ib == 1) {
        const float x = a[0];
        for (int64_t j = j0; j < j1; ++j) out[j] = binop<OP>(x, b[j]);
      } else {
        const float v = binop<OP>(a[0], b[0]);
        for (int64_t j = j0; j < j1; ++j) out[j] = v;
      }
    }
    return;
  }
#pragma omp parallel for schedule(static) if (outer * inner > 250000)
  for (int64_t r = 0; r < outer; ++r) {
    int64_t offA = 0, offB = 0, rem = r;
    for (int d = rank - 2; d >= 0; --d) {
      const int64_t i = rem % shape[d];
      rem /= shape[d];
      offA += i * sa[d];
      offB += i * sb[d];
    }
    const float* pa = a + offA;
    const float* pb = b + offB;
    float* po = out + r * inner;
    if (ia == 1 && ib == 1) {
      for (int64_t j = 0; j < inner; ++j) po[j] = binop<OP>(pa[j], pb[j]);
    } else if (ia == 1) {
      const float y = pb[0];
      for (int64_t j = 0; j < inner; ++j) po[j] = binop<OP>(pa[j], y);
    } else if (ib == 1) {
      const float x = pa[0];
      for (int64_t j = 0; j < inner; ++j) po[j] = binop<OP>(x, pb[j]);
    } else {
      const float v = binop<OP>(pa[0], pb[0]);
      for (int64_t j = 0; j < inner; ++j) po[j] = v;
    }
  }
}

std::vector<int64_t> i64s(const Napi::Value& v) {
  auto a = v.As<Napi::Int32Array>();
  return std::vector<int64_t>(a.Data(), a.Data() + a.ElementLength());
}

// binary(op, a, b, out, shape, stridesA, stridesB)
Napi::Value Binary(const Napi::CallbackInfo& info) {
  const int op = info[0].As<Napi::Number>().Int32Value();
  const float* a = f32(info[1]);
  const float* b = f32(info[2]);
  float* out = f32(info[3]);
  auto shape = i64s(info[4]);
  auto sa = i64s(info[5]);
  auto sb = i64s(info[6]);
  switch (op) {
    case B_ADD: binaryLoop<B_ADD>(a, b, out, shape, sa, sb); break;
    case B_SUB: binaryLoop<B_SUB>(a, b, out, shape, sa, sb); break;
    case B_MUL: binaryLoop<B_MUL>(a, b, out, shape, sa, sb); break;
    case B_DIV: binaryLoop<B_DIV>(a, b, out, shape, sa, sb); break;
    case B_MAX: binaryLoop<B_MAX>(a, b, out, shape, sa, sb); break;
    case B_MIN: binaryLoop<B_MIN>(a, b, out, shape, sa, sb); break;
    case B_SQDIFF: binaryLoop<B_SQDIFF>(a, b, out, shape, sa, sb); break;
    case B_SQUARE_GRAD: binaryLoop<B_SQUARE_GRAD>(a, b, out, shape, sa, sb); break;
    case B_RELU_GRAD: binaryLoop<B_RELU_GRAD>(a, b, out, shape, sa, sb); break;
    default: break;
  }
  return info.Env().Undefined();
}

// tile(x, inShape, out, outShape): out[i...] = x[i % inShape...] (tfjs Tile).
Napi::Value Tile(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  auto in = i64s(info[1]);
  float* out = f32(info[2]);
  auto shape = i64s(info[3]);
  const int rank = static_cast<int>(shape.size());
  std::vector<int64_t> inStride(rank, 1);
  for (int d = rank - 2; d >= 0; --d) inStride[d] = inStride[d + 1] * in[d + 1];
  const int64_t inner = shape[rank - 1], inInner = in[rank - 1];
  int64_t outer = 1;
  for (int d = 0; d < rank - 1; ++d) outer *= shape[d];
#pragma omp parallel for schedule(static) if (outer * inner > 250000 && outer > 1)
  for (int64_t r = 0; r < outer; ++r) {
    int64_t off = 0, rem = r;
    for (int d = rank - 2; d >= 0; --d) {
      off += ((rem % shape[d]) % in[d]) * inStride[d];
      rem /= shape[d];
    }
    const float* src = x + off;
    float* dst = out + r * inner;
    if (inInner == inner) {
      std::memcpy(dst, src, sizeof(float) * inner);
    } else {
      for (int64_t j = 0; j < inner; ++j) dst[j] = src[j % inInner];
    }
  }
  return info.Env().Undefined();
}

// clip(x, y, lo, hi): tfjs ClipByValue (comparisons in double, NaN passes through).
Napi::Value Clip(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  float* y = f32(info[1]);
  const int64_t n = static_cast<int64_t>(f32len(info[0]));
  const double lo = info[2].As<Napi::Number>().DoubleValue();
  const double hi = info[3].As<Napi::Number>().DoubleValue();
  const float flo = static_cast<float>(lo), fhi = static_cast<float>(hi);
#pragma omp parallel for schedule(static) if (n > 250000)
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    y[i] = v > hi ? fhi : (v < lo ? flo : x[i]);
  }
  return info.Env().Undefined();
}

template <int OP>
void unaryLoop(const float* x, float* y, int64_t n, float alpha) {
#pragma omp parallel for schedule(static) if (n > 250000)
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    double r;
    if constexpr (OP == U_STEP) r = std::isnan(v) ? v : (v > 0 ? 1.0 : alpha);
    if constexpr (OP == U_SQRT) r = std::sqrt(v);
    if constexpr (OP == U_SQUARE) r = v * v;
    if constexpr (OP == U_EXP) r = std::exp(v);
    if constexpr (OP == U_LOG) r = std::log(v);
    if constexpr (OP == U_NEG) r = -v;
    if constexpr (OP == U_ABS) r = std::fabs(v);
    if constexpr (OP == U_RECIPROCAL) r = 1.0 / v;
    if constexpr (OP == U_RSQRT) r = 1.0 / std::sqrt(v);
    y[i] = static_cast<float>(r);
  }
}

// unary(op, x, y, alpha)
Napi::Value Unary(const Napi::CallbackInfo& info) {
  const int op = info[0].As<Napi::Number>().Int32Value();
  const float* x = f32(info[1]);
  float* y = f32(info[2]);
  const int64_t n = static_cast<int64_t>(f32len(info[1]));
  const float alpha = info[3].As<Napi::Number>().FloatValue();
  switch (op) {
    case U_STEP: unaryLoop<U_STEP>(x, y, n, alpha); break;
    case U_SQRT: unaryLoop<U_SQRT>(x, y, n, alpha); break;
    case U_SQUARE: unaryLoop<U_SQUARE>(x, y, n, alpha); break;
    case U_EXP: unaryLoop<U_EXP>(x, y, n, alpha); break;
    case U_LOG: unaryLoop<U_LOG>(x, y, n, alpha); break;
    case U_NEG: unaryLoop<U_NEG>(x, y, n, alpha); break;
    case U_ABS: unaryLoop<U_ABS>(x, y, n, alpha); break;
    case U_RECIPROCAL: unaryLoop<U_RECIPROCAL>(x, y, n, alpha); break;
    case U_RSQRT: unaryLoop<U_RSQRT>(x, y, n, alpha); break;
    default: break;
  }
  return info.Env().Undefined();
}

// ---------- peak FLOPS microbenchmark ----------
// Independent FMA chains (more than latency × ports) on the widest vectors the CPU has, timed in thread CPU time so
// that a loaded machine does not lower the figure: the achievable fp32 peak of one core.

typedef float v16f __attribute__((vector_size(64)));
typedef float v8f __attribute__((vector_size(32)));

// The loop is a macro so that it is compiled inside each target-specific function (templates would not inherit
// the target attribute). No fast-math: the chains cannot be reassociated away.
#define RL_FMA_LOOP(V, W)                                                     \
  constexpr int kChains = 16;                                                 \
  V acc[kChains];                                                             \
  V a, b;                                                                     \
  for (int i = 0; i < W; ++i) {                                               \
    a[i] = 0.999999f;                                                         \
    b[i] = 1e-7f;                                                             \
  }                                                                           \
  for (int c = 0; c < kChains; ++c) acc[c] = a * static_cast<float>(c + 1);  \
  for (int64_t k = 0; k < iters; ++k) {                                       \
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * a + b;                \
  }                                                                           \
  float sink = 0;                                                             \
  for (int c = 0; c < kChains; ++c) sink += acc[c][0];                        \
  return sink;

__attribute__((target("avx512f,fma"), optimize("fp-contract=fast"))) double fma512(int64_t iters) {
  RL_FMA_LOOP(v16f, 16)
}
__attribute__((target("avx2,fma"), optimize("fp-contract=fast"))) double fma256(int64_t iters) {
  RL_FMA_LOOP(v8f, 8)
}

double threadSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

// peakGflops(): { gflops, vectorBits } for one core.
Napi::Value PeakGflops(const Napi::CallbackInfo& info) {
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const int lanes = avx512 ? 16 : avx2 ? 8 : 0;
  double best = 0;
  if (lanes > 0) {
    const int64_t iters = 2000000;
    for (int rep = 0; rep < 5; ++rep) {
      const double t0 = threadSeconds();
      volatile double sink = avx512 ? fma512(iters) : fma256(iters);
      (void)sink;
      const double dt = threadSeconds() - t0;
      best = std::max(best, 2.0 * 16 * lanes * static_cast<double>(iters) / dt / 1e9);
    }
  }
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("gflops", best);
  o.Set("vectorBits", lanes * 32);
  return o;
}

// ---------- info / threads ----------

std::string isaName() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic: return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "generic";
  }
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const dnnl_version_t* v = dnnl_version();
  Napi::Object o = Napi::Object::New(env);
  o.Set("onednnVersion", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
  o.Set("onednnHash", std::string(v->hash ? v->hash : ""));
  o.Set("isa", isaName());
  o.Set("threads", g_threads);
  o.Set("lastConvImpl", g_lastConvImpl);
  o.Set("lastBwdDataImpl", g_lastBwdDataImpl);
  o.Set("lastBwdWeightsImpl", g_lastBwdWeightsImpl);
  o.Set("lastBatchNormImpl", g_lastBnImpl);
  o.Set("cachedPrimitives", static_cast<double>(g_cache.size()));
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) n = 1;
  if (n != g_threads) {
    // Primitives pick their work split from the thread count at creation time.
    g_cache.clear();
    g_threads = n;
  }
  omp_set_num_threads(n);
  return info.Env().Undefined();
}

Napi::Value ClearCache(const Napi::CallbackInfo& info) {
  g_cache.clear();
  return info.Env().Undefined();
}

// implementations(): "kind impl" for every primitive created since the last clearImplementations(), in order.
Napi::Value Implementations(const Napi::CallbackInfo& info) {
  Napi::Array a = Napi::Array::New(info.Env(), g_implOrder.size());
  for (size_t i = 0; i < g_implOrder.size(); ++i) a.Set(static_cast<uint32_t>(i), g_implOrder[i]);
  return a;
}

Napi::Value ClearImplementations(const Napi::CallbackInfo& info) {
  g_implOrder.clear();
  g_implSeen.clear();
  return info.Env().Undefined();
}

// setLogger(fn): fn(message) receives each implementation fallback once (the backend logs it at debug level).
Napi::Value SetLogger(const Napi::CallbackInfo& info) {
  g_logger = Napi::Persistent(info[0].As<Napi::Function>());
  g_logger.SuppressDestruct();
  return info.Env().Undefined();
}

// setConvLayout(mode): 0 = per shape and ISA (default), 1 = channels-last everywhere, 2 = oneDNN's choice
// everywhere, 3 = 16-channel blocks for every ungrouped forward convolution whatever the ISA (so that a test sees the
// guard replace a layout that has no JIT kernel below AVX-512). For tests and tuning; the primitive cache is cleared.
Napi::Value SetConvLayout(const Napi::CallbackInfo& info) {
  const int m = info[0].As<Napi::Number>().Int32Value();
  g_layoutMode = m >= LAYOUT_AUTO && m <= LAYOUT_BLOCK16 ? m : LAYOUT_AUTO;
  g_cache.clear();
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  g_threads = omp_get_max_threads();
  // Tensor buffers up to 32 MB are allocated and freed at every training step. By default glibc maps each one
  // afresh (and the kernel zeroes every page on first touch); serving them from the heap and keeping freed heap
  // memory makes that reuse instead. RADIOLENS_MALLOC_TUNE=0 keeps glibc's defaults.
  const char* tune = std::getenv("RADIOLENS_MALLOC_TUNE");
  if (tune == nullptr || std::string(tune) != "0") {
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
  }
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("clearCache", Napi::Function::New(env, ClearCache));
  exports.Set("implementations", Napi::Function::New(env, Implementations));
  exports.Set("clearImplementations", Napi::Function::New(env, ClearImplementations));
  exports.Set("setLogger", Napi::Function::New(env, SetLogger));
  exports.Set("setConvLayout", Napi::Function::New(env, SetConvLayout));
  exports.Set("convForward", Napi::Function::New(env, ConvForward));
  exports.Set("convBackwardData", Napi::Function::New(env, ConvBackwardData));
  exports.Set("convBackwardWeights", Napi::Function::New(env, ConvBackwardWeights));
  exports.Set("poolForward", Napi::Function::New(env, PoolForward));
  exports.Set("poolBackward", Napi::Function::New(env, PoolBackward));
  exports.Set("matMul", Napi::Function::New(env, MatMulFn));
  exports.Set("conv3dFilterGrad", Napi::Function::New(env, Conv3dFilterGrad));
  exports.Set("eltwise", Napi::Function::New(env, EltwiseForward));
  exports.Set("eltwiseBackward", Napi::Function::New(env, EltwiseBackward));
  exports.Set("softmax", Napi::Function::New(env, SoftmaxFn));
  exports.Set("batchNorm", Napi::Function::New(env, BatchNormFn));
  exports.Set("batchNormGrad", Napi::Function::New(env, BatchNormGrad));
  exports.Set("reduce", Napi::Function::New(env, Reduce));
  exports.Set("adam", Napi::Function::New(env, Adam));
  exports.Set("adamStep", Napi::Function::New(env, AdamStep));
  exports.Set("moments", Napi::Function::New(env, Moments));
  exports.Set("momentsGrad", Napi::Function::New(env, MomentsGrad));
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("unary", Napi::Function::New(env, Unary));
  exports.Set("tile", Napi::Function::New(env, Tile));
  exports.Set("clip", Napi::Function::New(env, Clip));
  exports.Set("peakGflops", Napi::Function::New(env, PeakGflops));
  return exports;
}

}  // namespace

NODE_API_MODULE(radiolens_onednn, Init)
