// DPO's data: preference pairs from JSONL, their token ids, and batches of
// chosen and rejected sequences with the completion positions marked.
#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "qkv/error.h"
#include "qkv/train_dpo.h"

namespace qkv::train {

std::vector<PreferencePair> read_preferences(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_io("cannot open the preference data", path, errno);
  std::vector<PreferencePair> pairs;
  size_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = "line " + std::to_string(line_no) + ": ";
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(ErrorKind::Format, where + "not JSON (" + e.what() + ")", path);
    }
    PreferencePair p;
    for (auto [key, field] : {std::pair{"prompt", &p.prompt}, {"chosen", &p.chosen}, {"rejected", &p.rejected}}) {
      if (!j.is_object() || !j.contains(key) || !j[key].is_string())
        throw Error(ErrorKind::Format,
                    where + "every line needs string \"prompt\", \"chosen\" and \"rejected\" fields; \"" + key +
                        "\" is missing or not a string",
                    path);
      *field = j[key].get<std::string>();
    }
    pairs.push_back(std::move(p));
  }
  if (pairs.empty()) throw Error(ErrorKind::Format, "no preference pairs in the file", path);
  return pairs;
}

PairIds tokenize_pair(const Vocab& vocab, const PreferencePair& p) {
  const Tokenizer& tok = vocab.tokenizer();
  PairIds ids;
  if (tok.add_bos() && tok.bos() != kNoToken) ids.prompt.push_back(tok.bos());
  const auto prompt = tok.encode(p.prompt, false);
  ids.prompt.insert(ids.prompt.end(), prompt.begin(), prompt.end());
  for (auto [text, out] : {std::pair{&p.chosen, &ids.chosen}, {&p.rejected, &ids.rejected}}) {
    *out = tok.encode(*text, false);
    if (tok.eos() != kNoToken) out->push_back(tok.eos());
  }
  return ids;
}

PairBatch make_pair_batch(std::span<const PairIds* const> pairs, int ctx) {
  PairBatch b;
  b.B = static_cast<int>(pairs.size());
  // A row of L ids gives L - 1 positions: inputs ids[0, L-1), targets ids[1, L).
  struct Row {
    std::span<const int32_t> prompt, completion;
  };
  std::vector<Row> rows(2 * pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    const PairIds& p = *pairs[i];
    if (p.prompt.empty() || p.chosen.empty() || p.rejected.empty())
      throw Error(ErrorKind::Usage, "a pair needs a prompt of at least one token (a BOS will do) and non-empty "
                                    "completions");
    const size_t longest = std::max(p.chosen.size(), p.rejected.size()), room = size_t(ctx) + 1;
    const size_t keep_prompt = std::min(p.prompt.size(), std::max<size_t>(1, room > longest ? room - longest : 1));
    const size_t keep_completion = room - keep_prompt;
    b.truncated += keep_prompt < p.prompt.size() || longest > keep_completion;
    const std::span<const int32_t> prompt(p.prompt.end() - static_cast<std::ptrdiff_t>(keep_prompt), p.prompt.end());
    rows[i] = {prompt, std::span(p.chosen).first(std::min(p.chosen.size(), keep_completion))};
    rows[pairs.size() + i] = {prompt, std::span(p.rejected).first(std::min(p.rejected.size(), keep_completion))};
  }
  for (const Row& r : rows) b.T = std::max(b.T, static_cast<int>(r.prompt.size() + r.completion.size()) - 1);
  const size_t T = size_t(b.T);
  b.tokens.assign(rows.size() * T, 0);  // padding: id 0 at the end of a row, never a target that counts
  b.targets.assign(rows.size() * T, 0);
  b.completion.assign(rows.size() * T, 0);
  for (size_t r = 0; r < rows.size(); ++r) {
    std::vector<int32_t> ids(rows[r].prompt.begin(), rows[r].prompt.end());
    ids.insert(ids.end(), rows[r].completion.begin(), rows[r].completion.end());
    for (size_t t = 0; t + 1 < ids.size(); ++t) {
      b.tokens[r * T + t] = ids[t];
      b.targets[r * T + t] = ids[t + 1];
      b.completion[r * T + t] = t + 1 >= rows[r].prompt.size();
    }
  }
  return b;
}

}  // namespace qkv::train
