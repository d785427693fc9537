// qkv inspect: what is in a GGUF file -- metadata and a tensor table.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "qkv/gguf.h"
#include "qkv/qkv_file.h"

namespace qkv::cli {
namespace {

nlohmann::json value_json(const gguf::Value& v, size_t max_items) {
  using gguf::ValueType;
  switch (v.type) {
    case ValueType::STRING: return v.str;
    case ValueType::BOOL: return v.as_bool();
    case ValueType::F32: case ValueType::F64: return v.as_f64();
    case ValueType::U64: return v.bits;
    case ValueType::ARRAY: {
      nlohmann::json a = nlohmann::json::array();
      for (size_t i = 0; i < v.items.size() && i < max_items; ++i) a.push_back(value_json(v.items[i], max_items));
      return a;
    }
    default: return v.as_i64();
  }
}

std::string shape_string(const std::vector<uint64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? " x " : "") + std::to_string(shape[i]);
  return s;
}

std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b >= 1ull << 30) std::snprintf(buf, sizeof buf, "%.2f GiB", b / double(1ull << 30));
  else if (b >= 1ull << 20) std::snprintf(buf, sizeof buf, "%.2f MiB", b / double(1ull << 20));
  else if (b >= 1ull << 10) std::snprintf(buf, sizeof buf, "%.1f KiB", b / double(1ull << 10));
  else std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  return buf;
}

// A .qkv: per file, each stream's codec choices, ratio, and every codec's trial size.
int run_qkv(const std::string& path, bool json) {
  const auto r = qkvfile::Reader::open(path);
  nlohmann::json j = {{"file", path},
                      {"format", "qkv"},
                      {"source", qkvfile::source_kind_name(r.source())},
                      {"file_size", r.bytes().size()},
                      {"files", nlohmann::json::array()}};
  if (!json)
    std::printf("%s: .qkv of a %s, %zu file(s), %s\n", path.c_str(),
                std::string(qkvfile::source_kind_name(r.source())).c_str(), r.entries().size(),
                human_bytes(r.bytes().size()).c_str());
  for (const auto& e : r.entries()) {
    nlohmann::json streams = nlohmann::json::array();
    uint64_t payload = 0;
    if (!json)
      std::printf("\n%s (%s)\n  %-36s %-6s %10s %8s  %-22s %s\n", e.path.c_str(), human_bytes(e.size).c_str(), "stream",
                  "type", "bytes", "ratio", "chunks by codec", "trials raw/dict256/planes/fields");
    for (const auto& rep : qkvfile::inspect(r, e)) {
      const auto& s = *rep.stream;
      payload += rep.payload;
      std::string codecs, trials;
      nlohmann::json jt = nlohmann::json::object(), jc = nlohmann::json::object();
      for (const auto c : codec::kAllCodecs) {
        const size_t i = static_cast<size_t>(c);
        const std::string name(codec::codec_name(c));
        if (rep.codec_chunks[i])
          codecs += (codecs.empty() ? "" : " ") + name + ":" + std::to_string(rep.codec_chunks[i]);
        if (rep.codec_chunks[i]) jc[name] = rep.codec_chunks[i];
        char t[24];
        if (rep.trials[i] && s.size)
          std::snprintf(t, sizeof t, "%.1f%%", 100.0 * *rep.trials[i] / s.size);
        else
          std::snprintf(t, sizeof t, "-");
        trials += (trials.empty() ? "" : " ") + std::string(t);
        jt[name] = rep.trials[i] ? nlohmann::json(*rep.trials[i]) : nlohmann::json(nullptr);
      }
      const double ratio = s.size ? 100.0 * rep.payload / s.size : 100.0;
      const std::string type = s.type ? std::string(type_name(*s.type)) : "bytes";
      if (json)
        streams.push_back({{"name", s.name},
                           {"type", type},
                           {"bytes", s.size},
                           {"compressed", rep.payload},
                           {"chunks", s.chunks.size()},
                           {"codecs", jc},
                           {"trials", jt}});
      else
        std::printf("  %-36s %-6s %10llu %7.1f%%  %-22s %s\n", s.name.c_str(), type.c_str(),
                    static_cast<unsigned long long>(s.size), ratio, codecs.c_str(), trials.c_str());
    }
    if (json)
      j["files"].push_back({{"path", e.path}, {"bytes", e.size}, {"compressed", payload}, {"streams", streams}});
    else
      std::printf("  total: %s -> %s of payload (%.2f%%)\n", human_bytes(e.size).c_str(), human_bytes(payload).c_str(),
                  e.size ? 100.0 * payload / e.size : 100.0);
  }
  if (json) std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  return 0;
}

