// Token shards: a corpus tokenized once, written as arrays of ids with a
// small header, and mmap'd for training (see train_data.h for the layout).
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "qkv/error.h"
#include "qkv/parallel.h"
#include "qkv/progress.h"
#include "qkv/train_data.h"
#include "train/documents.h"
#include "train/hash.h"

namespace qkv::train {
namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'Q', 'K', 'V', 'T', 'O', 'K', 'S', '1'};
constexpr uint32_t kManifestFormat = 1;

struct Header {
  char magic[8];
  uint32_t width;  // bytes per id
  uint32_t n_vocab;
  uint64_t n;  // ids
  uint64_t fingerprint;
};
static_assert(sizeof(Header) == 32);

std::string shard_name(size_t i) {
  char name[32];
  std::snprintf(name, sizeof name, "shard-%05zu.tok", i);
  return name;
}

std::string hex(uint64_t v) {
  char s[17];
  std::snprintf(s, sizeof s, "%016llx", static_cast<unsigned long long>(v));
  return s;
}

// Collects ids and writes a shard each time shard_tokens of them are ready.
class ShardWriter {
 public:
  ShardWriter(fs::path dir, const Vocab& vocab, uint64_t fingerprint, uint64_t shard_tokens)
      : dir_(std::move(dir)), shard_tokens_(shard_tokens) {
    header_ = {};
    std::memcpy(header_.magic, kMagic, sizeof kMagic);
    header_.width = vocab.n_vocab() <= 65536 ? 2 : 4;
    header_.n_vocab = static_cast<uint32_t>(vocab.n_vocab());
    header_.fingerprint = fingerprint;
  }

  void add(std::span<const int32_t> ids) {
    while (!ids.empty()) {
      const size_t take = std::min<size_t>(ids.size(), shard_tokens_ - pending_.size());
      pending_.insert(pending_.end(), ids.begin(), ids.begin() + take);
      ids = ids.subspan(take);
      if (pending_.size() == shard_tokens_) flush();
    }
  }

  // Writes what is left; returns the manifest's list of shards.
  nlohmann::json finish() {
    flush();
    return shards_;
  }

 private:
  void flush() {
    if (pending_.empty()) return;
    const std::string name = shard_name(shards_.size());
    AtomicFile f((dir_ / name).string());
    Header h = header_;
    h.n = pending_.size();
    f.write(&h, sizeof h);
    if (h.width == 2) {
      std::vector<uint16_t> narrow(pending_.begin(), pending_.end());
      f.write(narrow.data(), narrow.size() * 2);
    } else {
      f.write(pending_.data(), pending_.size() * 4);
    }
    f.commit();
    shards_.push_back({{"file", name}, {"tokens", h.n}});
    pending_.clear();
  }

  fs::path dir_;
  uint64_t shard_tokens_;
  Header header_;
  std::vector<int32_t> pending_;
  nlohmann::json shards_ = nlohmann::json::array();
};

// The fingerprint a manifest in dir records; 0 when there is none to read.
uint64_t manifest_fingerprint(const std::string& dir) {
  std::ifstream in(fs::path(dir) / "manifest.json");
  try {
    return in ? std::stoull(nlohmann::json::parse(in).at("fingerprint").get<std::string>(), nullptr, 16) : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

// Identifies a corpus as prepare() would tokenize it: the files (path, size,
// modification time), the vocabulary and the shard size.
uint64_t fingerprint_of(const std::vector<std::string>& sources, const Vocab& vocab, uint64_t shard_tokens) {
  Fnv64 h;
  h.u64(kManifestFormat).u64(vocab.fingerprint()).u64(shard_tokens);
  for (const std::string& s : sources) {
    const auto time = fs::last_write_time(s).time_since_epoch().count();
    h.str(fs::absolute(s).lexically_normal().string()).u64(fs::file_size(s)).u64(static_cast<uint64_t>(time));
  }
  return h.value();
}

}  // namespace

TokenShards TokenShards::prepare(const std::vector<std::string>& inputs, const Vocab& vocab, const std::string& dir,
                                 int threads, uint64_t shard_tokens) {
  if (shard_tokens == 0) throw Error(ErrorKind::Usage, "shards need room for at least one token");
  const auto sources = list_sources(inputs);
  const uint64_t fingerprint = fingerprint_of(sources, vocab, shard_tokens);
  if (manifest_fingerprint(dir) == fingerprint) {
    try {
      return open(dir);
    } catch (const Error&) {
      // Damaged: tokenize again, over it.
    }
  }
  fs::create_directories(dir);
  uint64_t total_bytes = 0;
  for (const auto& s : sources) total_bytes += fs::file_size(s);

  Progress progress("tokenizing", total_bytes);
  ShardWriter writer(dir, vocab, fingerprint, shard_tokens);
  std::vector<std::string> docs;  // tokenized in parallel, a batch at a time, and written in order
  uint64_t batch_bytes = 0, n_docs = 0, n_tokens = 0;
  auto tokenize_batch = [&] {
    std::vector<std::vector<int32_t>> ids(docs.size());
    parallel_for(static_cast<int64_t>(docs.size()), threads, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) ids[i] = vocab.encode_document(docs[i]);
    });
    for (const auto& d : ids) {
      writer.add(d);
      n_tokens += d.size();
    }
    n_docs += docs.size();
    progress.add(batch_bytes);
    docs.clear();
    batch_bytes = 0;
  };
  for (const auto& s : sources)
    for_each_document(s, [&](std::string_view text) {
      docs.emplace_back(text);
      batch_bytes += text.size();
      if (batch_bytes >= (16u << 20) || docs.size() >= 4096) tokenize_batch();
    });
  tokenize_batch();
  const nlohmann::json manifest = {{"format", kManifestFormat}, {"fingerprint", hex(fingerprint)},
                                   {"vocab", vocab.n_vocab()},  {"documents", n_docs},
                                   {"tokens", n_tokens},        {"shards", writer.finish()}};
  progress.finish();
  {
    const std::string text = manifest.dump(1) + "\n";
    AtomicFile f((fs::path(dir) / "manifest.json").string());
    f.write(text.data(), text.size());
    f.commit();
  }
  // Shards of an earlier, larger corpus are no longer listed: remove them.
  for (size_t i = manifest["shards"].size();; ++i) {
    std::error_code ec;
    if (!fs::remove(fs::path(dir) / shard_name(i), ec)) break;
  }
  return open(dir);
}

