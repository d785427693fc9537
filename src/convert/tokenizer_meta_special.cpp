// gguf-py's SpecialVocab: tokenizer.json's post-processor, tokenizer_config.json
// and config.json turned into tokenizer.ggml.*_token_id, add_*_token and the
// chat template (with the merges, which it writes too).
#include <algorithm>
#include <cctype>

#include "convert/tokenizer_meta.h"
#include "qkv/error.h"
#include "qkv/file.h"

namespace qkv::convert::tokmeta {

namespace fs = std::filesystem;
using gguf::Value;
using nlohmann::json;

namespace {

// The GGUF key of each special token type SpecialVocab has a writer method for
// (it skips the others, such as cls, with a warning).
const char* id_key(std::string_view type) {
  static constexpr std::pair<std::string_view, const char*> kKeys[] = {
      {"bos", "tokenizer.ggml.bos_token_id"},     {"eos", "tokenizer.ggml.eos_token_id"},
      {"unk", "tokenizer.ggml.unknown_token_id"}, {"sep", "tokenizer.ggml.seperator_token_id"},  // sic
      {"pad", "tokenizer.ggml.padding_token_id"}, {"mask", "tokenizer.ggml.mask_token_id"},
      {"eot", "tokenizer.ggml.eot_token_id"},     {"eom", "tokenizer.ggml.eom_token_id"},
  };
  for (const auto& [t, key] : kKeys)
    if (t == type) return key;
  return nullptr;
}
const char* add_key(std::string_view type) {
  return type == "bos"   ? "tokenizer.ggml.add_bos_token"
         : type == "eos" ? "tokenizer.ggml.add_eos_token"
         : type == "sep" ? "tokenizer.ggml.add_sep_token"
                         : nullptr;
}

json field(const json& object, const char* key) {
  return object.is_object() && object.contains(key) ? object[key] : json();
}
// A template item's {"SpecialToken": {"id": ...}} or {"Sequence": {"id": ...}}.
json item_id(const json& item, const char* kind) { return field(field(item, kind), "id"); }

// gguf-py's SpecialVocab, step by step (vocab.py), including its quirks: a
// token named by an AddedToken object never equals a template's token text,
// and ids come only from tokenizer.json's added_tokens or config.json.
class SpecialVocab {
 public:
  SpecialVocab(const Folder& f, uint32_t n_vocab) : f_(f), n_vocab_(n_vocab), config_(f.tokenizer_config) {}

  void load() {
    if (truthy(f_.tokenizer_json)) read_post_processor();
    if (truthy(config_)) read_tokenizer_config();
    read_config_json();
  }

  void add_to(const std::vector<std::string>& merges, gguf::Metadata& md) const {
    if (!merges.empty()) md.set("tokenizer.ggml.merges", Value::string_array(merges));
    for (const auto& [type, id] : ids_)
      if (const char* key = id_key(type)) md.set(key, Value::u32(id));
    for (const auto& [type, add] : add_)
      if (const char* key = add_key(type)) md.set(key, Value::boolean(add));
    add_chat_template(md);
  }

 private:
  bool has_type(std::string_view t) const { return std::find(types_.begin(), types_.end(), t) != types_.end(); }

  // A dict assignment in Python: an existing entry keeps its place.
  void set_add(const std::string& type, bool value) {
    for (auto& [t, v] : add_)
      if (t == type) {
        v = value;
        return;
      }
    add_.emplace_back(type, value);
  }

  // _set_special_token: the first id found for a type wins; ids past n_vocab are skipped.
  void set_id(const std::string& type, const json& id, const std::string& file) {
    if (!id.is_number_integer()) return;
    if (id.get<int64_t>() < 0 || id.get<int64_t>() > UINT32_MAX)
      throw Error(ErrorKind::Format, "invalid id " + id.dump() + " for the " + type + " token", file);
    const auto value = static_cast<uint32_t>(id.get<int64_t>());
    if (n_vocab_ && value >= n_vocab_) return;
    for (const auto& entry : ids_)
      if (entry.first == type) return;
    ids_.emplace_back(type, value);
  }

