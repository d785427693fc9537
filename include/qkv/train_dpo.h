// Direct Preference Optimisation (Rafailov et al., 2023) of a llama, as TRL's
// DPOTrainer computes it with loss_type="sigmoid" and label_smoothing 0:
//
//   log pi(y)  = the sum of log p(token | everything before it) over the
//                completion y's tokens (its EOS included); prompt tokens are masked
//   z          = beta * ((log pi(chosen) - log pi(rejected)) - (log ref(chosen) - log ref(rejected)))
//   loss       = the mean over the batch of -log sigmoid(z)
//   rewards    chosen = beta * (log pi(chosen) - log ref(chosen)), rejected likewise;
//              accuracy = mean(chosen > rejected), margin = mean(chosen - rejected)
//
// pi is the policy being trained, ref a frozen reference (the initial weights
// unless another model is given). The reference's log-probabilities are
// computed once, before the first step. d(loss)/d(log pi) is one number per
// sequence, so the gradient is one backward pass of the per-token weighted
// log-probabilities (Transformer::forward_backward_logprobs).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "qkv/train.h"

namespace qkv::train {

struct PreferencePair {
  std::string prompt, chosen, rejected;
};
// JSONL, one {"prompt": ..., "chosen": ..., "rejected": ...} per line (blank
// lines skipped); throws (Format) naming the line of a malformed one.
std::vector<PreferencePair> read_preferences(const std::string& path);

// Token ids as TRL makes them: the prompt with the BOS the vocabulary asks
// for, each completion tokenized on its own and followed by EOS.
struct PairIds {
  std::vector<int32_t> prompt, chosen, rejected;
};
PairIds tokenize_pair(const Vocab& vocab, const PreferencePair& p);

// 2B sequences of the pairs of a batch: row i is pair i's prompt + chosen,
// row B + i its prompt + rejected, padded to the longest (T <= ctx).
// completion[n] is 1 where the target of position n is a completion token.
struct PairBatch {
  int B = 0, T = 0;
  std::vector<int32_t> tokens, targets;  // [2B x T]
  std::vector<uint8_t> completion;       // [2B x T]
  int truncated = 0;                     // pairs cut to fit
};
// A pair longer than ctx + 1 tokens loses the start of its prompt (TRL's
// "keep_end"; one token stays), then the ends of its completions.
PairBatch make_pair_batch(std::span<const PairIds* const> pairs, int ctx);

// log pi of each of the 2B rows: the sums of their completion log-probabilities.
std::vector<double> sequence_logprobs(Transformer& model, const PairBatch& b);

struct DpoStats {
  double loss = 0, accuracy = 0, margin = 0, chosen_reward = 0, rejected_reward = 0;
};
// The loss and rewards of n pairs from log pi and log ref of their 2n rows
// (chosen rows first, as in PairBatch); dpolicy, when given, receives
// d(loss)/d(log pi) of every row.
DpoStats dpo_loss(std::span<const double> policy, std::span<const double> ref, float beta,
                  std::vector<double>* dpolicy = nullptr);
// One forward and backward pass of the policy over a batch: adds
// d(loss)/d(params) to policy.grads(). ref: log ref of the batch's rows.
DpoStats dpo_forward_backward(Transformer& policy, const PairBatch& b, std::span<const double> ref, float beta);

struct DpoOptions {
  std::string init;              // the policy's initial weights (see load_pretrained)
  std::string ref;               // the reference; empty: the initial weights
  std::string data;              // preference pairs, JSONL
  std::string out_dir;           // model.gguf at the end; scratch space for conversions
  float beta = 0.1f;
  int batch = 8;                 // pairs per step
  Schedule schedule{1e-6f, 0.0f, 0, 100};
  AdamWConfig adamw{0.9f, 0.999f, 1e-8f, 0.0f};  // Hugging Face Trainer's defaults
  float clip = 1.0f;
  uint64_t seed = 1;             // the order of the pairs
  int val_every = 0;             // hold every Nth pair out for evaluation (0: none)
  int64_t eval_every = 0;        // evaluate every N steps and at the end (0: only at the end)
  int ctx = 0;                   // longest sequence; 0: the model's context
  int threads = 0;               // 0: all cores
  std::string log_path;          // JSONL of every step and evaluation; empty: none
  std::string export_path;       // a copy of the final model elsewhere; empty: none
};

struct DpoResult {
  int64_t step = 0;
  DpoStats last;        // of the last step
  DpoStats eval;        // of the last evaluation on held-out pairs
  bool evaluated = false;
  std::string model_path;  // out_dir/model.gguf
};
DpoResult dpo(const DpoOptions& options);

}  // namespace qkv::train
