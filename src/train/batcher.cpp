// Batches from token shards: fixed windows, a held-out share for
// evaluation, and a seeded shuffle per epoch that a checkpoint can resume.
#include "qkv/error.h"
#include "qkv/train_data.h"
#include "train/rng.h"

namespace qkv::train {

Batcher::Batcher(const TokenShards& data, int T, uint64_t seed, int val_every)
    : data_(data), T_(T), seed_(seed) {
  if (T <= 0) throw Error(ErrorKind::Usage, "sequences need at least one token");
  if (val_every == 1 || val_every < 0)
    throw Error(ErrorKind::Usage, "val_every must be 0 (no evaluation) or at least 2");
  uint64_t w = 0;
  for (size_t s = 0; s < data.n_shards(); ++s)
    for (uint64_t first = 0; first + T + 1 <= data.shard_tokens(s); first += T, ++w)
      (val_every > 0 && w % val_every == uint64_t(val_every) - 1 ? val_ : train_).push_back({uint32_t(s), first});
  if (train_.empty())
    throw Error(ErrorKind::Usage, "the corpus has " + std::to_string(data.n_tokens()) +
                                      " tokens: too few for a window of --ctx + 1 = " + std::to_string(T + 1) +
                                      " (use more data or a smaller --ctx)");
  if (train_.size() > UINT32_MAX) throw Error(ErrorKind::Unsupported, "more than 2^32 training windows");
  shuffle();
}

void Batcher::shuffle() {
  // Fisher-Yates with the epoch's own stream: the order is a function of (seed, epoch) alone.
  order_.resize(train_.size());
  for (size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<uint32_t>(i);
  Rng rng = Rng::stream(seed_, 1 + pos_.epoch);
  for (size_t i = order_.size() - 1; i > 0; --i) std::swap(order_[i], order_[rng.below(i + 1)]);
}

void Batcher::seek(Position p) {
  if (p.cursor > train_.size())
    throw Error(ErrorKind::Integrity, "data position " + std::to_string(p.cursor) + " is past the " +
                                          std::to_string(train_.size()) + " training windows");
  const bool new_epoch = p.epoch != pos_.epoch;
  pos_ = p;
  if (new_epoch) shuffle();
}

void Batcher::fill(const Window& w, int row, Batch& b) const {
  std::vector<int32_t> ids(static_cast<size_t>(T_) + 1);
  data_.read(w.shard, w.first, ids.size(), ids.data());
  std::copy(ids.begin(), ids.end() - 1, b.tokens.begin() + int64_t(row) * T_);
  std::copy(ids.begin() + 1, ids.end(), b.targets.begin() + int64_t(row) * T_);
}

Batch Batcher::next(int B) {
  Batch b{B, T_, std::vector<int32_t>(size_t(B) * T_), std::vector<int32_t>(size_t(B) * T_)};
  for (int row = 0; row < B; ++row) {
    if (pos_.cursor == order_.size()) {
      ++pos_.epoch;
      pos_.cursor = 0;
      shuffle();
    }
    fill(train_[order_[pos_.cursor++]], row, b);
  }
  return b;
}

Batch Batcher::validation(int64_t first, int B) const {
  const int n = static_cast<int>(std::clamp<int64_t>(val_windows() - first, 0, B));
  Batch b{n, T_, std::vector<int32_t>(size_t(n) * T_), std::vector<int32_t>(size_t(n) * T_)};
  for (int row = 0; row < n; ++row) fill(val_[first + row], row, b);
  return b;
}

}  // namespace qkv::train
