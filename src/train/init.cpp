// Starting a run from an existing model (fine-tuning, DPO): its shape, its
// weights in fp32 and its vocabulary, from whatever format qkv can read.
#include <unistd.h>

#include <filesystem>

#include "qkv/convert.h"
#include "qkv/detect.h"
#include "qkv/error.h"
#include "qkv/train.h"

namespace qkv::train {
namespace fs = std::filesystem;

namespace {

Pretrained read_gguf(const std::string& path, int ctx, int threads) {
  const gguf::File f = gguf::File::open(path);
  Shape s = shape_of(f);
  if (ctx > s.ctx)
    throw Error(ErrorKind::Usage, "--ctx " + std::to_string(ctx) + " exceeds the model's context of " +
                                      std::to_string(s.ctx) + " tokens (leave --ctx out to use it)", path);
  if (ctx > 0) s.ctx = ctx;
  Pretrained p;
  p.vocab = std::make_unique<Vocab>(Vocab::from_metadata(f.metadata()));
  if (p.vocab->n_vocab() != s.vocab)
    throw Error(ErrorKind::Format, "the tokenizer has " + std::to_string(p.vocab->n_vocab()) +
                                       " tokens, token_embd.weight " + std::to_string(s.vocab) + " rows", path);
  p.model = std::make_unique<Transformer>(s, threads);
  read_params(f, *p.model);
  return p;
}

}  // namespace

Pretrained load_pretrained(const std::string& path, const std::string& scratch_dir, int ctx, int threads) {
  if (detect_format(path) == FileFormat::GGUF) return read_gguf(path, ctx, threads);
  // Anything else goes through the converter once, to F32 so no weight is
  // rounded on the way: the converter already knows every layout (HF names,
  // the Q/K permutation, tied heads) and tokenizer file that qkv reads.
  fs::create_directories(scratch_dir);
  // Named per process: ranks of a data-parallel run convert side by side.
  const std::string tmp = (fs::path(scratch_dir) / (".init-converted-" + std::to_string(getpid()) + ".gguf")).string();
  ConvertOptions co;
  co.type = "F32", co.threads = threads, co.progress = false;
  convert_to_gguf(path, tmp, co);
  try {
    Pretrained p = read_gguf(tmp, ctx, threads);
    fs::remove(tmp);
    return p;
  } catch (const Error& e) {
    fs::remove(tmp);
    throw Error(e.kind(), e.message() + " (in the F32 GGUF converted from " + path + ")", e.file(), e.tensor(),
                e.offset());
  }
}

}  // namespace qkv::train
