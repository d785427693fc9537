// Pre-tokenizers: the regexes that cut text into words before BPE merges,
// per tokenizer.ggml.pre value (llama.cpp's table), run with PCRE2 in UTF mode
// with Unicode properties. Where llama.cpp had to rewrite a Hugging Face
// pattern for std::regex, we keep the pattern from tokenizer.json instead.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <map>
#include <memory>
#include <mutex>
#include <new>

#include "model/tokenizer_impl.h"
#include "qkv/error.h"

namespace qkv::tok {

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}

}  // namespace

class Regex {
 public:
  explicit Regex(const std::string& pattern) {
    int err = 0;
    PCRE2_SIZE at = 0;
    // DOLLAR_ENDONLY: `$` is the end of the piece, never "before a final newline" (Rust/Python semantics).
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                          PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &err, &at, nullptr);
    if (!code_)
      throw Error(ErrorKind::Unsupported, "pre-tokenizer regex does not compile at offset " + std::to_string(at) +
                                              ": " + pcre2_message(err) + " (" + pattern + ")");
    pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);  // where JIT is unavailable the interpreter runs
  }
  ~Regex() { pcre2_code_free(code_); }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  const pcre2_code* code() const { return code_; }

 private:
  pcre2_code* code_;
};

namespace {

// Each pattern is compiled once per process; compiled code is immutable and
// PCRE2 allows matching it from many threads at once.
const Regex* compiled(const std::string& pattern) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Regex>> cache;
  std::lock_guard lock(mu);
  auto& slot = cache[pattern];
  if (!slot) slot = std::make_unique<Regex>(pattern);
  return slot.get();
}

// clang-format off
// GPT-2's ByteLevel pattern: contractions, letters, digits, other symbols, each
// with one optional leading space; whitespace runs leave their last space to the next word.
constexpr const char* kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Llama 3: case-insensitive contractions, digits in groups of up to three, newlines kept together.
constexpr const char* kLlama3 = R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|)"
                                R"( ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2: as Llama 3 but every digit on its own.
constexpr const char* kQwen2 = R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|)"
                               R"( ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen3.5: combining marks stay with their letters.
constexpr const char* kQwen35 = R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}|)"
                                R"( ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Tekken (Mistral) and GPT-4o (o200k): words also split where lower case turns upper.
constexpr const char* kTekken = R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|)"
                                R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|)"
                                R"(\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kGpt4o = R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+)"
                               R"((?i:'s|'t|'re|'ve|'m|'ll|'d)?|)"
                               R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*)"
                               R"((?i:'s|'t|'re|'ve|'m|'ll|'d)?|)"
                               R"(\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// BLOOM: anything up to whitespace or sentence punctuation (Latin, CJK, Devanagari, Arabic).
constexpr const char* kBloom = R"( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{0964}\x{06D4}\x{060C})]+)";
constexpr const char* kDigit = R"(\p{N})";
constexpr const char* kDigits = R"(\p{N}+)";
constexpr const char* kThreeDigits = "[0-9][0-9][0-9]";
constexpr const char* kNewline = R"([\r\n])";
// DeepSeek: the cased-letter ranges of its tokenizer.json, written as code points.
constexpr const char* kDeepseekLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF})"
    R"(\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1})"
    R"(\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5})"
    R"(\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A})"
    R"(\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B})"
    R"(\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC})"
    R"(\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107})"
    R"(\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134})"
    R"(\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})"
    R"(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787})"
    R"(\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A})"
    R"(\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2})"
    R"(\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
constexpr const char* kDeepseekPunct =
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";
constexpr const char* kDeepseekCjk = R"([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";
constexpr const char* kDeepseekV3Cjk = R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)";
constexpr const char* kDeepseekV3Words = R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|)"
                                         R"([^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|)"
                                         R"(\s*[\r\n]+|\s+(?!\S)|\s+)";

struct Options {
  bool ignore_merges, add_bos, clean_spaces;
};
constexpr Options kCleanSpaces{false, false, true};  // decode applies clean_up_tokenization_spaces
constexpr Options kKeepSpaces{false, false, false};
constexpr Options kLlama3Options{true, true, true};
constexpr Options kTekkenOptions{true, true, false};

struct Family {
  std::string_view names;  // tokenizer.ggml.pre values, space-separated
  std::vector<std::string> regexes;
  Options options;
};

