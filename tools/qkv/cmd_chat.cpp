// qkv chat: an interactive conversation using the model's chat template.
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "qkv/chat_template.h"
#include "qkv/error.h"
#include "qkv/generate.h"

namespace qkv::cli {
namespace {

struct Args {
  std::string model, system;
  int n_predict = 512, n_ctx = 0, threads = 0;
  SamplerParams sampling;
};

int run(const Args& a) {
  auto model = Model::load(a.model);
  const Tokenizer tok = Tokenizer::from_gguf(model->file().metadata());
  const std::string tmpl = model->file().metadata().get_string("tokenizer.chat_template");
  ChatFormat fmt = detect_chat_format(tmpl);
  if (fmt == ChatFormat::Unknown)
    std::fprintf(stderr, "warning: %s; using ChatML\n",
                 tmpl.empty() ? "the model has no chat template" : "the model's chat template is not one qkv can render");
  else
    std::fprintf(stderr, "chat format: %s. Type a message; an empty line or Ctrl-D ends the chat.\n", chat_format_name(fmt));

  std::vector<ChatMessage> history;
  if (!a.system.empty()) history.push_back({"system", a.system});
  Session session(model, a.n_ctx, a.threads);
  std::string rendered_so_far;
  GenerateOptions o;
  o.n_predict = a.n_predict;
  o.sampling = a.sampling;
  o.stop = {chat_turn_end(fmt)};
  for (std::string line;;) {
    std::fputs("\n> ", stdout);
    std::fflush(stdout);
    if (!std::getline(std::cin, line) || line.empty()) break;
    history.push_back({"user", line});
    // Only the new part of the conversation is evaluated; the cache holds the rest.
    const std::string full = render_chat(fmt, history, true);
    const std::string fresh = full.substr(rendered_so_far.size());
    auto tokens = tok.encode(fresh, session.n_past() == 0, true);
    std::string reply;
    const auto st = generate(session, tok, tokens, o, [&](std::string_view t) {
      reply += t;
      std::fwrite(t.data(), 1, t.size(), stdout);
      std::fflush(stdout);
      return true;
    });
    history.push_back({"assistant", reply});
    rendered_so_far = full + reply + chat_turn_end(fmt);
    // The cache holds the reply but not the turn-end marker: evaluate it so the next turn continues cleanly.
    if (const auto end = tok.encode(chat_turn_end(fmt), false, true); !end.empty() && session.n_past() + end.size() < size_t(session.n_ctx()))
      session.decode(end);
    std::fprintf(stderr, "\n[%d prompt tokens at %.1f t/s, %d generated at %.1f t/s]\n", st.prompt_tokens,
                 st.prompt_tps(), st.generated_tokens, st.generate_tps());
  }
  return 0;
}

}  // namespace

void add_sampling_flags(CLI::App* cmd, SamplerParams& s, int& n_ctx, int& threads, int& n_predict);

Runner add_chat(CLI::App& app) {
  auto* cmd = app.add_subcommand("chat", "Chat with a model using its chat template");
  cmd->footer("Recognises the llama-3, ChatML (Qwen), Mistral, Llama-2, Phi-3 and Gemma templates;\n"
              "other templates fall back to ChatML with a warning.\n\n"
              "Example:\n  qkv chat qwen2-0.5b-q4_k_m.gguf --system \"You are terse.\"");
  auto a = std::make_shared<Args>();
  cmd->add_option("MODEL", a->model, "GGUF model")->required()->check(CLI::ExistingFile);
  cmd->add_option("--system", a->system, "System prompt");
  add_sampling_flags(cmd, a->sampling, a->n_ctx, a->threads, a->n_predict);
  return [a] { return run(*a); };
}

}  // namespace qkv::cli