  // tokenizer.json's post_processor: whether BOS/EOS/SEP are added, read from
  // the template of a single sequence and of a pair.
  void read_post_processor() {
    const bool has_config = truthy(config_);
    json bos = field(config_, "bos_token"), cls = field(config_, "cls_token"), eos = field(config_, "eos_token"),
         sep = field(config_, "sep_token");
    if (!truthy(bos) && truthy(cls) && has_config) config_["bos_token"] = bos = cls;
    if (!truthy(eos) && truthy(sep) && has_config) config_["eos_token"] = eos = sep;
    const json post = field(f_.tokenizer_json, "post_processor");
    if (!truthy(post)) return;
    const json processors = post.contains("processors") ? post["processors"] : json::array({post});
    for (const json& p : processors) {
      const json type = field(p, "type");
      if (type == "RobertaProcessing") {
        set_add("bos", true);
        set_add("eos", true);
        set_add("sep", true);
        const auto first_of = [&](const char* key, const json& def) {
          const json v = field(p, key);
          return v.is_array() && !v.empty() ? v[0] : def;
        };
        if (!truthy(cls) && has_config) config_["cls_token"] = cls = first_of("cls", bos);
        if (!truthy(sep) && has_config) config_["sep_token"] = sep = first_of("sep", eos);
      } else if (type == "TemplateProcessing") {
        read_template(p, has_config, bos, cls, eos, sep);
      }
    }
  }

  void read_template(const json& p, bool has_config, json& bos, const json& cls, json& eos, const json& sep) {
    const json single = field(p, "single"), pair = field(p, "pair");
    json first, last;
    if (single.is_array() && single.size() > 1) {
      first = item_id(single.front(), "SpecialToken");
      if (truthy(first)) {
        if (!has_config) bos = first;
        set_add("bos", first == bos || first == cls);
      }
      last = item_id(single.back(), "SpecialToken");
      if (truthy(last)) {
        if (!has_config) {
          eos = last;
        } else if (last != eos) {
          // The template ends with another token than EOS: that one becomes
          // EOS, and the configured EOS is kept as EOT (or EOM).
          for (const char* t : {"eot", "eom"})
            if (!has_type(t)) {
              types_.push_back(t);
              config_[std::string(t) + "_token"] = eos;
              break;
            }
          config_["eos_token"] = eos = last;
        }
        set_add("eos", last == eos);
      }
    }
    if (!pair.is_array() || pair.empty()) return;
    // The pair template without the tokens the single one already accounts for: A [sep] [eos] B.
    const size_t begin = truthy(first) && item_id(pair.front(), "SpecialToken") == first ? 1 : 0;
    const size_t end = truthy(last) && item_id(pair.back(), "SpecialToken") == last ? pair.size() - 1 : pair.size();
    if (end <= begin + 2 || item_id(pair[begin], "Sequence") != "A" || item_id(pair[end - 1], "Sequence") != "B")
      return;
    const json middle(pair.begin() + static_cast<std::ptrdiff_t>(begin) + 1,
                      pair.begin() + static_cast<std::ptrdiff_t>(end) - 1);
    const auto is_sep = [&](const json& id) { return truthy(id) && (id == sep || id == eos); };
    bool add_sep = is_sep(item_id(middle[0], "SpecialToken")) && !truthy(last);
    if (middle.size() == 2 && is_sep(item_id(middle[1], "SpecialToken"))) add_sep = true;
    set_add("sep", add_sep);
    if (add_sep && !truthy(sep) && has_config) config_["sep_token"] = eos;
  }