int run(const std::string& path, bool json, bool full) {
  if (qkvfile::is_qkv(MappedFile(path).bytes())) return run_qkv(path, json);
  const auto f = gguf::File::open(path, {.strict_layout = false});
  const size_t max_items = full ? SIZE_MAX : 8;
  uint64_t total_bytes = 0, total_elems = 0;
  for (const auto& t : f.tensors()) total_bytes += t.nbytes(), total_elems += t.n_elements();

  if (json) {
    nlohmann::json j;
    j["file"] = path;
    j["format"] = "gguf";
    j["version"] = f.version();
    j["alignment"] = f.alignment();
    j["data_offset"] = f.data_offset();
    j["file_size"] = f.bytes().size();
    nlohmann::json md = nlohmann::json::object();
    for (const auto& [k, v] : f.metadata().entries()) {
      md[k]["type"] = v.type == gguf::ValueType::ARRAY
                          ? "array<" + std::string(gguf::value_type_name(v.elem_type)) + ">"
                          : std::string(gguf::value_type_name(v.type));
      md[k]["value"] = value_json(v, max_items);
      if (v.type == gguf::ValueType::ARRAY) md[k]["length"] = v.items.size();
    }
    j["metadata"] = md;
    nlohmann::json ts = nlohmann::json::array();
    for (const auto& t : f.tensors())
      ts.push_back({{"name", t.name}, {"type", type_name(t.type)}, {"shape", t.shape},
                    {"bytes", t.nbytes()}, {"offset", f.data_offset() + t.offset}});
    j["tensors"] = ts;
    j["tensor_bytes"] = total_bytes;
    j["parameters"] = total_elems;
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }

  std::printf("%s: GGUF v%u, %zu metadata keys, %zu tensors, %s (alignment %llu, data at offset %llu)\n",
              path.c_str(), f.version(), f.metadata().size(), f.tensors().size(),
              human_bytes(f.bytes().size()).c_str(), static_cast<unsigned long long>(f.alignment()),
              static_cast<unsigned long long>(f.data_offset()));
  std::printf("\nmetadata\n");
  for (const auto& [k, v] : f.metadata().entries()) {
    std::string type = v.type == gguf::ValueType::ARRAY
                           ? "[" + std::string(gguf::value_type_name(v.elem_type)) + "]"
                           : std::string(gguf::value_type_name(v.type));
    std::printf("  %-42s %-8s %s\n", k.c_str(), type.c_str(), v.to_string(max_items).c_str());
  }
  if (!f.tensors().empty()) {
    std::printf("\n  %-4s %-40s %-8s %-22s %12s %12s\n", "#", "tensor", "type", "shape", "bytes", "offset");
    size_t i = 0;
    for (const auto& t : f.tensors())
      std::printf("  %-4zu %-40s %-8s %-22s %12llu %12llu\n", i++, t.name.c_str(),
                  std::string(type_name(t.type)).c_str(), shape_string(t.shape).c_str(),
                  static_cast<unsigned long long>(t.nbytes()),
                  static_cast<unsigned long long>(f.data_offset() + t.offset));
    const double bpw = total_elems ? 8.0 * total_bytes / total_elems : 0;
    std::printf("\n%llu parameters, %s of tensor data, %.3f bits per weight\n",
                static_cast<unsigned long long>(total_elems), human_bytes(total_bytes).c_str(), bpw);
  }
  return 0;
}

}  // namespace

Runner add_inspect(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Show a model file's metadata and tensor table");
  cmd->footer("Example:\n  qkv inspect model.gguf\n  qkv inspect model.gguf --json | jq '.tensors[0]'");
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto full = std::make_shared<bool>(false);
  cmd->add_option("FILE", *path, "GGUF or .qkv file")->required()->check(CLI::ExistingFile);
  cmd->add_flag("--json", *json, "Print JSON for machines instead of tables");
  cmd->add_flag("--full", *full, "Print long arrays (vocabularies ...) in full");
  return [=] { return run(*path, *json, *full); };
}

}  // namespace qkv::cli
