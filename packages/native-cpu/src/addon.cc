// @selfsup/native-cpu: oneDNN convolutions and matmul, and training-mode batch normalization
// (plain loops), for tensors that live in the tfjs wasm backend's heap. Every call gets the heap (a Uint8Array over the
// WebAssembly.Memory, shared when the wasm backend is threaded) and byte offsets into it:
// the addon reads its inputs and writes its output in place, nothing is copied.
// Layouts are tfjs's: activations NHWC, filters [KH, KW, CI, CO] (oneDNN's hwio),
// matrices row-major. Primitives are created once per shape and cached.
//
// Calls are synchronous on the JS thread; the wasm thread pool is idle meanwhile, so
// oneDNN's OpenMP threads get the cores (setThreads sets how many).
#include <node_api.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

using dnnl::algorithm;
using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

namespace {

dnnl::engine &eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
dnnl::stream &strm() {
  static dnnl::stream s(eng());
  return s;
}

// ---- conv parameters (the layout of the Int32Array the JS side passes) -------------
enum ConvKind { FWD = 0, BWD_DATA = 1, BWD_WEIGHTS = 2 };
enum Act { ACT_LINEAR = 0, ACT_RELU = 1, ACT_RELU6 = 2, ACT_LEAKY = 3, ACT_SIGMOID = 4, ACT_ELU = 5 };
// n, h, w, ci, co, kh, kw, oh, ow, sh, sw, padTop, padLeft, padBottom, padRight, dh, dw, hasBias, act
constexpr int CONV_NPARAMS = 19;

struct ConvEntry {
  memory::desc src, wei, dst;       // what the primitive runs on
  memory::desc user_wei;            // hwio as tfjs stores it
  bool reorder_wei = false;
  std::unique_ptr<dnnl::primitive> prim;
  std::unique_ptr<dnnl::reorder> wei_reorder;  // user -> primitive (fwd, bwd data) or back (bwd weights)
  std::vector<float> wei_buf;                  // the primitive's own weight layout
  memory::desc bias;
  std::string impl;
};

struct MatmulEntry {
  std::unique_ptr<dnnl::matmul> prim;
  memory::desc a, b, c, bias;
  std::string impl;
};

std::unordered_map<std::string, std::unique_ptr<ConvEntry>> conv_cache;
std::unordered_map<std::string, std::unique_ptr<MatmulEntry>> matmul_cache;

// A training run has a few dozen shapes; a run whose shapes keep changing (evaluation batches
// of every size) must not grow the caches without bound: past this many, start over.
constexpr size_t MAX_CACHED = 512;
template <typename Map>
void make_room(Map &m) {
  if (m.size() >= MAX_CACHED) m.clear();
}

std::string key_of(int kind, const int32_t *p, int n, float alpha) {
  std::string k(reinterpret_cast<const char *>(&kind), sizeof kind);
  k.append(reinterpret_cast<const char *>(p), sizeof(int32_t) * n);
  k.append(reinterpret_cast<const char *>(&alpha), sizeof alpha);
  return k;
}

dnnl::post_ops act_post_ops(int act, float alpha) {
  dnnl::post_ops po;
  switch (act) {
    case ACT_LINEAR: break;
    case ACT_RELU: po.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f); break;
    case ACT_RELU6: po.append_eltwise(1.f, algorithm::eltwise_clip, 0.f, 6.f); break;
    case ACT_LEAKY: po.append_eltwise(1.f, algorithm::eltwise_relu, alpha, 0.f); break;
    case ACT_SIGMOID: po.append_eltwise(1.f, algorithm::eltwise_logistic, 0.f, 0.f); break;
    case ACT_ELU: po.append_eltwise(1.f, algorithm::eltwise_elu, 1.f, 0.f); break;
    default: throw std::runtime_error("unknown activation " + std::to_string(act));
  }
  return po;
}

ConvEntry &conv_entry(int kind, const int32_t *p, float alpha) {
  std::string key = key_of(kind, p, CONV_NPARAMS, alpha);
  auto it = conv_cache.find(key);
  if (it != conv_cache.end()) return *it->second;

  const int n = p[0], h = p[1], w = p[2], ci = p[3], co = p[4], kh = p[5], kw = p[6], oh = p[7], ow = p[8];
  const memory::dims strides = {p[9], p[10]};
  const memory::dims pad_l = {p[11], p[12]};
  const memory::dims pad_r = {p[13], p[14]};
  const memory::dims dil = {p[15] - 1, p[16] - 1};  // oneDNN counts dilation from 0
  const bool has_bias = p[17] != 0;
  const int act = p[18];

  auto e = std::make_unique<ConvEntry>();
  e->src = memory::desc({n, ci, h, w}, dt::f32, tag::nhwc);
  e->dst = memory::desc({n, co, oh, ow}, dt::f32, tag::nhwc);
  e->user_wei = memory::desc({co, ci, kh, kw}, dt::f32, tag::hwio);
  memory::desc wei_any({co, ci, kh, kw}, dt::f32, tag::any);
  e->bias = has_bias ? memory::desc({co}, dt::f32, tag::x) : memory::desc();

  dnnl::primitive_attr attr;
  if (kind == FWD) attr.set_post_ops(act_post_ops(act, alpha));

  dnnl::convolution_forward::desc fdesc(
      dnnl::prop_kind::forward_training, algorithm::convolution_direct, e->src, wei_any, e->bias, e->dst,
      strides, dil, pad_l, pad_r);
  dnnl::convolution_forward::primitive_desc fpd(fdesc, attr, eng());

  if (kind == FWD) {
    e->wei = fpd.weights_desc();
    e->impl = fpd.impl_info_str();
    e->prim = std::make_unique<dnnl::convolution_forward>(fpd);
    e->reorder_wei = e->wei != e->user_wei;
    if (e->reorder_wei) {
      e->wei_reorder = std::make_unique<dnnl::reorder>(dnnl::reorder::primitive_desc(eng(), e->user_wei, eng(), e->wei));
    }
  } else if (kind == BWD_DATA) {
    dnnl::convolution_backward_data::desc bdesc(algorithm::convolution_direct, e->src, wei_any, e->dst, strides, dil, pad_l, pad_r);
    dnnl::convolution_backward_data::primitive_desc bpd(bdesc, eng(), fpd);
    e->wei = bpd.weights_desc();
    e->impl = bpd.impl_info_str();
    e->prim = std::make_unique<dnnl::convolution_backward_data>(bpd);
    e->reorder_wei = e->wei != e->user_wei;
    if (e->reorder_wei) {
      e->wei_reorder = std::make_unique<dnnl::reorder>(dnnl::reorder::primitive_desc(eng(), e->user_wei, eng(), e->wei));
    }
  } else {
    dnnl::convolution_backward_weights::desc bdesc(algorithm::convolution_direct, e->src, wei_any, e->dst, strides, dil, pad_l, pad_r);
    dnnl::convolution_backward_weights::primitive_desc bpd(bdesc, eng(), fpd);
    e->wei = bpd.diff_weights_desc();
    e->impl = bpd.impl_info_str();
    e->prim = std::make_unique<dnnl::convolution_backward_weights>(bpd);
    e->reorder_wei = e->wei != e->user_wei;
    if (e->reorder_wei) {
      e->wei_reorder = std::make_unique<dnnl::reorder>(dnnl::reorder::primitive_desc(eng(), e->wei, eng(), e->user_wei));
    }
  }
  if (e->reorder_wei) e->wei_buf.resize(e->wei.get_size() / sizeof(float) + 16);
  ConvEntry &ref = *e;
  make_room(conv_cache);
  conv_cache.emplace(std::move(key), std::move(e));
  return ref;
}

