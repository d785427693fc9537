// qkv analyze: what a model's weights look like and what each quantization
// type would do to them; a table, JSON, or an HTML page with plots.
#include <cstdio>
#include <sstream>

#include "commands.h"
#include "qkv/analysis.h"
#include "qkv/error.h"
#include "qkv/file.h"

namespace qkv::cli {
namespace {

struct Args {
  std::string model, imatrix, html, types, sensitivity = "Q3_K";
  bool json = false, no_codecs = false;
  uint64_t sample = 1u << 20;
  int threads = 0;
};

TensorType parse_type(const std::string& flag, const std::string& name) {
  if (auto t = type_from_name(name)) return *t;
  throw Error(ErrorKind::Usage, flag + ": unknown tensor type '" + name + "'");
}

int run(const Args& a) {
  analysis::AnalyzeOptions o;
  o.imatrix_path = a.imatrix;
  o.sample = a.sample;
  o.threads = a.threads;
  o.codecs = !a.no_codecs;
  o.sensitivity_type = parse_type("--sensitivity-type", a.sensitivity);
  std::stringstream list(a.types);
  for (std::string item; std::getline(list, item, ',');)
    if (!item.empty()) o.types.push_back(parse_type("--types", item));
  const auto r = analysis::analyze_model(a.model, o);
  if (!a.html.empty()) write_file(a.html, analysis::report_html(r));
  const std::string out = a.json ? analysis::report_json(r) : analysis::report_text(r);
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (!a.html.empty() && !a.json) std::printf("\nwrote %s\n", a.html.c_str());
  return 0;
}

}  // namespace

Runner add_analyze(CLI::App& app) {
  auto* cmd = app.add_subcommand("analyze", "Weight statistics, quantization errors per type, and the size/error frontier");
  cmd->footer(
      "For every tensor: shape, type, parameters; mean, standard deviation, kurtosis, max |w| / std, the\n"
      "fractions beyond 6 std and of exact zeros; the entropy of its 16-bit values and of their exponent\n"
      "byte beside what the .qkv codecs reach; and for every type whose block divides the row, bits per\n"
      "weight and the relative squared error of quantize -> dequantize as SQNR in dB (weighted by the\n"
      "importance matrix with --imatrix). Then per-layer sensitivity (SQNR at --sensitivity-type) and the\n"
      "model's frontier of size against predicted error (the parameter-weighted mean of the tensors'\n"
      "relative errors), with llama.cpp's recipes Q2_K ... Q8_0 on it.\n\n"
      "Errors are measured on a deterministic sample: at most --sample weights of whole rows per tensor,\n"
      "evenly spaced (0: every row). Statistics, entropies and codec sizes always use every weight.\n\n"
      "Examples:\n  qkv analyze model.gguf\n"
      "  qkv analyze model.gguf --imatrix imatrix.gguf --html report.html\n"
      "  qkv analyze model.gguf --json --types Q4_K,Q6_K,Q8_0 > analysis.json");
  auto a = std::make_shared<Args>();
  cmd->add_option("MODEL", a->model, "GGUF model (or a .qkv holding one)")->required();
  cmd->add_option("--imatrix", a->imatrix, "Importance matrix from llama-imatrix (GGUF or legacy .dat)");
  cmd->add_option("--html", a->html, "Also write one self-contained HTML page with the plots");
  cmd->add_flag("--json", a->json, "Print JSON instead of the table");
  cmd->add_option("--types", a->types,
                  "Comma-separated types for the tables and the frontier (default: every type qkv writes but "
                  "F32); the recipes' own types are measured as well");
  cmd->add_option("--sample", a->sample, "At most this many weights per tensor for the errors, whole rows (0: all)")
      ->capture_default_str();
  cmd->add_option("--sensitivity-type", a->sensitivity, "The type of the per-layer sensitivity heat map")
      ->capture_default_str();
  cmd->add_flag("--no-codecs", a->no_codecs, "Skip the .qkv codecs (the slowest measurement)");
  cmd->add_option("-t,--threads", a->threads, "Threads (default: all cores)");
  return [a] { return run(*a); };
}

}  // namespace qkv::cli
