// Starting a run from an existing model (fine-tuning, DPO): its shape, its
// weights in fp32 and its vocabulary, from whatever the pipeline reads.
#include "qkv/error.h"
#include "qkv/pipeline.h"
#include "qkv/train.h"

namespace qkv::train {

Pretrained load_pretrained(const std::string& path, int ctx, int threads) {
  // A Hugging Face source knows every layout (HF names, the Q/K permutation,
  // tied heads) and tokenizer file that qkv reads, as the converter does.
  const auto src = pipeline::Source::open(path, {}, threads);
  Shape s = shape_of(*src);
  if (ctx > s.ctx)
    throw Error(ErrorKind::Usage, "--ctx " + std::to_string(ctx) + " exceeds the model's context of " +
                                      std::to_string(s.ctx) + " tokens (leave --ctx out to use it)", path);
  if (ctx > 0) s.ctx = ctx;
  Pretrained p;
  p.vocab = std::make_unique<Vocab>(Vocab::from_metadata(src->metadata()));
  if (p.vocab->n_vocab() != s.vocab)
    throw Error(ErrorKind::Format, "the tokenizer has " + std::to_string(p.vocab->n_vocab()) +
                                       " tokens, token_embd.weight " + std::to_string(s.vocab) + " rows", path);
  p.model = std::make_unique<Transformer>(s, threads);
  read_params(*src, *p.model);
  return p;
}

}  // namespace qkv::train
