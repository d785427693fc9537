// The HTML report opened in headless Chromium: the plots' SVG marks are in the
// rendered DOM with a real size on the page, and the screenshot is not blank.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "qkv/analysis.h"
#include "qkv/file.h"
#include "test_support.h"

namespace qkv::analysis {
namespace {

int run(const std::string& cmd, std::string* out) {
  FILE* p = popen((cmd + " 2>/dev/null").c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf;
  std::string s;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) s.append(buf.data(), n);
  const int status = pclose(p);
  if (out) *out = s;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Debian's package installs /usr/bin/chromium (scripts/install-deps.sh).
std::string chromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    std::string path;
    if (run(std::string("command -v ") + name, &path) == 0 && !path.empty()) return path.substr(0, path.find('\n'));
  }
  return "";
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size())) ++n;
  return n;
}

class AnalysisHtml : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto model = test::shared_dir() / "models/gguf-llamacpp-quantized/tiny-llama-F32.gguf";
    if (test::shared_dir().empty() || !std::filesystem::exists(model)) return;
    AnalyzeOptions o;
    o.progress = false;
    o.threads = 2;
    analysis_ = new ModelAnalysis(analyze_model(model.string(), o));
    html_ = new std::string(report_html(*analysis_));
  }
  static void TearDownTestSuite() {
    delete analysis_;
    delete html_;
    analysis_ = nullptr;
    html_ = nullptr;
  }
  void SetUp() override { QKV_REQUIRE_SHARED("models/gguf-llamacpp-quantized"); }
  static ModelAnalysis* analysis_;
  static std::string* html_;
};
ModelAnalysis* AnalysisHtml::analysis_ = nullptr;
std::string* AnalysisHtml::html_ = nullptr;