// a, b, bias, out: pointers into the heap (bias may be null)
void run_conv(int kind, const int32_t *p, float alpha, char *a, char *b, char *bias, char *out) {
  ConvEntry &e = conv_entry(kind, p, alpha);
  dnnl::stream &s = strm();
  if (kind == FWD || kind == BWD_DATA) {
    memory user_w(e.user_wei, eng(), b);
    memory wmem = user_w;
    if (e.reorder_wei) {
      wmem = memory(e.wei, eng(), e.wei_buf.data());
      e.wei_reorder->execute(s, user_w, wmem);
    }
    if (kind == FWD) {
      memory src(e.src, eng(), a), dst(e.dst, eng(), out);
      std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wmem}, {DNNL_ARG_DST, dst}};
      if (bias) args.insert({DNNL_ARG_BIAS, memory(e.bias, eng(), bias)});
      e.prim->execute(s, args);
    } else {
      memory ddst(e.dst, eng(), a), dsrc(e.src, eng(), out);
      e.prim->execute(s, {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WEIGHTS, wmem}, {DNNL_ARG_DIFF_SRC, dsrc}});
    }
  } else {
    memory src(e.src, eng(), a), ddst(e.dst, eng(), b);
    memory user_dw(e.user_wei, eng(), out);
    memory dw = e.reorder_wei ? memory(e.wei, eng(), e.wei_buf.data()) : user_dw;
    e.prim->execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_DIFF_WEIGHTS, dw}});
    if (e.reorder_wei) e.wei_reorder->execute(s, dw, user_dw);
  }
  s.wait();
}

// ---- matmul ------------------------------------------------------------------------
// batchA, batchB, m, k, n, transposeA, transposeB, hasBias, act
constexpr int MM_NPARAMS = 9;

MatmulEntry &matmul_entry(const int32_t *p, float alpha) {
  std::string key = key_of(100, p, MM_NPARAMS, alpha);
  auto it = matmul_cache.find(key);
  if (it != matmul_cache.end()) return *it->second;
  const memory::dim ba = p[0], bb = p[1], m = p[2], k = p[3], n = p[4];
  const bool ta = p[5] != 0, tb = p[6] != 0, has_bias = p[7] != 0;
  const int act = p[8];
  const memory::dim bc = ba > bb ? ba : bb;
  auto e = std::make_unique<MatmulEntry>();
  // logical [B, M, K]; stored [B, K, M] when transposed
  e->a = memory::desc({ba, m, k}, dt::f32, ta ? memory::dims{m * k, 1, m} : memory::dims{m * k, k, 1});
  e->b = memory::desc({bb, k, n}, dt::f32, tb ? memory::dims{k * n, 1, k} : memory::dims{k * n, n, 1});
  e->c = memory::desc({bc, m, n}, dt::f32, memory::dims{m * n, n, 1});
  e->bias = has_bias ? memory::desc({1, 1, n}, dt::f32, memory::dims{n, n, 1}) : memory::desc();
  dnnl::primitive_attr attr;
  attr.set_post_ops(act_post_ops(act, alpha));
  dnnl::matmul::desc d = has_bias ? dnnl::matmul::desc(e->a, e->b, e->bias, e->c) : dnnl::matmul::desc(e->a, e->b, e->c);
  dnnl::matmul::primitive_desc pd(d, attr, eng());
  e->impl = pd.impl_info_str();
  e->prim = std::make_unique<dnnl::matmul>(pd);
  MatmulEntry &ref = *e;
  make_room(matmul_cache);
  matmul_cache.emplace(std::move(key), std::move(e));
  return ref;
}

void run_matmul(const int32_t *p, float alpha, char *a, char *b, char *bias, char *c) {
  MatmulEntry &e = matmul_entry(p, alpha);
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, memory(e.a, eng(), a)}, {DNNL_ARG_WEIGHTS, memory(e.b, eng(), b)}, {DNNL_ARG_DST, memory(e.c, eng(), c)}};
  if (bias) args.insert({DNNL_ARG_BIAS, memory(e.bias, eng(), bias)});
  e.prim->execute(strm(), args);
  strm().wait();
}


// ---- batch normalization (training) ---------------------------------------------------
// Over every axis but the last of a [rows, C] (NHWC flattened) float32 tensor. Plain loops,
// vectorised by the compiler: the flattened data is walked in chunks of L = C·k elements
// (k copies of the channel pattern, L ≥ 64), so the inner loop is long and contiguous
// whatever C is. Statistics are accumulated in float64 over data shifted by the first row's
// values (one pass, no catastrophic cancellation when |mean| ≫ std). Threads split the
// chunks (OpenMP; one thread below BN_PARALLEL_MIN elements, where waking the pool costs more).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define BN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define BN_CLONES
#endif

constexpr int64_t BN_PARALLEL_MIN = 1 << 15;

int bn_pattern(int c) { return c >= 64 ? c : c * ((64 + c - 1) / c); }
int bn_threads(int64_t n) { return n < BN_PARALLEL_MIN ? 1 : omp_get_max_threads(); }

