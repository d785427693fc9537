// Training data: a vocabulary, documents tokenized once into shards of token
// ids (mmap'd while training), and the batches drawn from them in an order
// that a seed fixes and a checkpoint can resume exactly.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qkv/file.h"
#include "qkv/gguf.h"
#include "qkv/tokenizer.h"

namespace qkv::train {

// The vocabulary a model is trained with.
class Vocab {
 public:
  // The built-in byte-level vocabulary: <unk> <s> </s>, then byte b as id 3 + b.
  // As a GGUF vocabulary it is SentencePiece-style ("llama"): byte tokens
  // <0xXX>, except that the space is the normal token U+2581, the way
  // SentencePiece writes spaces; qkv::Tokenizer and llama.cpp then give the
  // same ids as encode_document() for any text that holds no U+2581 itself.
  static Vocab bytes();
  // The tokenizer of a GGUF file (its tokenizer.* keys).
  static Vocab from_gguf(const std::string& path);
  // From tokenizer.* keys, as metadata() writes them (e.g. in a checkpoint).
  static Vocab from_metadata(const gguf::Metadata& md);

  int32_t n_vocab() const { return tokenizer_.n_vocab(); }
  // One document's ids: BOS if the vocabulary adds one, the text, then EOS.
  std::vector<int32_t> encode_document(std::string_view text) const;
  const Tokenizer& tokenizer() const { return tokenizer_; }
  // The tokenizer.* keys, to be written into GGUF files.
  const gguf::Metadata& metadata() const { return metadata_; }
  // Identifies the vocabulary: a hash of its token texts and special ids.
  uint64_t fingerprint() const { return fingerprint_; }

 private:
  Vocab(gguf::Metadata md, bool bytes);
  gguf::Metadata metadata_;
  Tokenizer tokenizer_;
  bool bytes_;
  uint64_t fingerprint_;
};

// The files `inputs` name, in the order they are read: a file as given, a
// folder's *.txt, *.md and *.jsonl files recursively, sorted by path.
// Throws (IO) for a path that does not exist or a folder with no such file.
std::vector<std::string> list_sources(const std::vector<std::string>& inputs);

// Token ids of a corpus, in shards "shard-NNNNN.tok" beside "manifest.json".
// A shard is a 32-byte header (magic "QKVTOKS1", u32 bytes per id (2 or 4),
// u32 vocabulary size, u64 id count, u64 corpus fingerprint; little-endian)
// followed by the ids.
class TokenShards {
 public:
  // Tokenizes every document of `inputs` (a text file is one document, a
  // .jsonl file one per {"text": ...} line; each gets BOS and EOS) into dir,
  // unless dir already holds the shards of the same files (path, size,
  // modification time) and vocabulary. Shards are written atomically, the
  // manifest last, so an interrupted run never leaves a set that looks complete.
  static TokenShards prepare(const std::vector<std::string>& inputs, const Vocab& vocab, const std::string& dir,
                             int threads = 0, uint64_t shard_tokens = uint64_t(1) << 26);
  // Opens the shards in dir; checks every header, size and id.
  static TokenShards open(const std::string& dir);

  uint64_t fingerprint() const { return fingerprint_; }
  int32_t n_vocab() const { return n_vocab_; }
  uint64_t n_tokens() const;
  size_t n_shards() const { return shards_.size(); }
  uint64_t shard_tokens(size_t shard) const { return shards_[shard].n; }
  // Copies ids [first, first + n) of one shard into out.
  void read(size_t shard, uint64_t first, uint64_t n, int32_t* out) const;

 private:
  struct Shard {
    std::shared_ptr<MappedFile> map;
    const uint8_t* ids = nullptr;
    uint32_t width = 0;  // bytes per id
    uint64_t n = 0;
  };
  std::vector<Shard> shards_;
  uint64_t fingerprint_ = 0;
  int32_t n_vocab_ = 0;
};

// B sequences of T tokens and their targets (the next token of each).
struct Batch {
  int B = 0, T = 0;
  std::vector<int32_t> tokens, targets;  // [B x T] each
};

// Cuts the shards into windows of T + 1 ids at multiples of T (T inputs, and
// the same shifted by one as targets; windows never cross shards). Every
// val_every-th window is held out for evaluation; the others are visited in
// a new shuffled order each epoch, the permutation a function of (seed, epoch).
class Batcher {
 public:
  Batcher(const TokenShards& data, int T, uint64_t seed, int val_every = 20);

  int64_t train_windows() const { return static_cast<int64_t>(train_.size()); }
  int64_t val_windows() const { return static_cast<int64_t>(val_.size()); }
  // The next B training windows.
  Batch next(int B);
  // Validation windows [first, first + B), clipped to the last one.
  Batch validation(int64_t first, int B) const;

  // Where the next training window comes from: checkpoints save and restore it.
  struct Position {
    uint64_t epoch = 0, cursor = 0;  // cursor: windows of this epoch already used
    bool operator==(const Position&) const = default;
  };
  Position position() const { return pos_; }
  void seek(Position p);

 private:
  struct Window {
    uint32_t shard;
    uint64_t first;
  };
  void shuffle();
  void fill(const Window& w, int row, Batch& b) const;

  const TokenShards& data_;
  int T_;
  uint64_t seed_;
  std::vector<Window> train_, val_;
  std::vector<uint32_t> order_;  // this epoch's permutation of train_
  Position pos_;
};

}  // namespace qkv::train
