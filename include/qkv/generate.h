// Text generation: prompt in, tokens streamed out, with stop conditions.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "qkv/sampler.h"
#include "qkv/session.h"
#include "qkv/tokenizer.h"

namespace qkv {

struct GenerateOptions {
  int n_predict = 128;             // < 0: until the context is full
  SamplerParams sampling;
  std::vector<std::string> stop;   // stop strings (not included in the output)
  bool ignore_eos = false;
};

struct GenerateStats {
  int prompt_tokens = 0, generated_tokens = 0;
  double prompt_seconds = 0, generate_seconds = 0;
  std::string stop_reason;  // "eos", "stop string", "length", "context full", "cancelled"
  double prompt_tps() const { return prompt_seconds > 0 ? prompt_tokens / prompt_seconds : 0; }
  double generate_tps() const { return generate_seconds > 0 ? generated_tokens / generate_seconds : 0; }
};

// Evaluates `prompt` in `session` (after whatever it already holds), then
// samples until a stop condition. on_text receives the text as it becomes
// final (whole UTF-8 characters, never a prefix of a stop string); returning
// false cancels.
GenerateStats generate(Session& session, const Tokenizer& tok, const std::vector<int32_t>& prompt,
                       const GenerateOptions& opts, const std::function<bool(std::string_view)>& on_text);

// Generates for several prompts at once, one forward pass per step over all
// unfinished sequences. Sequence i uses seed opts.sampling.seed + i. Greedy
// results equal generate() on each prompt alone.
std::vector<std::string> generate_batch(std::shared_ptr<const Model> model, const Tokenizer& tok,
                                        const std::vector<std::vector<int32_t>>& prompts, const GenerateOptions& opts,
                                        int n_ctx, int threads, GenerateStats* total = nullptr);

}  // namespace qkv