const std::vector<Family>& families() {
  static const std::vector<Family> table = {
      {"default", {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, kDigits, kThreeDigits}, kCleanSpaces},
      {"llama3 llama-v3 llama-bpe falcon3 falcon-h1 pixtral midm-2.0 lfm2 jina-v5-nano", {kLlama3}, kLlama3Options},
      {"dbrx smaug-bpe", {kLlama3}, kCleanSpaces},
      {"deepseek-llm", {kNewline, kDeepseekLetters, kDeepseekPunct, R"(\s+$)", kDeepseekCjk, kDigits}, kKeepSpaces},
      {"deepseek-coder", {kNewline, R"(\s?\p{L}+)", R"(\s?\p{P}+)", kDeepseekCjk, kDigit}, kKeepSpaces},
      {"deepseek-v3", {R"(\p{N}{1,3})", kDeepseekV3Cjk, kDeepseekV3Words}, kKeepSpaces},
      {"falcon", {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, kThreeDigits}, kCleanSpaces},
      {"starcoder refact codeshell exaone minerva-7b", {kDigit, kGpt2}, kCleanSpaces},
      {"command-r smollm", {kDigit, kGpt2}, kKeepSpaces},
      {"gpt-2 phi-2 jina-es jina-de gigachat jina-v2-es jina-v2-de a.x-4.0 mellum modern-bert mpt olmo jais exaone4",
       {kGpt2}, kCleanSpaces},
      {"trillion granite-docling", {kGpt2}, kKeepSpaces},
      {"qwen2 deepseek-r1-qwen kormo f2llmv2 hunyuan solar-open", {kQwen2}, kKeepSpaces},
      {"stablelm2 megrez", {kQwen2}, kCleanSpaces},
      {"qwen35", {kQwen35}, kKeepSpaces},
      {"poro-chat", {kBloom}, kKeepSpaces},
      {"bloom gpt3-finnish", {kBloom}, kCleanSpaces},
      {"viking", {kBloom, kDigit}, kKeepSpaces},
      {"tekken", {kTekken}, kTekkenOptions},
      {"gpt-4o llama4 kanana2 talkie", {kGpt4o}, kKeepSpaces},
  };
  return table;
}
// clang-format on

bool names_contain(std::string_view names, std::string_view name) {
  while (!names.empty()) {
    const size_t end = names.find(' ');
    if (names.substr(0, end) == name) return true;
    names = end == std::string_view::npos ? std::string_view{} : names.substr(end + 1);
  }
  return false;
}

}  // namespace

PreTokenizer pre_tokenizer(const std::string& name) {
  for (const Family& f : families()) {
    if (!names_contain(f.names, name)) continue;
    PreTokenizer p;
    for (const auto& re : f.regexes) p.regexes.push_back(compiled(re));
    p.ignore_merges = f.options.ignore_merges;
    p.add_bos = f.options.add_bos;
    p.clean_spaces = f.options.clean_spaces;
    return p;
  }
  throw Error(ErrorKind::Unsupported, "tokenizer.ggml.pre '" + name +
                                          "' is not a pre-tokenizer QKV Core knows; supported include default, "
                                          "gpt-2, llama-bpe, qwen2, qwen35, deepseek-llm, deepseek-coder, falcon, "
                                          "mpt, starcoder, refact, command-r, tekken, gpt-4o");
}

void regex_split(std::string_view text, const std::vector<const Regex*>& regexes, std::vector<Span>& pieces) {
  pieces.clear();
  if (text.empty()) return;
  pieces.push_back({0, text.size()});

  using MatchData = std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)>;
  using JitStack = std::unique_ptr<pcre2_jit_stack, decltype(&pcre2_jit_stack_free)>;
  using MatchContext = std::unique_ptr<pcre2_match_context, decltype(&pcre2_match_context_free)>;
  MatchData match(pcre2_match_data_create(1, nullptr), pcre2_match_data_free);
  // The default 32 KiB JIT stack is too small for long words under the
  // case-change patterns (one frame per repetition of a group); allow 8 MiB.
  JitStack stack(pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr), pcre2_jit_stack_free);
  MatchContext context(pcre2_match_context_create(nullptr), pcre2_match_context_free);
  if (!match || !stack || !context) throw std::bad_alloc();
  pcre2_jit_stack_assign(context.get(), nullptr, stack.get());

  std::vector<Span> next;
  for (const Regex* re : regexes) {
    next.clear();
    for (const Span piece : pieces) {
      // The piece alone is the subject, so lookarounds and `$` stop at its edges, as in llama.cpp.
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + piece.begin);
      size_t from = 0, emitted = 0;
      while (from < piece.size) {
        // NO_UTF_CHECK: the caller validated the text once; PCRE2 would otherwise rescan it per call.
        const int rc =
            pcre2_match(re->code(), subject, piece.size, from, PCRE2_NO_UTF_CHECK, match.get(), context.get());
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) throw Error(ErrorKind::Unsupported, "pre-tokenizer regex failed: " + pcre2_message(rc));
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match.get());
        if (ov[1] == ov[0]) {  // an empty match makes no piece; step over one character
          if (ov[0] == piece.size) break;
          from = ov[0] + utf8_len(subject[ov[0]]);
          continue;
        }
        if (ov[0] > emitted) next.push_back({piece.begin + emitted, ov[0] - emitted});
        next.push_back({piece.begin + ov[0], ov[1] - ov[0]});
        emitted = from = ov[1];
      }
      if (emitted < piece.size) next.push_back({piece.begin + emitted, piece.size - emitted});
    }
    pieces.swap(next);
  }
}

}  // namespace qkv::tok