// s[j] += x − k[j], q[j] += (x − k[j])² over chunks [lo, hi) of length L, in float64. (Sums in
// float32 blocks of 32 chunks, then float64, ran this pass 1.9× faster and the backward's 1.4×,
// but round differently: the main job's trajectory changed and it ended 0.6 points lower, within
// a seed's spread yet a measured loss, so the float64 sums stay.)
BN_CLONES void bn_stats_range(const float *__restrict x, const float *__restrict k, int L, int64_t lo, int64_t hi,
                              double *__restrict s, double *__restrict q) {
  for (int64_t i = lo; i < hi; i++) {
    const float *p = x + i * L;
    for (int j = 0; j < L; j++) {
      const double d = p[j] - k[j];
      s[j] += d;
      q[j] += d * d;
    }
  }
}

// y = x·a[j] + b[j]
BN_CLONES void bn_affine_range(const float *__restrict x, const float *__restrict a, const float *__restrict b, int L,
                               int64_t lo, int64_t hi, float *__restrict y) {
  for (int64_t i = lo; i < hi; i++) {
    const float *p = x + i * L;
    float *o = y + i * L;
    for (int j = 0; j < L; j++) o[j] = p[j] * a[j] + b[j];
  }
}

// s[j] += dy, q[j] += dy·(x − m[j])
BN_CLONES void bn_grad_range(const float *__restrict dy, const float *__restrict x, const float *__restrict m, int L,
                             int64_t lo, int64_t hi, double *__restrict s, double *__restrict q) {
  for (int64_t i = lo; i < hi; i++) {
    const float *d = dy + i * L;
    const float *p = x + i * L;
    for (int j = 0; j < L; j++) {
      s[j] += d[j];
      q[j] += static_cast<double>(d[j]) * (p[j] - m[j]);
    }
  }
}

// dx = a[j]·dy + b[j]·x + c[j]
BN_CLONES void bn_dx_range(const float *__restrict dy, const float *__restrict x, const float *__restrict a,
                           const float *__restrict b, const float *__restrict c, int L, int64_t lo, int64_t hi,
                           float *__restrict dx) {
  for (int64_t i = lo; i < hi; i++) {
    const float *d = dy + i * L;
    const float *p = x + i * L;
    float *o = dx + i * L;
    for (int j = 0; j < L; j++) o[j] = a[j] * d[j] + b[j] * p[j] + c[j];
  }
}

// ReLU and its derivative as tfjs-wasm has them: max(v, 0) with −0 → +0 and NaN kept;
// step(v) = v > 0 ? 1 : 0 with NaN kept
inline float relu1(float v) { return v > 0.f ? v : (v != v ? v : 0.f); }
inline float step1(float v) { return v > 0.f ? 1.f : (v != v ? v : 0.f); }

// y = relu(x·a[j] + b[j]): batch norm and the ReLU that follows it in one pass
BN_CLONES void bn_affine_relu_range(const float *__restrict x, const float *__restrict a, const float *__restrict b, int L,
                                    int64_t lo, int64_t hi, float *__restrict y) {
  for (int64_t i = lo; i < hi; i++) {
    const float *p = x + i * L;
    float *o = y + i * L;
    for (int j = 0; j < L; j++) o[j] = relu1(p[j] * a[j] + b[j]);
  }
}

// bn_grad_range for relu(batch norm): dy is first multiplied by step(y), y = x·fa[j] + fb[j]
// recomputed exactly as the forward pass computed it
BN_CLONES void bn_grad_relu_range(const float *__restrict dy, const float *__restrict x, const float *__restrict m,
                                  const float *__restrict fa, const float *__restrict fb, int L, int64_t lo, int64_t hi,
                                  double *__restrict s, double *__restrict q) {
  for (int64_t i = lo; i < hi; i++) {
    const float *d = dy + i * L;
    const float *p = x + i * L;
    for (int j = 0; j < L; j++) {
      const float g = d[j] * step1(p[j] * fa[j] + fb[j]);
      s[j] += g;
      q[j] += static_cast<double>(g) * (p[j] - m[j]);
    }
  }
}

// bn_dx_range for relu(batch norm)
BN_CLONES void bn_dx_relu_range(const float *__restrict dy, const float *__restrict x, const float *__restrict fa,
                                const float *__restrict fb, const float *__restrict a, const float *__restrict b,
                                const float *__restrict c, int L, int64_t lo, int64_t hi, float *__restrict dx) {
  for (int64_t i = lo; i < hi; i++) {
    const float *d = dy + i * L;
    const float *p = x + i * L;
    float *o = dx + i * L;
    for (int j = 0; j < L; j++) {
      const float g = d[j] * step1(p[j] * fa[j] + fb[j]);
      o[j] = a[j] * g + b[j] * p[j] + c[j];
    }
  }
}

// Runs f(lo, hi, thread) over the n / L whole chunks, split among the threads; then the tail
// (n mod L elements, a partial chunk starting at a multiple of L) as chunk range [chunks, chunks + 1)
// with length `tail` is left to the caller.
template <typename F>
void bn_parallel(int64_t chunks, int threads, F f) {
  if (threads <= 1 || chunks < 2) {
    f(0, chunks, 0);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    f(chunks * t / nt, chunks * (t + 1) / nt, t);
  }
}

// Per-channel sums of per-lane accumulators [threads][L] → [C] (lane j is channel j mod C).
void bn_fold(const std::vector<double> &acc, int threads, int L, int c, std::vector<double> &out) {
  out.assign(c, 0.0);
  for (int t = 0; t < threads; t++) {
    for (int j = 0; j < L; j++) out[j % c] += acc[static_cast<size_t>(t) * L + j];
  }
}

// mean and (biased) variance per channel
void bn_stats(const float *x, int64_t rows, int c, float *mean, float *var) {
  const int L = bn_pattern(c);
  const int64_t n = rows * c, chunks = n / L;
  const int tail = static_cast<int>(n - chunks * L);
  const int threads = bn_threads(n);
  std::vector<float> k(L);
  for (int j = 0; j < L; j++) k[j] = x[j % c];
  std::vector<double> s(static_cast<size_t>(threads) * L, 0.0), q(s.size(), 0.0);
  bn_parallel(chunks, threads, [&](int64_t lo, int64_t hi, int t) { bn_stats_range(x, k.data(), L, lo, hi, &s[t * L], &q[t * L]); });
  for (int j = 0; j < tail; j++) {
    const double d = x[chunks * L + j] - k[j];
    s[j] += d;
    q[j] += d * d;
  }
  std::vector<double> sc, qc;
  bn_fold(s, threads, L, c, sc);
  bn_fold(q, threads, L, c, qc);
  for (int ch = 0; ch < c; ch++) {
    const double m = sc[ch] / rows;
    const double v = qc[ch] / rows - m * m;
    mean[ch] = static_cast<float>(k[ch] + m);
    var[ch] = static_cast<float>(v > 0 ? v : 0);
  }
}

