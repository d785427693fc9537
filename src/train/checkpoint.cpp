// Checkpoints: the exported model plus AdamW's moments and the run's state
// in one GGUF file, written atomically (see train.h).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "qkv/error.h"
#include "qkv/train.h"
#include "train/layout.h"

namespace qkv::train {
namespace {

constexpr uint32_t kFormat = 1;
const std::string kMomentM = "train.adam_m.", kMomentV = "train.adam_v.";

std::span<const uint8_t> bytes_of(std::span<const float> v, const ParamInfo& t) {
  return {reinterpret_cast<const uint8_t*>(v.data() + t.offset), size_t(t.size()) * sizeof(float)};
}

// The test hook train.h describes: a window in which to kill the writer.
void pause_if_asked(const std::string& path) {
  const char* ms = std::getenv("QKV_TRAIN_CHECKPOINT_PAUSE_MS");
  if (!ms || !*ms) return;
  std::fprintf(stderr, "checkpoint: paused mid-write of %s (QKV_TRAIN_CHECKPOINT_PAUSE_MS)\n", path.c_str());
  std::fflush(stderr);
  std::this_thread::sleep_for(std::chrono::milliseconds(std::atol(ms)));
}

}  // namespace

std::string checkpoint_path(const std::string& out_dir) {
  return (std::filesystem::path(out_dir) / "checkpoint.gguf").string();
}

void save_checkpoint(const std::string& path, const RunConfig& run, const TrainState& state, const Vocab& vocab,
                     const Transformer& model, const AdamW& opt) {
  using gguf::Value;
  gguf::Metadata md = model_metadata(model.shape(), vocab, "qkv train checkpoint");
  md.set("train.format", Value::u32(kFormat));
  md.set("train.step", Value::u64(uint64_t(state.step)));
  md.set("train.data.epoch", Value::u64(state.data.epoch));
  md.set("train.data.cursor", Value::u64(state.data.cursor));
  md.set("train.data.fingerprint", Value::u64(state.data_fingerprint));
  md.set("train.seed", Value::u64(run.seed));
  md.set("train.batch", Value::u32(uint32_t(run.batch)));
  md.set("train.grad_accum", Value::u32(uint32_t(run.grad_accum)));
  md.set("train.val_every", Value::u32(uint32_t(run.val_every)));
  md.set("train.lr", Value::f32(run.schedule.lr));
  md.set("train.min_lr", Value::f32(run.schedule.min_lr));
  md.set("train.warmup", Value::u64(uint64_t(run.schedule.warmup)));
  md.set("train.steps", Value::u64(uint64_t(run.schedule.steps)));
  md.set("train.clip", Value::f32(run.clip));
  md.set("train.adamw.beta1", Value::f32(run.adamw.beta1));
  md.set("train.adamw.beta2", Value::f32(run.adamw.beta2));
  md.set("train.adamw.eps", Value::f32(run.adamw.eps));
  md.set("train.adamw.weight_decay", Value::f32(run.adamw.weight_decay));
  md.set("train.adamw.t", Value::u64(uint64_t(opt.updates())));
  if (!run.init.empty()) md.set("train.init", Value::string(run.init));  // where the weights came from

  std::vector<gguf::TensorInfo> infos;
  for (const std::string& prefix : {std::string(), kMomentM, kMomentV})
    for (const auto& t : model.tensors()) infos.push_back({prefix + t.name, gguf_shape(t), TensorType::F32, 0});
  gguf::Writer w(path, md, infos);
  for (const auto& t : model.tensors()) w.write_tensor(bytes_of(model.params(), t));
  pause_if_asked(path);
  for (const auto& t : model.tensors()) w.write_tensor(bytes_of(opt.m(), t));
  for (const auto& t : model.tensors()) w.write_tensor(bytes_of(opt.v(), t));
  w.finish();
}

Checkpoint load_checkpoint(const std::string& path, int threads) {
  const gguf::File f = gguf::File::open(path);
  const gguf::Metadata& md = f.metadata();
  auto value = [&](const std::string& key) -> const gguf::Value& {
    const gguf::Value* v = md.find(key);
    if (!v) throw Error(ErrorKind::Format, "the checkpoint has no key '" + key + "'", path);
    return *v;
  };
  if (!md.find("train.format"))
    throw Error(ErrorKind::Format, "not a training checkpoint (no train.format key): a model file?", path);
  if (value("train.format").as_u64() != kFormat)
    throw Error(ErrorKind::Unsupported, "checkpoint format " + std::to_string(value("train.format").as_u64()) +
                                            " (this build reads " + std::to_string(kFormat) + ")", path);
  auto u64 = [&](const std::string& key) { return value(key).as_u64(); };
  auto f32 = [&](const std::string& key) { return static_cast<float>(value(key).as_f64()); };

  Checkpoint c;
  RunConfig& r = c.run;
  r.shape = shape_of(f);
  r.seed = u64("train.seed");
  r.batch = int(u64("train.batch")), r.grad_accum = int(u64("train.grad_accum")), r.val_every = int(u64("train.val_every"));
  r.schedule = {f32("train.lr"), f32("train.min_lr"), int64_t(u64("train.warmup")), int64_t(u64("train.steps"))};
  r.clip = f32("train.clip");
  r.adamw = {f32("train.adamw.beta1"), f32("train.adamw.beta2"), f32("train.adamw.eps"),
             f32("train.adamw.weight_decay")};
  if (const gguf::Value* init = md.find("train.init")) r.init = init->as_string();
  c.state.step = int64_t(u64("train.step"));
  c.state.data = {u64("train.data.epoch"), u64("train.data.cursor")};
  c.state.data_fingerprint = u64("train.data.fingerprint");

  c.vocab = std::make_unique<Vocab>(Vocab::from_metadata(md));
  if (c.vocab->n_vocab() != r.shape.vocab)
    throw Error(ErrorKind::Format, "the vocabulary has " + std::to_string(c.vocab->n_vocab()) +
                                       " tokens, token_embd.weight " + std::to_string(r.shape.vocab) + " rows", path);
  c.model = std::make_unique<Transformer>(r.shape, threads);
  read_params(f, *c.model);
  c.opt = std::make_unique<AdamW>(r.adamw, c.model->params().size());
  c.opt->set_updates(int64_t(u64("train.adamw.t")));
  for (const auto& [prefix, moment] : {std::pair{kMomentM, c.opt->m()}, std::pair{kMomentV, c.opt->v()}})
    for (const auto& t : c.model->tensors()) {
      const gguf::TensorInfo* info = f.find_tensor(prefix + t.name);
      if (!info || info->type != TensorType::F32 || info->shape != gguf_shape(t))
        throw Error(ErrorKind::Format, "missing, or not F32 of the weight's shape", path, prefix + t.name);
      const auto bytes = f.tensor_data(static_cast<size_t>(info - f.tensors().data()));
      std::memcpy(moment.data() + t.offset, bytes.data(), bytes.size());
    }
  return c;
}

}  // namespace qkv::train
