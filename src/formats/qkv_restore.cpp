// qkv decompress and loading a GGUF out of a .qkv. Decompression decodes a
// window of chunks on all threads and writes them in order, so memory stays
// at a few chunks per thread; loading decodes straight into one owned buffer
// that the gguf::File then parses and keeps alive.
#include <algorithm>
#include <filesystem>
#include <new>
#include <optional>

#include "qkv/error.h"
#include "qkv/parallel.h"
#include "qkv/progress.h"
#include "qkv/qkv_file.h"

namespace qkv::qkvfile {
namespace {

namespace fs = std::filesystem;

void write_entry(const Reader& r, const Entry& e, const std::string& path, int threads, Progress* progress) {
  struct Job {
    const Stream* s;
    size_t chunk;
  };
  std::vector<Job> jobs;
  for (const Stream& s : e.streams)
    for (size_t i = 0; i < s.chunks.size(); ++i) jobs.push_back({&s, i});
  AtomicFile out(path);
  const size_t window = static_cast<size_t>(threads) * 2;
  std::vector<std::vector<uint8_t>> buf(window);
  for (size_t w = 0; w < jobs.size(); w += window) {
    const size_t n = std::min(window, jobs.size() - w);
    parallel_for(static_cast<int64_t>(n), threads, [&](int64_t lo, int64_t hi) {
      for (int64_t k = lo; k < hi; ++k) {
        const Job& job = jobs[w + k];
        buf[k].resize(job.s->chunks[job.chunk].raw_size);
        r.decode(*job.s, job.chunk, buf[k]);
        if (progress) progress->add(buf[k].size());
      }
    });
    for (size_t k = 0; k < n; ++k) out.write(buf[k]);
  }
  out.commit();
}

// 64-byte aligned storage, like the page-aligned map a GGUF is normally read from.
struct AlignedBuffer {
  explicit AlignedBuffer(size_t n)
      : data(static_cast<uint8_t*>(::operator new (std::max<size_t>(n, 1), std::align_val_t{kAlignment}))), size(n) {}
  ~AlignedBuffer() { ::operator delete (data, std::align_val_t{kAlignment}); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  uint8_t* data;
  size_t size;
};

}  // namespace

void decompress(const std::string& in, const std::string& out, const DecompressOptions& opts) {
  const Reader r = Reader::open(in);
  const int threads = resolve_threads(opts.threads);
  uint64_t total = 0;
  for (const Entry& e : r.entries()) total += e.size;
  std::optional<Progress> progress;
  if (opts.progress) progress.emplace("decompress", total);
  Progress* p = progress ? &*progress : nullptr;
  if (r.source() != SourceKind::HFDirectory) {
    write_entry(r, r.entries().at(0), out, threads, p);
  } else {
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec) throw Error(ErrorKind::IO, "cannot create folder: " + ec.message(), out);
    for (const Entry& e : r.entries()) {
      const fs::path target = fs::path(out) / e.path;
      fs::create_directories(target.parent_path(), ec);
      if (ec) throw Error(ErrorKind::IO, "cannot create folder: " + ec.message(), target.parent_path().string());
      write_entry(r, e, target.string(), threads, p);
    }
  }
  if (p) p->finish();
}

gguf::File load_gguf(const std::string& path, int threads) {
  const Reader r = Reader::open(path);
  if (r.source() != SourceKind::GGUF)
    throw Error(ErrorKind::Unsupported,
                "holds a " + std::string(source_kind_name(r.source())) +
                    ", not a GGUF model; decompress it and convert it with `qkv convert` first",
                path);
  const Entry& e = r.entries().at(0);
  auto buf = std::make_shared<AlignedBuffer>(e.size);
  const std::span<uint8_t> bytes(buf->data, buf->size);
  r.restore(e, bytes, threads);
  return gguf::File::parse_owned(buf, bytes, path);
}

}  // namespace qkv::qkvfile