// The moving statistics' update as tf.layers writes it, v − (v − value)·f with f = 1 − momentum,
// rounded as the three float32 ops are (no fused multiply-add).
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("fp-contract=off")))
#endif
void bn_moving(const float *value, const float *v, int c, float f, float *out) {
  for (int ch = 0; ch < c; ch++) {
    volatile float d = v[ch] - value[ch];
    volatile float m = d * f;
    out[ch] = v[ch] - m;
  }
}

// The forward pass's affine map y = x·a[j] + b[j] per lane j of the chunk pattern
void bn_coeffs(int c, int L, float eps, const float *mean, const float *var, const float *gamma, const float *beta,
               float *a, float *b) {
  for (int j = 0; j < L; j++) {
    const int ch = j % c;
    const double aj = (gamma ? gamma[ch] : 1.0) / std::sqrt(static_cast<double>(var[ch]) + eps);
    a[j] = static_cast<float>(aj);
    b[j] = static_cast<float>((beta ? beta[ch] : 0.0) - mean[ch] * aj);
  }
}

// y = (x − mean)·γ/√(var + ε) + β, or relu of it
void bn_forward(const float *x, int64_t rows, int c, float eps, const float *mean, const float *var, const float *gamma,
                const float *beta, bool relu, float *y) {
  const int L = bn_pattern(c);
  const int64_t n = rows * c, chunks = n / L;
  const int tail = static_cast<int>(n - chunks * L);
  std::vector<float> a(L), b(L);
  bn_coeffs(c, L, eps, mean, var, gamma, beta, a.data(), b.data());
  if (relu) {
    bn_parallel(chunks, bn_threads(n), [&](int64_t lo, int64_t hi, int) { bn_affine_relu_range(x, a.data(), b.data(), L, lo, hi, y); });
    for (int j = 0; j < tail; j++) y[chunks * L + j] = relu1(x[chunks * L + j] * a[j] + b[j]);
  } else {
    bn_parallel(chunks, bn_threads(n), [&](int64_t lo, int64_t hi, int) { bn_affine_range(x, a.data(), b.data(), L, lo, hi, y); });
    for (int j = 0; j < tail; j++) y[chunks * L + j] = x[chunks * L + j] * a[j] + b[j];
  }
}

// dβ = Σ dy, dγ = r·Σ dy·(x − μ), dx = a·dy + b·x + c with r = 1/√(var + ε), a = γ·r,
// b = −a·r·dγ/R, c = −a·dβ/R − b·μ (R = rows): the statistics are differentiated through.
// With relu (beta given): the gradient of relu(batch norm), dy·step(y) in place of dy, y recomputed.
void bn_backward(const float *dy, const float *x, int64_t rows, int c, float eps, const float *mean, const float *var,
                 const float *gamma, const float *beta, bool relu, float *dx, float *dgamma, float *dbeta) {
  const int L = bn_pattern(c);
  const int64_t n = rows * c, chunks = n / L;
  const int tail = static_cast<int>(n - chunks * L);
  const int threads = bn_threads(n);
  std::vector<float> m(L), fa, fb;
  for (int j = 0; j < L; j++) m[j] = mean[j % c];
  if (relu) {
    fa.resize(L);
    fb.resize(L);
    bn_coeffs(c, L, eps, mean, var, gamma, beta, fa.data(), fb.data());
  }
  // dy·step(y) at flattened index k (lane j): the tail's, as bn_forward's tail computed y
  auto g_at = [&](int64_t k, int j) { return relu ? dy[k] * step1(x[k] * fa[j] + fb[j]) : dy[k]; };
  std::vector<double> s(static_cast<size_t>(threads) * L, 0.0), q(s.size(), 0.0);
  if (relu) {
    bn_parallel(chunks, threads, [&](int64_t lo, int64_t hi, int t) { bn_grad_relu_range(dy, x, m.data(), fa.data(), fb.data(), L, lo, hi, &s[t * L], &q[t * L]); });
  } else {
    bn_parallel(chunks, threads, [&](int64_t lo, int64_t hi, int t) { bn_grad_range(dy, x, m.data(), L, lo, hi, &s[t * L], &q[t * L]); });
  }
  for (int j = 0; j < tail; j++) {
    const float d = g_at(chunks * L + j, j);
    s[j] += d;
    q[j] += static_cast<double>(d) * (x[chunks * L + j] - m[j]);
  }
  std::vector<double> sc, qc;
  bn_fold(s, threads, L, c, sc);
  bn_fold(q, threads, L, c, qc);
  std::vector<float> a(L), b(L), cc(L);
  for (int ch = 0; ch < c; ch++) {
    const double r = 1.0 / std::sqrt(static_cast<double>(var[ch]) + eps);
    const double dbeta_c = sc[ch], dgamma_c = r * qc[ch];
    const double ac = gamma[ch] * r;
    const double bc = -ac * r * dgamma_c / rows;
    const double cc_c = -ac * dbeta_c / rows - bc * mean[ch];
    dbeta[ch] = static_cast<float>(dbeta_c);
    dgamma[ch] = static_cast<float>(dgamma_c);
    for (int j = ch; j < L; j += c) {
      a[j] = static_cast<float>(ac);
      b[j] = static_cast<float>(bc);
      cc[j] = static_cast<float>(cc_c);
    }
  }
  if (relu) {
    bn_parallel(chunks, bn_threads(n), [&](int64_t lo, int64_t hi, int) { bn_dx_relu_range(dy, x, fa.data(), fb.data(), a.data(), b.data(), cc.data(), L, lo, hi, dx); });
  } else {
    bn_parallel(chunks, bn_threads(n), [&](int64_t lo, int64_t hi, int) { bn_dx_range(dy, x, a.data(), b.data(), cc.data(), L, lo, hi, dx); });
  }
  for (int j = 0; j < tail; j++) dx[chunks * L + j] = a[j] * g_at(chunks * L + j, j) + b[j] * x[chunks * L + j] + cc[j];
}


// ---- optimizer updates over many variables in one call ------------------------------------
// LARS (solo-learn's form, as packages/ssl/src/optim/lars.ts) with torch-style momentum, and the
// EMA of a target network. Each variable's new values go to outputs the caller allocated (the
// variables are then assigned), never in place: tfjs tensors may share their data.

// Σ x² in float64
BN_CLONES double sum_squares(const float *__restrict x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += static_cast<double>(x[i]) * x[i];
  return s;
}