TEST_F(AnalysisHtml, SelfContainedPageWithEveryPlot) {
  const std::string& h = *html_;
  EXPECT_EQ(h.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(h.find("<title>qkv analyze: tiny-llama-F32.gguf</title>"), std::string::npos);
  // Nothing fetched: no script, no external reference (the SVG namespace is a name, not a fetch).
  EXPECT_EQ(h.find("<script"), std::string::npos);
  EXPECT_EQ(h.find("src="), std::string::npos);
  EXPECT_EQ(h.find("https:"), std::string::npos);
  EXPECT_EQ(count(h, "http:"), count(h, "xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_EQ(h.find("url(http"), std::string::npos);
  // Every plot and its marks.
  EXPECT_EQ(count(h, "<svg id=\"pareto\""), 1u);
  EXPECT_EQ(count(h, "class=\"frontier\""), 1u);
  EXPECT_EQ(count(h, "<circle class=\"recipe\""), analysis_->recipes.size());
  EXPECT_EQ(count(h, "<svg id=\"heatmap\""), 1u);
  EXPECT_EQ(count(h, "<rect class=\"cell\""), 30u);  // 4 layers x 7 matrices, token_embd, output
  EXPECT_EQ(count(h, "<svg class=\"histogram"), analysis_->families.size());
  EXPECT_GT(count(h, "<rect class=\"bar\""), 20 * analysis_->families.size());
  // Axis labels, tooltips and the colour legend.
  EXPECT_NE(h.find("bits per weight"), std::string::npos);
  EXPECT_NE(h.find("SQNR (dB)"), std::string::npos);
  EXPECT_NE(h.find("id=\"heat-scale\""), std::string::npos);
  EXPECT_GT(count(h, "<title>"), 200u);
  EXPECT_NE(h.find("Q4_K_M: "), std::string::npos) << "a recipe's tooltip";
}

TEST_F(AnalysisHtml, ChromiumRendersThePlots) {
  const std::string browser = chromium();
  if (browser.empty()) GTEST_SKIP() << "chromium is not installed (scripts/install-deps.sh installs it)";
  test::TempDir tmp;
  const auto page = tmp / "report.html";
  write_file(page.string(), *html_);
  const std::string flags = " --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir='" +
                            (tmp / "profile").string() + "' ";

  // 1. The page itself: the marks are in the DOM Chromium built.
  std::string dom;
  ASSERT_EQ(run("timeout 120 '" + browser + "'" + flags + "--dump-dom 'file://" + page.string() + "'", &dom), 0);
  EXPECT_EQ(count(dom, "<rect class=\"cell\""), 30u);
  EXPECT_EQ(count(dom, "<circle class=\"recipe\""), analysis_->recipes.size());
  EXPECT_EQ(count(dom, "class=\"frontier\""), 1u);
  EXPECT_EQ(count(dom, "<svg class=\"histogram"), analysis_->families.size());

  // 2. A copy with a probe that counts the marks laid out with a real size.
  std::string probe = *html_;
  const std::string script = R"(<script>
    const shown = s => [...document.querySelectorAll(s)].filter(e => {
      const b = e.getBoundingClientRect(); return b.width > 0 && b.height > 0; }).length;
    const out = document.createElement('pre');
    out.id = 'probe';
    out.textContent = JSON.stringify({pareto: shown('svg#pareto'), frontier: shown('#pareto path.frontier'),
      recipes: shown('#pareto circle.recipe'), labels: shown('#pareto text.recipe-label'),
      cells: shown('#heatmap rect.cell'), legend: shown('#heatmap rect.legend-bar'),
      histograms: shown('svg.histogram'), bars: shown('svg.histogram rect.bar')});
    document.body.appendChild(out);
  </script>)";
  probe.insert(probe.rfind("</body>"), script);
  const auto probe_page = tmp / "probe.html";
  write_file(probe_page.string(), probe);
  ASSERT_EQ(run("timeout 120 '" + browser + "'" + flags + "--dump-dom 'file://" + probe_page.string() + "'", &dom), 0);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom, m, std::regex("<pre id=\"probe\">([^<]*)</pre>"))) << dom.substr(0, 500);
  const auto shown = nlohmann::json::parse(m[1].str());
  EXPECT_EQ(shown["pareto"], 1);
  EXPECT_EQ(shown["frontier"], 1);
  EXPECT_EQ(shown["recipes"].get<size_t>(), analysis_->recipes.size());
  EXPECT_EQ(shown["labels"].get<size_t>(), analysis_->recipes.size());
  EXPECT_EQ(shown["cells"], 30);
  EXPECT_EQ(shown["legend"], 1);
  EXPECT_EQ(shown["histograms"].get<size_t>(), analysis_->families.size());
  EXPECT_GT(shown["bars"].get<size_t>(), 20 * analysis_->families.size());

  // 3. A screenshot: a PNG of the window's size with plots in it, not a blank page.
  const auto png = tmp / "shot.png";
  ASSERT_EQ(run("timeout 120 '" + browser + "'" + flags + "--window-size=1200,1400 --screenshot='" + png.string() +
                    "' 'file://" + page.string() + "'",
                nullptr),
            0);
  ASSERT_TRUE(std::filesystem::exists(png));
  const auto bytes = test::read_bytes(png);
  ASSERT_GT(bytes.size(), 24u);
  EXPECT_EQ(std::string(bytes.begin() + 1, bytes.begin() + 4), "PNG");
  std::string stats;
  const auto script_path = std::filesystem::path(QKV_SOURCE_DIR) / "tests/analysis/png_stats.py";
  if (run("python3 '" + script_path.string() + "' '" + png.string() + "'", &stats) != 0)
    GTEST_SKIP() << "python3 is needed to decode the screenshot";
  std::istringstream in(stats);
  size_t width = 0, height = 0, colours = 0;
  double ink = 0;
  in >> width >> height >> colours >> ink;
  EXPECT_EQ(width, 1200u);
  EXPECT_EQ(height, 1400u);
  EXPECT_GT(colours, 100u) << "plots have many colours (anti-aliased lines, the ramp)";
  EXPECT_GT(ink, 0.05) << "at least 5% of the pixels are not the background";
}

}  // namespace
}  // namespace qkv::analysis
