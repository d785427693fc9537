#include "runtime/reference_forward.h"

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "qkv/gguf.h"

namespace qkv::test {
namespace {

using Mat = std::vector<double>;  // row-major [rows x cols]

struct Reader {
  gguf::File f;
  Mat get(const std::string& name) const {
    const auto* t = f.find_tensor(name);
    if (!t || t->type != TensorType::F32) throw std::runtime_error("reference needs F32 tensor " + name);
    const auto b = f.tensor_data(static_cast<size_t>(t - f.tensors().data()));
    std::vector<float> v(b.size() / 4);
    std::memcpy(v.data(), b.data(), b.size());
    return Mat(v.begin(), v.end());
  }
  bool has(const std::string& name) const { return f.find_tensor(name) != nullptr; }
  uint64_t u(const std::string& key) const { return f.metadata().find(key)->as_u64(); }
};

// y = W x, W stored as GGUF [cols = in, rows = out].
std::vector<double> mv(const Mat& w, const std::vector<double>& x) {
  const size_t in = x.size(), out = w.size() / in;
  std::vector<double> y(out, 0.0);
  for (size_t r = 0; r < out; ++r)
    for (size_t c = 0; c < in; ++c) y[r] += w[r * in + c] * x[c];
  return y;
}

std::vector<double> rms(const std::vector<double>& x, const Mat& w, double eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double s = 1.0 / std::sqrt(ss / x.size() + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s * w[i];
  return y;
}

}  // namespace

std::vector<double> reference_logits(const std::string& path, const std::vector<int32_t>& tokens, ReferenceSums* sums) {
  Reader m{gguf::File::open(path)};
  const auto& md = m.f.metadata();
  const std::string arch = md.get_string("general.architecture");
  if (arch != "llama") throw std::runtime_error("reference forward covers llama only");
  const size_t d = m.u("llama.embedding_length"), L = m.u("llama.block_count"), H = m.u("llama.attention.head_count");
  const size_t Hkv = md.find("llama.attention.head_count_kv") ? m.u("llama.attention.head_count_kv") : H;
  const size_t hd = d / H, n_rot = md.find("llama.rope.dimension_count") ? m.u("llama.rope.dimension_count") : hd;
  const double eps = md.find("llama.attention.layer_norm_rms_epsilon")->as_f64();
  const double base = md.find("llama.rope.freq_base") ? md.find("llama.rope.freq_base")->as_f64() : 10000.0;
  const Mat emb = m.get("token_embd.weight");
  const size_t T = tokens.size();

  std::vector<std::vector<double>> x(T, std::vector<double>(d));
  for (size_t t = 0; t < T; ++t)
    for (size_t i = 0; i < d; ++i) x[t][i] = emb[size_t(tokens[t]) * d + i];

  auto rope = [&](std::vector<double>& v, size_t heads, size_t pos) {
    for (size_t h = 0; h < heads; ++h)
      for (size_t i = 0; i < n_rot / 2; ++i) {
        const double th = pos * std::pow(base, -2.0 * i / n_rot);
        double& a = v[h * hd + 2 * i];
        double& b = v[h * hd + 2 * i + 1];
        const double a0 = a, b0 = b;
        a = a0 * std::cos(th) - b0 * std::sin(th);
        b = a0 * std::sin(th) + b0 * std::cos(th);
      }
  };

  // w . x, first adding x's squares to the sums of matrix `name`.
  auto apply = [&](const std::string& name, const Mat& w, const std::vector<double>& x) {
    if (sums) {
      auto& s = (*sums)[name];
      s.resize(x.size(), 0.0);
      for (size_t i = 0; i < x.size(); ++i) s[i] += x[i] * x[i];
    }
    return mv(w, x);
  };

  for (size_t l = 0; l < L; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const Mat wq = m.get(p + "attn_q.weight"), wk = m.get(p + "attn_k.weight"), wv = m.get(p + "attn_v.weight");
    const Mat wo = m.get(p + "attn_output.weight"), an = m.get(p + "attn_norm.weight"), fn = m.get(p + "ffn_norm.weight");
    const Mat wg = m.get(p + "ffn_gate.weight"), wu = m.get(p + "ffn_up.weight"), wd = m.get(p + "ffn_down.weight");
    std::vector<std::vector<double>> q(T), k(T), v(T);
    for (size_t t = 0; t < T; ++t) {
      const auto h = rms(x[t], an, eps);
      q[t] = apply(p + "attn_q.weight", wq, h), k[t] = apply(p + "attn_k.weight", wk, h), v[t] = apply(p + "attn_v.weight", wv, h);
      rope(q[t], H, t);
      rope(k[t], Hkv, t);
    }
    for (size_t t = 0; t < T; ++t) {
      std::vector<double> att(H * hd, 0.0);
      for (size_t h = 0; h < H; ++h) {
        const size_t g = h / (H / Hkv);
        std::vector<double> s(t + 1);
        double mx = -1e300;
        for (size_t j = 0; j <= t; ++j) {
          double dot = 0;
          for (size_t i = 0; i < hd; ++i) dot += q[t][h * hd + i] * k[j][g * hd + i];
          s[j] = dot / std::sqrt(double(hd));
          mx = std::max(mx, s[j]);
        }
        double z = 0;
        for (double& e : s) z += (e = std::exp(e - mx));
        for (size_t j = 0; j <= t; ++j)
          for (size_t i = 0; i < hd; ++i) att[h * hd + i] += s[j] / z * v[j][g * hd + i];
      }
      const auto o = apply(p + "attn_output.weight", wo, att);
      for (size_t i = 0; i < d; ++i) x[t][i] += o[i];
      const auto h2 = rms(x[t], fn, eps);
      auto g = apply(p + "ffn_gate.weight", wg, h2);
      const auto u = apply(p + "ffn_up.weight", wu, h2);
      for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
      const auto down = apply(p + "ffn_down.weight", wd, g);
      for (size_t i = 0; i < d; ++i) x[t][i] += down[i];
    }
  }
  const auto h = rms(x[T - 1], m.get("output_norm.weight"), eps);
  return mv(m.has("output.weight") ? m.get("output.weight") : emb, h);
}

}  // namespace qkv::test