// d = (g + decay·w)·trust; buf' = μ·buf + d; w' = w − lr·(nesterov ? d + μ·buf' : buf')
BN_CLONES void lars_apply(const float *__restrict w, const float *__restrict g, const float *__restrict buf, int64_t n,
                          float decay, float trust, float mu, float lr, bool nesterov, float *__restrict w_out,
                          float *__restrict buf_out) {
  for (int64_t i = 0; i < n; i++) {
    const float d = (g[i] + decay * w[i]) * trust;
    const float b = mu * buf[i] + d;
    buf_out[i] = b;
    w_out[i] = w[i] - lr * (nesterov ? d + mu * b : b);
  }
}

// t' = t·τ + o·(1 − τ)
BN_CLONES void ema_apply(const float *__restrict t, const float *__restrict o, int64_t n, float tau, float one_minus,
                         float *__restrict out) {
  for (int64_t i = 0; i < n; i++) out[i] = t[i] * tau + o[i] * one_minus;
}


// ---- ReLU, its gradient, addition, constant padding ---------------------------------------
// The wasm backend runs ReLU and padding as single-threaded scalar loops (ReLU's gradient as
// three ops: Step, Cast, Multiply); at the main job's widths a step makes ~40 ReLU and ~30
// addition calls over up to 1.6M floats. Same values as tfjs's kernels, bit for bit (tests
// compare them).

// y = max(x, 0) as tfjs-wasm has it (XNNPACK's clamp: −0 → +0, NaN stays NaN)
BN_CLONES void relu_range(const float *__restrict x, int64_t lo, int64_t hi, float *__restrict y) {
  for (int64_t i = lo; i < hi; i++) {
    const float v = x[i];
    y[i] = v > 0.f ? v : (v != v ? v : 0.f);
  }
}

// dx = dy · step(x), step(x) = x > 0 ? 1 : (x is NaN ? NaN : 0) — tfjs's mul(dy, cast(step(x)))
BN_CLONES void relu_grad_range(const float *__restrict dy, const float *__restrict x, int64_t lo, int64_t hi,
                               float *__restrict dx) {
  for (int64_t i = lo; i < hi; i++) {
    const float v = x[i];
    dx[i] = dy[i] * (v > 0.f ? 1.f : (v != v ? v : 0.f));
  }
}

// out = relu(a + b)
BN_CLONES void add_relu_range(const float *__restrict a, const float *__restrict b, int64_t lo, int64_t hi, float *__restrict out) {
  for (int64_t i = lo; i < hi; i++) {
    const float v = a[i] + b[i];
    out[i] = v > 0.f ? v : (v != v ? v : 0.f);
  }
}

// out = a · b[i / inner]: b holds one value per row of `inner` elements (inner 1: same shape)
BN_CLONES void mul_rows_range(const float *__restrict a, const float *__restrict b, int64_t inner, int64_t lo, int64_t hi,
                              float *__restrict out) {
  if (inner == 1) {
    for (int64_t i = lo; i < hi; i++) out[i] = a[i] * b[i];
    return;
  }
  int64_t i = lo;
  while (i < hi) {
    const int64_t row = i / inner, end = std::min(hi, (row + 1) * inner);
    const float v = b[row];
    for (; i < end; i++) out[i] = a[i] * v;
  }
}

// out = a + b
BN_CLONES void add_range(const float *__restrict a, const float *__restrict b, int64_t lo, int64_t hi, float *__restrict out) {
  for (int64_t i = lo; i < hi; i++) out[i] = a[i] + b[i];
}

// f(lo, hi) over [0, n) split among the threads at multiples of 16 elements (64 bytes)
template <typename F>
void ew_parallel(int64_t n, F f) {
  const int threads = bn_threads(n);
  if (threads <= 1) {
    f(0, n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t lo = (n * t / nt) & ~int64_t{15};
    const int64_t hi = t + 1 == nt ? n : (n * (t + 1) / nt) & ~int64_t{15};
    f(lo, hi);
  }
}

// Constant padding of a 4-D float32 tensor: p = n, h, w, c, then (before, after) per axis.
void pad4(const float *x, const int32_t *p, float value, float *y) {
  const int64_t n = p[0], h = p[1], w = p[2], c = p[3];
  const int64_t H = h + p[6] + p[7], W = w + p[8] + p[9], C = c + p[10] + p[11];
  const int64_t rows = (n + p[4] + p[5]) * H, row = W * C;
  auto body = [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; r++) {
      float *o = y + r * row;
      const int64_t in = r / H - p[4], ih = r % H - p[6];
      if (in < 0 || in >= n || ih < 0 || ih >= h) {
        std::fill(o, o + row, value);
        continue;
      }
      const float *xi = x + (in * h + ih) * w * c;
      std::fill(o, o + p[8] * C, value);
      float *q = o + p[8] * C;
      if (C == c) {
        std::memcpy(q, xi, static_cast<size_t>(w * c) * sizeof(float));
      } else {
        for (int64_t iw = 0; iw < w; iw++, q += C) {
          std::fill(q, q + p[10], value);
          std::memcpy(q + p[10], xi + iw * c, static_cast<size_t>(c) * sizeof(float));
          std::fill(q + p[10] + c, q + C, value);
        }
      }
      std::fill(o + (p[8] + w) * C, o + row, value);
    }
  };
  const int threads = bn_threads(rows * row);
  if (threads <= 1 || rows < 2) {
    body(0, rows);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    body(rows * t / nt, rows * (t + 1) / nt);
  }
}

// ---- Node-API glue -------------------------------------------------------------------
#define NAPI_OK(call)                                   \
  do {                                                  \
    if ((call) != napi_ok) throw std::runtime_error(#call); \
  } while (0)

struct Heap {
  char *data;
  size_t bytes;
};

Heap heap_of(napi_env env, napi_value v) {
  bool is_ta = false;
  NAPI_OK(napi_is_typedarray(env, v, &is_ta));
  if (!is_ta) throw std::runtime_error("the heap must be a typed array over the wasm memory");
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  napi_value ab;
  NAPI_OK(napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset));
  size_t elem = (type == napi_float32_array || type == napi_int32_array || type == napi_uint32_array) ? 4 : 1;
  if (type == napi_float64_array) elem = 8;
  return {static_cast<char *>(data), length * elem};
}

const int32_t *params_of(napi_env env, napi_value v, size_t want) {
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  napi_value ab;
  NAPI_OK(napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset));
  if (type != napi_int32_array || length < want) throw std::runtime_error("params must be an Int32Array of " + std::to_string(want));
  return static_cast<const int32_t *>(data);
}

