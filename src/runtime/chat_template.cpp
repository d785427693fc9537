#include "qkv/chat_template.h"

namespace qkv {
namespace {
bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }
}  // namespace

ChatFormat detect_chat_format(const std::string& t) {
  if (has(t, "<|start_header_id|>")) return ChatFormat::Llama3;
  if (has(t, "<|im_start|>")) return ChatFormat::ChatML;
  if (has(t, "<start_of_turn>")) return ChatFormat::Gemma;
  if (has(t, "<|user|>") && has(t, "<|end|>")) return ChatFormat::Phi3;
  if (has(t, "[INST]")) return has(t, "<<SYS>>") ? ChatFormat::Llama2 : ChatFormat::Mistral;
  return ChatFormat::Unknown;
}

const char* chat_format_name(ChatFormat f) {
  switch (f) {
    case ChatFormat::Llama3: return "llama-3";
    case ChatFormat::ChatML: return "chatml";
    case ChatFormat::Mistral: return "mistral";
    case ChatFormat::Phi3: return "phi-3";
    case ChatFormat::Gemma: return "gemma";
    case ChatFormat::Llama2: return "llama-2";
    case ChatFormat::Unknown: return "unknown";
  }
  return "unknown";
}

std::string render_chat(ChatFormat f, const std::vector<ChatMessage>& msgs, bool add_assistant_start) {
  std::string out;
  switch (f) {
    case ChatFormat::Llama3:
      for (const auto& m : msgs) out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + m.content + "<|eot_id|>";
      if (add_assistant_start) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      return out;
    case ChatFormat::Gemma:  // no system role: a system message is prepended to the first user turn
    {
      std::string pending;
      for (const auto& m : msgs) {
        if (m.role == "system") {
          pending = m.content + "\n\n";
          continue;
        }
        const std::string role = m.role == "assistant" ? "model" : m.role;
        out += "<start_of_turn>" + role + "\n" + pending + m.content + "<end_of_turn>\n";
        pending.clear();
      }
      if (add_assistant_start) out += "<start_of_turn>model\n";
      return out;
    }
    case ChatFormat::Phi3:
      for (const auto& m : msgs) out += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
      if (add_assistant_start) out += "<|assistant|>\n";
      return out;
    case ChatFormat::Mistral:
    case ChatFormat::Llama2: {
      std::string system;
      for (const auto& m : msgs) {
        if (m.role == "system") system = m.content;
        else if (m.role == "user") {
          std::string content = m.content;
          if (!system.empty()) {
            content = f == ChatFormat::Llama2 ? "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content : system + "\n\n" + content;
            system.clear();
          }
          out += "[INST] " + content + " [/INST]";
        } else {
          out += " " + m.content + "</s>";
        }
      }
      return out;
    }
    case ChatFormat::ChatML:
    case ChatFormat::Unknown:
      for (const auto& m : msgs) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      if (add_assistant_start) out += "<|im_start|>assistant\n";
      return out;
  }
  return out;
}

std::string chat_turn_end(ChatFormat f) {
  switch (f) {
    case ChatFormat::Llama3: return "<|eot_id|>";
    case ChatFormat::Gemma: return "<end_of_turn>";
    case ChatFormat::Phi3: return "<|end|>";
    case ChatFormat::Mistral:
    case ChatFormat::Llama2: return "</s>";
    case ChatFormat::ChatML:
    case ChatFormat::Unknown: return "<|im_end|>";
  }
  return "";
}

}  // namespace qkv