TokenShards TokenShards::open(const std::string& dir) {
  const std::string manifest_path = (fs::path(dir) / "manifest.json").string();
  nlohmann::json m;
  try {
    std::ifstream in(manifest_path);
    if (!in) throw Error(ErrorKind::IO, "cannot read the token shards' manifest (tokenize with --data first)",
                         manifest_path);
    m = nlohmann::json::parse(in);
    if (m.at("format").get<uint32_t>() != kManifestFormat)
      throw Error(ErrorKind::Unsupported, "token shards of another format version: tokenize again", manifest_path);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::Format, std::string("not a valid manifest: ") + e.what(), manifest_path);
  }
  TokenShards t;
  try {
    t.fingerprint_ = std::stoull(m.at("fingerprint").get<std::string>(), nullptr, 16);
    t.n_vocab_ = m.at("vocab").get<int32_t>();
    for (const auto& s : m.at("shards")) {
      const std::string path = (fs::path(dir) / s.at("file").get<std::string>()).string();
      Shard sh;
      sh.map = std::make_shared<MappedFile>(path);
      Header h{};
      if (sh.map->size() < sizeof h) throw Error(ErrorKind::Format, "shorter than a shard header", path);
      std::memcpy(&h, sh.map->data(), sizeof h);
      if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0) throw Error(ErrorKind::Format, "not a token shard", path);
      if (h.width != 2 && h.width != 4)
        throw Error(ErrorKind::Format, "ids of " + std::to_string(h.width) + " bytes (2 or 4 expected)", path);
      if (h.fingerprint != t.fingerprint_ || h.n_vocab != static_cast<uint32_t>(t.n_vocab_) ||
          h.n != s.at("tokens").get<uint64_t>())
        throw Error(ErrorKind::Integrity, "the shard does not belong to its manifest (tokenize again)", path);
      if (h.n > (sh.map->size() - sizeof h) / h.width || sizeof h + h.n * h.width != sh.map->size())
        throw Error(ErrorKind::Integrity,
                    "size " + std::to_string(sh.map->size()) + " bytes, the header implies " +
                        std::to_string(sizeof h + h.n * h.width),
                    path);
      sh.ids = sh.map->data() + sizeof h;
      sh.width = h.width;
      sh.n = h.n;
      for (uint64_t i = 0; i < sh.n; ++i) {  // the model trusts every id it is given
        uint32_t id = 0;
        std::memcpy(&id, sh.ids + i * sh.width, sh.width);
        if (id >= h.n_vocab)
          throw Error(ErrorKind::Integrity, "id " + std::to_string(id) + " is outside the vocabulary", path, {},
                      sizeof h + i * sh.width);
      }
      t.shards_.push_back(std::move(sh));
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::Format, std::string("not a valid manifest: ") + e.what(), manifest_path);
  } catch (const std::logic_error&) {  // std::stoull
    throw Error(ErrorKind::Format, "not a valid manifest: the fingerprint is not hexadecimal", manifest_path);
  }
  if (t.shards_.empty()) throw Error(ErrorKind::Format, "the manifest lists no shards (an empty corpus?)", manifest_path);
  return t;
}

uint64_t TokenShards::n_tokens() const {
  uint64_t n = 0;
  for (const auto& s : shards_) n += s.n;
  return n;
}

void TokenShards::read(size_t shard, uint64_t first, uint64_t n, int32_t* out) const {
  const Shard& s = shards_.at(shard);
  if (first > s.n || n > s.n - first) throw Error(ErrorKind::Usage, "read past the end of a token shard");
  for (uint64_t i = 0; i < n; ++i) {
    uint32_t id = 0;
    std::memcpy(&id, s.ids + (first + i) * s.width, s.width);  // little-endian host
    out[i] = static_cast<int32_t>(id);
  }
}

}  // namespace qkv::train