double number_of(napi_env env, napi_value v) {
  double d;
  NAPI_OK(napi_get_value_double(env, v, &d));
  return d;
}

// byte offset → pointer, checked against the heap size; a negative offset means "none"
char *at(const Heap &h, double off, size_t bytes) {
  if (off < 0) return nullptr;
  size_t o = static_cast<size_t>(off);
  if (o + bytes > h.bytes || o + bytes < o) throw std::runtime_error("offset outside the wasm heap");
  return h.data + o;
}

napi_value throw_js(napi_env env, const std::string &msg) {
  napi_throw_error(env, nullptr, msg.c_str());
  return nullptr;
}

size_t f32(int64_t n) { return static_cast<size_t>(n) * sizeof(float); }

// Runs a binding's body; a C++ exception becomes a thrown JS Error (oneDNN's with its status).
template <class F>
napi_value guarded(napi_env env, F &&body) {
  try {
    return body();
  } catch (const dnnl::error &e) {
    return throw_js(env, std::string("oneDNN: ") + e.what() + " (status " + std::to_string(e.status) + ")");
  } catch (const std::exception &e) {
    return throw_js(env, e.what());
  }
}

// conv(kind, heap, params Int32Array, alpha, aOff, bOff, biasOff, outOff)
napi_value Conv(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    size_t argc = 8;
    napi_value argv[8];
    NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
    if (argc < 8) throw std::runtime_error("conv takes 8 arguments");
    int32_t kind;
    NAPI_OK(napi_get_value_int32(env, argv[0], &kind));
    if (kind < FWD || kind > BWD_WEIGHTS) throw std::runtime_error("unknown conv kind");
    Heap h = heap_of(env, argv[1]);
    const int32_t *p = params_of(env, argv[2], CONV_NPARAMS);
    float alpha = static_cast<float>(number_of(env, argv[3]));
    const int64_t n = p[0], hh = p[1], w = p[2], ci = p[3], co = p[4], kh = p[5], kw = p[6], oh = p[7], ow = p[8];
    for (int i = 0; i < CONV_NPARAMS; i++) {
      if (p[i] < 0) throw std::runtime_error("negative conv parameter");
    }
    const size_t xs = f32(n * hh * w * ci), ws = f32(kh * kw * ci * co), ys = f32(n * oh * ow * co);
    size_t as = 0, bs = 0, os = 0;
    if (kind == FWD) { as = xs; bs = ws; os = ys; }
    else if (kind == BWD_DATA) { as = ys; bs = ws; os = xs; }
    else { as = xs; bs = ys; os = ws; }
    char *a = at(h, number_of(env, argv[4]), as);
    char *b = at(h, number_of(env, argv[5]), bs);
    char *bias = kind == FWD && p[17] ? at(h, number_of(env, argv[6]), f32(co)) : nullptr;
    char *out = at(h, number_of(env, argv[7]), os);
    if (!a || !b || !out || (kind == FWD && p[17] && !bias)) throw std::runtime_error("missing operand");
    run_conv(kind, p, alpha, a, b, bias, out);
    return nullptr;
  });
}

// matmul(heap, params Int32Array, alpha, aOff, bOff, biasOff, outOff)
napi_value Matmul(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    size_t argc = 7;
    napi_value argv[7];
    NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
    if (argc < 7) throw std::runtime_error("matmul takes 7 arguments");
    Heap h = heap_of(env, argv[0]);
    const int32_t *p = params_of(env, argv[1], MM_NPARAMS);
    for (int i = 0; i < MM_NPARAMS; i++) {
      if (p[i] < 0) throw std::runtime_error("negative matmul parameter");
    }
    if (p[0] != p[1] && p[0] != 1 && p[1] != 1) throw std::runtime_error("matmul batches must match or be 1");
    float alpha = static_cast<float>(number_of(env, argv[2]));
    const int64_t ba = p[0], bb = p[1], m = p[2], k = p[3], n = p[4];
    const int64_t bc = ba > bb ? ba : bb;
    char *a = at(h, number_of(env, argv[3]), f32(ba * m * k));
    char *b = at(h, number_of(env, argv[4]), f32(bb * k * n));
    char *bias = p[7] ? at(h, number_of(env, argv[5]), f32(n)) : nullptr;
    char *c = at(h, number_of(env, argv[6]), f32(bc * m * n));
    if (!a || !b || !c || (p[7] && !bias)) throw std::runtime_error("missing operand");
    run_matmul(p, alpha, a, b, bias, c);
    return nullptr;
  });
}


