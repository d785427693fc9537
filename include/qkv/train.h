// Training a llama from text: the training step, checkpoints that resume bit
// for bit, export to GGUF, and the loop that ties them together (`qkv train`).
//
// A checkpoint is itself a GGUF file: the model exactly as export_gguf()
// writes it (so `qkv run` can load it), plus the AdamW moments as tensors
// "train.adam_m.<name>" / "train.adam_v.<name>" and train.* keys for the
// step, the data position and every setting that shapes the run.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "qkv/gguf.h"
#include "qkv/hparams.h"
#include "qkv/pipeline.h"
#include "qkv/train_data.h"
#include "qkv/train_model.h"
#include "qkv/train_optim.h"

namespace qkv::train {

struct StepStats {
  float loss = 0;        // mean over the micro-batches
  double grad_norm = 0;  // before clipping
  float lr = 0;
};
// One optimizer step: zero the gradients, forward and backward over each
// micro-batch (gradient accumulation: each adds 1/n of its mean loss), clip
// to the global norm `clip` (0: none), then one AdamW update at lr.
StepStats train_step(Transformer& model, AdamW& opt, std::span<const Batch> micro_batches, float lr, float clip);

// The settings that shape a run. A checkpoint stores them and --resume takes
// them from it, so a resumed run is the run that was interrupted.
struct RunConfig {
  // With `init`, the shape is the model's and only ctx is read: 0 keeps the
  // model's context, a smaller one trains on (and exports) shorter sequences.
  Shape shape;
  std::string init;  // the model the run started from (load_pretrained); "" for random weights
  int batch = 8, grad_accum = 1;  // sequences per micro-batch, micro-batches per step
  Schedule schedule;
  AdamWConfig adamw;
  float clip = 1.0f;
  uint64_t seed = 1;
  int val_every = 20;  // every val_every-th window is held out for evaluation
};

struct TrainOptions {
  RunConfig run;                  // ignored with resume: the checkpoint's is used
  std::vector<std::string> data;  // text files, folders, JSONL; optional with resume
  std::string vocab;              // a GGUF whose tokenizer to use; empty: the byte vocabulary
  std::string out_dir;            // checkpoint.gguf, data/ (the shards)
  bool resume = false;            // continue from out_dir/checkpoint.gguf
  int64_t stop_at = 0;            // stop after this step (0: the end of the schedule)
  int64_t eval_every = 100;       // evaluate every N steps and at the end (0: never)
  int64_t eval_batches = 8;       // held-out batches per evaluation, at most
  int64_t save_every = 500;       // checkpoint every N steps (0: only at the end)
  int threads = 0;                // 0: all cores
  std::string log_path;           // JSONL of every step and evaluation; empty: none
  std::string export_path;        // GGUF written at the end; empty: none
};

struct TrainResult {
  int64_t step = 0;        // steps done in all
  float loss = 0;          // of the last step
  float eval_loss = -1;    // of the last evaluation (-1: none)
  double tokens_per_s = 0;  // of this invocation
};
// Prepares the data (once), then trains until stop_at or the end of the
// schedule, saving a checkpoint every save_every steps and at the end.
TrainResult train(const TrainOptions& options);

// Where train() keeps its checkpoint.
std::string checkpoint_path(const std::string& out_dir);

// What resume needs besides the weights and moments.
struct TrainState {
  int64_t step = 0;
  Batcher::Position data;
  uint64_t data_fingerprint = 0;
};

struct Checkpoint {
  RunConfig run;
  TrainState state;
  std::unique_ptr<Vocab> vocab;
  std::unique_ptr<Transformer> model;
  std::unique_ptr<AdamW> opt;
};

// Writes atomically (a temp file beside it, fsync, rename): the previous
// checkpoint stays whole until the new one has replaced it. The environment
// variable QKV_TRAIN_CHECKPOINT_PAUSE_MS makes the writer stop that long
// halfway, after saying so on stderr (tests kill the process there).
void save_checkpoint(const std::string& path, const RunConfig& run, const TrainState& state, const Vocab& vocab,
                     const Transformer& model, const AdamW& opt);
Checkpoint load_checkpoint(const std::string& path, int threads = 0);

// A model to start from: fine-tuning (RunConfig::init) and DPO.
struct Pretrained {
  std::unique_ptr<Vocab> vocab;
  std::unique_ptr<Transformer> model;
};
// path: anything the pipeline reads (qkv/pipeline.h): a GGUF llama, float or
// quantized (dequantized to fp32; a trainer checkpoint or export is one), a
// .qkv holding one, or a Hugging Face folder or PyTorch checkpoint, read
// tensor by tensor with no file written. The shape and vocabulary are the
// model's; ctx > 0 shortens the context (a longer one is refused), 0 keeps it.
Pretrained load_pretrained(const std::string& path, int ctx, int threads);

// The model as a GGUF "llama" file with F32 weights and the vocabulary's
// tokenizer block: loadable by qkv::Model and llama.cpp.
void export_gguf(const std::string& path, const Transformer& model, const Vocab& vocab,
                 const std::string& name = "qkv-trained");
// The hyperparameters of a trainer's llama, as a GGUF states them.
Hparams to_hparams(const Shape& shape);
// The llama.* and tokenizer.* metadata export_gguf() writes.
gguf::Metadata model_metadata(const Shape& shape, const Vocab& vocab, const std::string& name);
// The shape a llama's metadata and token_embd / output tensors give.
Shape shape_of(const pipeline::Source& f);
Shape shape_of(const gguf::File& f);
// Fills model's parameters from a llama's tensors of the same names,
// dequantizing where stored quantized; throws (Format) for a missing tensor
// or a shape that differs.
void read_params(const pipeline::Source& f, Transformer& model);
void read_params(const gguf::File& f, Transformer& model);

}  // namespace qkv::train
