// Chat formats: recognised from the real templates models ship, rendered as
// those templates render (expected strings written from the published formats).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "qkv/chat_template.h"
#include "test_support.h"

namespace qkv {
namespace {

std::string template_of(const char* dir) {
  std::ifstream f(test::shared_dir() / "models/tokenizers" / dir / "tokenizer_config.json");
  return nlohmann::json::parse(f).at("chat_template").get<std::string>();
}

TEST(ChatTemplate, RecognisesRealTemplates) {
  QKV_REQUIRE_SHARED("models/tokenizers");
  EXPECT_EQ(detect_chat_format(template_of("llama3")), ChatFormat::Llama3);
  EXPECT_EQ(detect_chat_format(template_of("phi3")), ChatFormat::Phi3);
  EXPECT_EQ(detect_chat_format(template_of("qwen2")), ChatFormat::ChatML);
  EXPECT_EQ(detect_chat_format(template_of("qwen3")), ChatFormat::ChatML);
  EXPECT_EQ(detect_chat_format("{{ bos_token }}{% for m in messages %}<start_of_turn>..."), ChatFormat::Gemma);
  EXPECT_EQ(detect_chat_format("{% for m in messages %}[INST] {{ m.content }} [/INST]"), ChatFormat::Mistral);
  EXPECT_EQ(detect_chat_format("{{ nothing we know }}"), ChatFormat::Unknown);
}

TEST(ChatTemplate, RendersEachFormat) {
  const std::vector<ChatMessage> m = {{"system", "Be brief."}, {"user", "Hi"}};
  EXPECT_EQ(render_chat(ChatFormat::Llama3, m),
            "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(render_chat(ChatFormat::ChatML, m),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(render_chat(ChatFormat::Phi3, m), "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\n");
  EXPECT_EQ(render_chat(ChatFormat::Gemma, m), "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(render_chat(ChatFormat::Mistral, {{"user", "Hi"}, {"assistant", "Hello"}, {"user", "Bye"}}),
            "[INST] Hi [/INST] Hello</s>[INST] Bye [/INST]");
}

}  // namespace
}  // namespace qkv