// batchNorm(kind, heap, rows, c, eps, offsets Float64Array): byte offsets of the operands, by kind
//   0 stats:    x, mean, var
//   1 forward:  x, mean, var, γ, β, y            (γ, β may be −1: 1 and 0)
//   2 backward: dy, x, mean, var, γ, dx, dγ, dβ
//   3 stats and the moving statistics' update: x, movingMean, movingVar, mean, var, movingMean′,
//     movingVar′, with eps = the layer's momentum (v′ = v − (v − batch value)·(1 − momentum))
//   4 forward with the ReLU that follows: as 1, y = relu(batch norm)
//   5 backward of relu(batch norm): dy, x, mean, var, γ, β, dx, dγ, dβ
// (oneDNN's batch_normalization primitive was measured too, on [rows, C, 1, 1] nhwc: it picks
// bnorm_tbb_jit:avx2 here and was 1.3–20× slower than these loops; docs/performance.md.)
napi_value BatchNorm(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    size_t argc = 6;
    napi_value argv[6];
    NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
    if (argc < 6) throw std::runtime_error("batchNorm takes 6 arguments");
    int32_t kind;
    NAPI_OK(napi_get_value_int32(env, argv[0], &kind));
    if (kind < 0 || kind > 5) throw std::runtime_error("unknown batchNorm kind");
    Heap h = heap_of(env, argv[1]);
    const double rows_d = number_of(env, argv[2]), c_d = number_of(env, argv[3]);
    if (!(rows_d >= 1) || !(c_d >= 1) || rows_d > 9.0e15 || c_d > 1 << 24 || rows_d != static_cast<int64_t>(rows_d) || c_d != static_cast<int>(c_d))
      throw std::runtime_error("batchNorm: rows and channels must be positive integers");
    const int64_t rows = static_cast<int64_t>(rows_d);
    const int c = static_cast<int>(c_d);
    const double scalar = number_of(env, argv[4]);
    const float eps = static_cast<float>(scalar);
    napi_typedarray_type type;
    size_t len, boff;
    void *data;
    napi_value ab;
    NAPI_OK(napi_get_typedarray_info(env, argv[5], &type, &len, &data, &ab, &boff));
    if (type != napi_float64_array) throw std::runtime_error("batchNorm offsets must be a Float64Array");
    const double *off = static_cast<const double *>(data);
    const size_t big = f32(rows * c), small = f32(c);
    // operand sizes by kind (B = a [rows, C] tensor, S = a [C] one)
    static const char *const layout[] = {"BSS", "BSSSSB", "BBSSSBSS", "BSSSSSS", "BSSSSB", "BBSSSSBSS"};
    const char *l = layout[kind];
    const size_t nops = std::strlen(l);
    if (len < nops) throw std::runtime_error("batchNorm: too few offsets");
    char *o[10];
    for (size_t i = 0; i < nops; i++) {
      o[i] = at(h, off[i], l[i] == 'B' ? big : small);
      const bool optional = (kind == 1 || kind == 4) && (i == 3 || i == 4);
      if (!o[i] && !optional) throw std::runtime_error("batchNorm: missing operand");
    }
    auto F = [&](int i) { return reinterpret_cast<float *>(o[i]); };
    switch (kind) {
      case 0: bn_stats(F(0), rows, c, F(1), F(2)); break;
      case 1: bn_forward(F(0), rows, c, eps, F(1), F(2), F(3), F(4), false, F(5)); break;
      case 4: bn_forward(F(0), rows, c, eps, F(1), F(2), F(3), F(4), true, F(5)); break;
      case 5: bn_backward(F(0), F(1), rows, c, eps, F(2), F(3), F(4), F(5), true, F(6), F(7), F(8)); break;
      case 3:
        bn_stats(F(0), rows, c, F(3), F(4));
        bn_moving(F(3), F(1), c, static_cast<float>(1.0 - scalar), F(5));
        bn_moving(F(4), F(2), c, static_cast<float>(1.0 - scalar), F(6));
        break;
      default: bn_backward(F(0), F(1), rows, c, eps, F(2), F(3), F(4), nullptr, false, F(5), F(6), F(7)); break;
    }
    return nullptr;
  });
}


// optimizerStep(kind, heap, globals Float64Array, vars Float64Array)
//   kind 0 LARS: globals = momentum, eta, weightDecay, eps, clipTrustRatio, nesterov;
//                per variable 8 numbers: size, lr, excluded, w, g, buf, wOut, bufOut (byte offsets)
//   kind 1 EMA:  globals = τ; per variable 4 numbers: size, target, online, out
napi_value OptimizerStep(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    size_t argc = 4;
    napi_value argv[4];
    NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
    if (argc < 4) throw std::runtime_error("optimizerStep takes 4 arguments");
    int32_t kind;
    NAPI_OK(napi_get_value_int32(env, argv[0], &kind));
    if (kind != 0 && kind != 1) throw std::runtime_error("unknown optimizerStep kind");
    Heap h = heap_of(env, argv[1]);
    auto f64 = [&](napi_value v, size_t &len) {
      napi_typedarray_type type;
      size_t boff;
      void *data;
      napi_value ab;
      NAPI_OK(napi_get_typedarray_info(env, v, &type, &len, &data, &ab, &boff));
      if (type != napi_float64_array) throw std::runtime_error("optimizerStep: globals and vars must be Float64Arrays");
      return static_cast<const double *>(data);
    };
    size_t ng, nv;
    const double *gl = f64(argv[2], ng);
    const double *v = f64(argv[3], nv);
    const size_t per = kind == 0 ? 8 : 4;
    if (ng < (kind == 0 ? 6u : 1u) || nv % per != 0) throw std::runtime_error("optimizerStep: wrong number of parameters");
    // check every operand before writing anything
    std::vector<float *> ptr(nv, nullptr);
    for (size_t k = 0; k < nv; k += per) {
      const double size = v[k];
      if (!(size >= 0) || size != static_cast<int64_t>(size)) throw std::runtime_error("optimizerStep: bad size");
      const size_t bytes = f32(static_cast<int64_t>(size));
      for (size_t j = (kind == 0 ? 3 : 1); j < per; j++) {
        ptr[k + j] = reinterpret_cast<float *>(at(h, v[k + j], bytes));
        if (!ptr[k + j]) throw std::runtime_error("optimizerStep: missing operand");
      }
    }
    if (kind == 0) {
      const float mu = static_cast<float>(gl[0]);
      const double eta = gl[1], wd = gl[2], eps = gl[3];
      const bool clip = gl[4] != 0, nesterov = gl[5] != 0;
      for (size_t k = 0; k < nv; k += 8) {
        const int64_t n = static_cast<int64_t>(v[k]);
        const double lr = v[k + 1];
        const bool excluded = v[k + 2] != 0;
        const float *w = ptr[k + 3], *g = ptr[k + 4], *buf = ptr[k + 5];
        float decay = 0.f, trust = 1.f;
        if (!excluded) {
          // ‖w‖ and ‖g‖ rounded to float32, as the tf ops have them
          const float wn = static_cast<float>(std::sqrt(sum_squares(w, n)));
          const float gn = static_cast<float>(std::sqrt(sum_squares(g, n)));
          if (wn > 0 && gn > 0) {
            double t = eta * wn / (gn + wd * wn + eps);
            if (clip && lr > 0) t = std::min(t / lr, 1.0);
            trust = static_cast<float>(t);
            decay = static_cast<float>(wd);
          }
        }
        lars_apply(w, g, buf, n, decay, trust, mu, static_cast<float>(lr), nesterov, ptr[k + 6], ptr[k + 7]);
      }
    } else {
      const float tau = static_cast<float>(gl[0]), one_minus = static_cast<float>(1 - gl[0]);
      for (size_t k = 0; k < nv; k += 4) ema_apply(ptr[k + 1], ptr[k + 2], static_cast<int64_t>(v[k]), tau, one_minus, ptr[k + 3]);
    }
    return nullptr;
  });
}


