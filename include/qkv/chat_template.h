// Chat prompts: the common chat templates, recognised from the Jinja text a
// model carries in tokenizer.chat_template (we do not run Jinja).
#pragma once

#include <string>
#include <vector>

namespace qkv {

enum class ChatFormat { Llama3, ChatML, Mistral, Phi3, Gemma, Llama2, Unknown };

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

// Which format a template text is; Unknown when none matches.
ChatFormat detect_chat_format(const std::string& jinja_template);
const char* chat_format_name(ChatFormat f);

// The prompt text for `messages`, ending with the assistant's opening when
// add_assistant_start. The BOS token is not included (the tokenizer adds it).
// Unknown falls back to ChatML.
std::string render_chat(ChatFormat f, const std::vector<ChatMessage>& messages, bool add_assistant_start = true);

// Text that ends an assistant turn in this format (a stop string).
std::string chat_turn_end(ChatFormat f);

}  // namespace qkv
