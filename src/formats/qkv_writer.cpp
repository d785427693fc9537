// qkv compress: plans each input file as streams that tile it (tensors with
// their types, everything else as bytes), then encodes chunks on all threads
// a window at a time and writes them in order, so memory stays at a few
// chunks per thread whatever the model's size.
#include <algorithm>
#include <filesystem>

#include "formats/qkv_layout.h"
#include "qkv/detect.h"
#include "qkv/error.h"
#include "qkv/parallel.h"
#include "qkv/progress.h"
#include "qkv/qkv_file.h"
#include "qkv/safetensors.h"

namespace qkv::qkvfile {
namespace {

namespace fs = std::filesystem;

struct Piece {
  std::string name;
  std::optional<TensorType> type;
  uint64_t offset = 0, size = 0;
};

// Tensor chunks hold whole blocks (elements), so block-aware codecs see aligned data.
uint64_t chunk_size_for(std::optional<TensorType> type, uint64_t want) {
  if (!type) return want;
  const uint64_t bb = type_info(*type).block_bytes;
  return std::max(bb, want / bb * bb);
}

// Tensors sorted by offset, with byte streams for whatever lies around them.
std::vector<Stream> plan(uint64_t file_size, std::vector<Piece> tensors, uint64_t chunk, const std::string& path) {
  // An empty tensor may share its offset with the next one: it goes first.
  std::stable_sort(tensors.begin(), tensors.end(), [](const Piece& a, const Piece& b) {
    return a.offset != b.offset ? a.offset < b.offset : a.size < b.size;
  });
  std::vector<Stream> out;
  uint64_t pos = 0;
  std::string prev;
  auto add = [&](std::string name, std::optional<TensorType> type, uint64_t size) {
    Stream s;
    s.name = std::move(name);
    s.type = type;
    s.source_offset = pos;
    s.size = size;
    s.chunk_size = size == 0 ? 0 : chunk_size_for(type, chunk);
    const uint64_t n = size == 0 ? 0 : (size + s.chunk_size - 1) / s.chunk_size;
    s.chunks.resize(n);
    for (uint64_t i = 0; i < n; ++i) s.chunks[i].raw_size = std::min(s.chunk_size, size - i * s.chunk_size);
    out.push_back(std::move(s));
    pos += size;
  };
  for (Piece& t : tensors) {
    if (t.offset < pos || t.size > file_size - t.offset)
      throw Error(ErrorKind::Unsupported, "tensor data overlaps another tensor or the header; run `qkv repair` first",
                  path, t.name, t.offset);
    if (t.offset > pos) add(prev.empty() ? "[header]" : "[bytes after " + prev + "]", {}, t.offset - pos);
    add(t.name, t.type, t.size);
    prev = t.name;
  }
  if (pos < file_size) add(prev.empty() ? "[file]" : "[bytes after " + prev + "]", {}, file_size - pos);
  return out;
}

std::vector<Piece> gguf_pieces(std::span<const uint8_t> b, const std::string& path) {
  const auto f = gguf::File::parse(b, path);
  std::vector<Piece> v;
  for (const auto& t : f.tensors()) v.push_back({t.name, t.type, f.data_offset() + t.offset, t.nbytes()});
  return v;
}

// A dtype without a GGUF type (bool, u32, fp8 ...) is coded as plain bytes.
std::vector<Piece> safetensors_pieces(std::span<const uint8_t> b, const std::string& path) {
  const auto f = safetensors::File::parse(b, path);
  std::vector<Piece> v;
  for (const auto& t : f.tensors())
    v.push_back({t.name, dtype_info(t.dtype).gguf, static_cast<uint64_t>(t.data.data() - b.data()), t.data.size()});
  return v;
}

struct Input {
  MappedFile map;
  Entry entry;
};

Input plan_file(const fs::path& file, std::string rel, uint64_t chunk, bool sniff) {
  Input in{MappedFile(file.string()), {}};
  const auto b = in.map.bytes();
  std::vector<Piece> pieces;
  FileFormat fmt = FileFormat::HFDirectory;  // "neither" for the folder's other files
  if (sniff) {
    try {
      fmt = detect_format(b, file.string());
    } catch (const Error&) {
    }
  } else {
    fmt = detect_format(b, file.string());
  }
  if (fmt == FileFormat::GGUF)
    pieces = gguf_pieces(b, file.string());
  else if (fmt == FileFormat::Safetensors)
    pieces = safetensors_pieces(b, file.string());
  else if (!sniff)
    throw Error(ErrorKind::Unsupported,
                "qkv compress takes a GGUF file, a safetensors file or a Hugging Face folder, not a " +
                    std::string(format_name(fmt)),
                file.string());
  in.entry.path = std::move(rel);
  in.entry.size = b.size();
  in.entry.streams = plan(b.size(), std::move(pieces), chunk, file.string());
  return in;
}

std::vector<Input> plan_inputs(const std::string& in, uint64_t chunk, SourceKind* kind) {
  std::vector<Input> inputs;
  if (detect_format(in) == FileFormat::HFDirectory) {
    *kind = SourceKind::HFDirectory;
    std::vector<fs::path> files;
    for (const auto& de : fs::recursive_directory_iterator(in))
      if (de.is_regular_file()) files.push_back(de.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) inputs.push_back(plan_file(f, fs::relative(f, in).generic_string(), chunk, true));
    return inputs;
  }
  inputs.push_back(plan_file(in, fs::path(in).filename().string(), chunk, false));
  *kind = detect_format(inputs[0].map.bytes(), in) == FileFormat::GGUF ? SourceKind::GGUF : SourceKind::Safetensors;
  return inputs;
}

}  // namespace

void compress(const std::string& in, const std::string& out_path, const CompressOptions& opts) {
  if (opts.chunk_size == 0 || opts.chunk_size > kMaxChunkSize)
    throw Error(ErrorKind::Usage, "chunk size must be 1 byte to " + std::to_string(kMaxChunkSize >> 20) + " MiB");
  SourceKind kind{};
  std::vector<Input> inputs = plan_inputs(in, opts.chunk_size, &kind);

  struct Job {
    Stream* s;
    size_t chunk;
    std::span<const uint8_t> src;
  };
  std::vector<Job> jobs;
  uint64_t total = 0;
  for (Input& input : inputs)
    for (Stream& s : input.entry.streams)
      for (size_t i = 0; i < s.chunks.size(); ++i) {
        jobs.push_back({&s, i, input.map.bytes().subspan(s.source_offset + i * s.chunk_size, s.chunks[i].raw_size)});
        total += s.chunks[i].raw_size;
      }

  AtomicFile out(out_path);
  out.write(layout::header(kind));
  std::vector<std::vector<layout::TableRef>> tables(inputs.size());
  for (size_t e = 0; e < inputs.size(); ++e) tables[e].resize(inputs[e].entry.streams.size());
  std::vector<layout::TableRef*> table_of(jobs.size(), nullptr);  // set at each stream's last chunk
  {
    size_t j = 0;
    for (size_t e = 0; e < inputs.size(); ++e)
      for (size_t s = 0; s < inputs[e].entry.streams.size(); ++s) {
        const size_t n = inputs[e].entry.streams[s].chunks.size();
        tables[e][s].checksum = layout::checksum({});
        j += n;
        if (n) table_of[j - 1] = &tables[e][s];
      }
  }

  const int threads = resolve_threads(opts.threads);
  const size_t window = static_cast<size_t>(threads) * 2;
  std::vector<codec::Encoded> enc(window);
  std::optional<Progress> progress;
  if (opts.progress) progress.emplace("compress", total);
  for (size_t w = 0; w < jobs.size(); w += window) {
    const size_t n = std::min(window, jobs.size() - w);
    parallel_for(static_cast<int64_t>(n), threads, [&](int64_t lo, int64_t hi) {
      for (int64_t k = lo; k < hi; ++k) {
        const Job& job = jobs[w + k];
        enc[k] = codec::encode_chunk(job.src, job.s->type, opts.codec);
        release_mapped_pages(job.src);  // a large model's input must not stay resident
        if (progress) progress->add(job.src.size());
      }
    });
    for (size_t k = 0; k < n; ++k) {
      const Job& job = jobs[w + k];
      out.write_zeros((kAlignment - out.position() % kAlignment) % kAlignment);
      Chunk& ch = job.s->chunks[job.chunk];
      ch.codec = enc[k].codec;
      ch.offset = out.position();
      ch.payload_size = enc[k].payload.size();
      ch.checksum = layout::checksum(enc[k].payload);
      out.write(enc[k].payload);
      std::vector<uint8_t>().swap(enc[k].payload);
      if (layout::TableRef* t = table_of[w + k]) {
        const auto table = layout::chunk_table(*job.s);
        *t = {out.position(), layout::checksum(table)};
        out.write(table);
      }
    }
  }
  if (progress) progress->finish();

  std::vector<Entry> entries;
  for (Input& input : inputs) entries.push_back(std::move(input.entry));
  const auto idx = layout::index(entries, tables);
  const uint64_t index_offset = out.position();
  out.write(idx);
  out.write(layout::trailer({index_offset, idx.size(), layout::checksum(idx)}));
  out.commit();
}

}  // namespace qkv::qkvfile