// elementwise(kind, heap, n, aOff, bOff, outOff[, inner]) over n float32 elements:
//   0 ReLU (a = x), 1 ReLU's gradient (a = dy, b = x), 2 a + b, 3 relu(a + b),
//   4 a · b with b one value per row of `inner` elements (n / inner values; inner 1: same shape)
napi_value Elementwise(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    size_t argc = 7;
    napi_value argv[7];
    NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
    if (argc < 6) throw std::runtime_error("elementwise takes 6 or 7 arguments");
    int32_t kind;
    NAPI_OK(napi_get_value_int32(env, argv[0], &kind));
    if (kind < 0 || kind > 4) throw std::runtime_error("unknown elementwise kind");
    Heap h = heap_of(env, argv[1]);
    const double nd = number_of(env, argv[2]);
    if (!(nd >= 0) || nd > 9.0e15 || nd != static_cast<int64_t>(nd)) throw std::runtime_error("elementwise: bad size");
    const int64_t n = static_cast<int64_t>(nd);
    int64_t inner = 1;
    if (kind == 4) {
      const double id = argc > 6 ? number_of(env, argv[6]) : 1;
      if (!(id >= 1) || id != static_cast<int64_t>(id) || (n > 0 && n % static_cast<int64_t>(id) != 0)) throw std::runtime_error("elementwise: bad row length");
      inner = static_cast<int64_t>(id);
    }
    const float *a = reinterpret_cast<const float *>(at(h, number_of(env, argv[3]), f32(n)));
    const float *b = kind > 0 ? reinterpret_cast<const float *>(at(h, number_of(env, argv[4]), f32(n / inner))) : nullptr;
    float *out = reinterpret_cast<float *>(at(h, number_of(env, argv[5]), f32(n)));
    if (!a || !out || (kind > 0 && !b)) throw std::runtime_error("elementwise: missing operand");
    if (kind == 0) ew_parallel(n, [&](int64_t lo, int64_t hi) { relu_range(a, lo, hi, out); });
    else if (kind == 1) ew_parallel(n, [&](int64_t lo, int64_t hi) { relu_grad_range(a, b, lo, hi, out); });
    else if (kind == 2) ew_parallel(n, [&](int64_t lo, int64_t hi) { add_range(a, b, lo, hi, out); });
    else if (kind == 3) ew_parallel(n, [&](int64_t lo, int64_t hi) { add_relu_range(a, b, lo, hi, out); });
    else ew_parallel(n, [&](int64_t lo, int64_t hi) { mul_rows_range(a, b, inner, lo, hi, out); });
    return nullptr;
  });
}

// pad(heap, params Int32Array: n, h, w, c, then before/after per axis (8), value, xOff, outOff)
napi_value Pad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    size_t argc = 5;
    napi_value argv[5];
    NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
    if (argc < 5) throw std::runtime_error("pad takes 5 arguments");
    Heap h = heap_of(env, argv[0]);
    const int32_t *p = params_of(env, argv[1], 12);
    for (int i = 0; i < 12; i++) {
      if (p[i] < 0) throw std::runtime_error("pad: negative size or padding");
    }
    const float value = static_cast<float>(number_of(env, argv[2]));
    const int64_t in = int64_t{p[0]} * p[1] * p[2] * p[3];
    const int64_t out = (int64_t{p[0]} + p[4] + p[5]) * (int64_t{p[1]} + p[6] + p[7]) * (int64_t{p[2]} + p[8] + p[9]) * (int64_t{p[3]} + p[10] + p[11]);
    const float *x = reinterpret_cast<const float *>(at(h, number_of(env, argv[3]), f32(in)));
    float *y = reinterpret_cast<float *>(at(h, number_of(env, argv[4]), f32(out)));
    if (!x || !y) throw std::runtime_error("pad: missing operand");
    pad4(x, p, value, y);
    return nullptr;
  });
}

// implInfo(kind, params[, alpha]) → the oneDNN implementation a shape runs on ("brg:avx512_core", ...)
napi_value ImplInfo(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    size_t argc = 3;
    napi_value argv[3];
    NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
    int32_t kind;
    NAPI_OK(napi_get_value_int32(env, argv[0], &kind));
    float alpha = argc > 2 ? static_cast<float>(number_of(env, argv[2])) : 0.f;
    std::string impl;
    if (kind == 3) {
      impl = matmul_entry(params_of(env, argv[1], MM_NPARAMS), alpha).impl;
    } else {
      ConvEntry &e = conv_entry(kind, params_of(env, argv[1], CONV_NPARAMS), alpha);
      impl = e.impl + (e.reorder_wei ? " (+weights reorder)" : "");
    }
    napi_value out;
    NAPI_OK(napi_create_string_utf8(env, impl.c_str(), impl.size(), &out));
    return out;
  });
}

const char *isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
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
    case dnnl::cpu_isa::all: return "all";
    default: return "unknown";
  }
}

void set_prop(napi_env env, napi_value obj, const char *name, napi_value v) { napi_set_named_property(env, obj, name, v); }
napi_value str(napi_env env, const std::string &s) {
  napi_value v;
  napi_create_string_utf8(env, s.c_str(), s.size(), &v);
  return v;
}
napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

// info() → { dnnlVersion, cpuRuntime, isa, threads, cachedPrimitives }
napi_value Info(napi_env env, napi_callback_info) {
  return guarded(env, [&]() -> napi_value {
    const dnnl_version_t *v = dnnl_version();
    napi_value obj;
    NAPI_OK(napi_create_object(env, &obj));
    set_prop(env, obj, "dnnlVersion", str(env, std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch)));
    set_prop(env, obj, "dnnlHash", str(env, v->hash ? v->hash : ""));
    const char *rt = v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : v->cpu_runtime == DNNL_RUNTIME_TBB ? "TBB"
                   : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "sequential" : v->cpu_runtime == DNNL_RUNTIME_THREADPOOL ? "threadpool" : "other";
    set_prop(env, obj, "cpuRuntime", str(env, rt));
    set_prop(env, obj, "isa", str(env, isa_name(dnnl::get_effective_cpu_isa())));
    set_prop(env, obj, "threads", num(env, omp_get_max_threads()));
    set_prop(env, obj, "cachedPrimitives", num(env, static_cast<double>(conv_cache.size() + matmul_cache.size())));
    return obj;
  });
}

// setThreads(n): OpenMP threads for the calls that follow (from this, the JS, thread)
napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t n = 0;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) return throw_js(env, "setThreads needs a positive integer");
  omp_set_num_threads(n);
  return nullptr;
}

napi_value ClearCache(napi_env env, napi_callback_info) {
  conv_cache.clear();
  matmul_cache.clear();
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"conv", nullptr, Conv, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matmul", nullptr, Matmul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNorm", nullptr, BatchNorm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"optimizerStep", nullptr, OptimizerStep, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"elementwise", nullptr, Elementwise, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"pad", nullptr, Pad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"implInfo", nullptr, ImplInfo, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"clearCache", nullptr, ClearCache, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
