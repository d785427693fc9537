#include <gtest/gtest.h>
#include <set>

#include "qkv/error.h"
#include "qkv/types.h"

namespace qkv {
namespace {

TEST(Types, TableIsConsistent) {
  std::set<uint32_t> seen;
  for (const auto& t : all_types()) {
    EXPECT_TRUE(seen.insert(static_cast<uint32_t>(t.type)).second) << t.name;
    EXPECT_GT(t.block_elems, 0u);
    EXPECT_GT(t.block_bytes, 0u);
    EXPECT_EQ(type_from_name(t.name), t.type);
    EXPECT_EQ(&type_info(t.type), find_type(static_cast<uint32_t>(t.type)));
    EXPECT_EQ(t.quantized, t.block_elems > 1) << t.name;
  }
  // The removed enum values must stay unknown.
  for (uint32_t removed : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u}) EXPECT_EQ(find_type(removed), nullptr);
  EXPECT_EQ(type_from_name("q4_k"), TensorType::Q4_K);
  EXPECT_FALSE(type_from_name("Q4_K_M").has_value()) << "a file type, not a tensor type";
}

TEST(Types, SizesDeriveFromTheTable) {
  EXPECT_EQ(row_bytes(TensorType::Q4_K, 4096), 4096u / 256 * 144);
  EXPECT_EQ(row_bytes(TensorType::F16, 7), 14u);
  const uint64_t shape[] = {4096, 32000};
  EXPECT_EQ(tensor_bytes(TensorType::Q6_K, shape), 4096u / 256 * 210 * 32000);
  EXPECT_THROW(row_bytes(TensorType::Q4_0, 33), Error);
  const uint64_t huge[] = {1ull << 40, 1ull << 40};
  EXPECT_THROW(tensor_bytes(TensorType::F32, huge), Error);
}

}  // namespace
}  // namespace qkv