  void read_tokenizer_config() {
    const json alternative = chat_template_files();
    const json chat = config_.contains("chat_template") ? config_["chat_template"] : alternative;
    if (chat.is_null() || chat.is_string() || chat.is_array()) chat_template_ = chat;  // else ignored, as gguf-py does

    const json added = field(f_.tokenizer_json, "added_tokens");
    for (const std::string& type : types_) {
      if (const json add = field(config_, ("add_" + type + "_token").c_str()); add.is_boolean())
        set_add(type, add.get<bool>());
      const json entry = field(config_, (type + "_token").c_str());
      if (!entry.is_string() && !(entry.is_object() && field(entry, "content").is_string())) continue;
      const std::string text = token_text(entry);
      if (!added.is_array()) continue;  // without tokenizer.json, SpecialVocab finds no ids here
      for (const json& token : added)
        if (field(token, "content") == text) {
          set_id(type, field(token, "id"), f_.path("tokenizer.json"));
          break;
        }
    }
  }

  // chat_template.jinja (with additional_chat_templates/*.jinja as named
  // ones), else chat_template.json; used when tokenizer_config has none.
  json chat_template_files() const {
    const fs::path jinja = f_.dir / "chat_template.jinja";
    if (fs::is_regular_file(jinja)) {
      const std::string main = read_file(jinja.string());
      std::vector<fs::path> more;
      if (fs::is_directory(f_.dir / "additional_chat_templates"))
        for (const auto& e : fs::directory_iterator(f_.dir / "additional_chat_templates"))
          if (e.is_regular_file() && e.path().extension() == ".jinja") more.push_back(e.path());
      if (more.empty()) return main;
      std::sort(more.begin(), more.end());  // gguf-py takes the directory's order; we take the names'
      json list = json::array({{{"name", "default"}, {"template", main}}});
      for (const fs::path& p : more) list.push_back({{"name", p.stem().string()}, {"template", read_file(p.string())}});
      return list;
    }
    if (f_.has("chat_template.json")) return field(read_json(f_.dir / "chat_template.json"), "chat_template");
    return {};
  }

  void read_config_json() {
    for (const std::string& type : types_) {
      json id = field(f_.config, (type + "_token_id").c_str());
      if (id.is_null())
        id = field(field(f_.config, "text_config"), (type + "_token_id").c_str());  // multimodal configs
      set_id(type, id, f_.path("config.json"));
    }
  }

  // A string is tokenizer.chat_template; a list of {name, template} gives
  // tokenizer.chat_template.<name> for each named one, their names in
  // tokenizer.chat_templates, and the "default" one as tokenizer.chat_template.
  void add_chat_template(gguf::Metadata& md) const {
    if (chat_template_.is_string()) {
      md.set("tokenizer.chat_template", Value::string(chat_template_.get<std::string>()));
      return;
    }
    if (!chat_template_.is_array()) return;
    const json* fallback = nullptr;
    std::vector<std::string> names;
    for (const json& choice : chat_template_) {
      const json name_json = field(choice, "name");
      std::string name = name_json.is_string() ? name_json.get<std::string>() : "";
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';  // gguf-py keeps key names alphanumeric
      if (name.empty() || !choice.contains("template") || !choice["template"].is_string()) continue;
      const json& text = choice["template"];
      if (name == "default") {
        fallback = &text;
      } else {
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
        md.set("tokenizer.chat_template." + name, Value::string(text.get<std::string>()));
      }
    }
    if (!names.empty()) md.set("tokenizer.chat_templates", Value::string_array(names));
    if (fallback) md.set("tokenizer.chat_template", Value::string(fallback->get<std::string>()));
  }

  const Folder& f_;
  uint32_t n_vocab_;
  json config_;  // tokenizer_config.json, which the post-processor step amends as gguf-py does
  std::vector<std::string> types_ = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};
  std::vector<std::pair<std::string, uint32_t>> ids_;
  std::vector<std::pair<std::string, bool>> add_;
  json chat_template_;
};

}  // namespace

void add_special_vocab(const Folder& f, const std::vector<std::string>& merges, uint32_t n_vocab, gguf::Metadata& md) {
  SpecialVocab sv(f, n_vocab);
  sv.load();
  sv.add_to(merges, md);
}

}  // namespace qkv::convert::tokmeta
