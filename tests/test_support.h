// Helpers shared by the tests: where ../shared lives, reading raw files.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace qkv::test {

// ../shared beside the checkout, or $QKV_SHARED. Empty path when absent.
std::filesystem::path shared_dir();

// Skips the current test with a clear message when ../shared/<sub> is absent.
#define QKV_REQUIRE_SHARED(sub)                                                          \
  do {                                                                                   \
    if (::qkv::test::shared_dir().empty() ||                                             \
        !std::filesystem::exists(::qkv::test::shared_dir() / (sub)))                     \
      GTEST_SKIP() << "test data ../shared/" << (sub)                                    \
                   << " not found (set QKV_SHARED to the shared folder); CI always has it"; \
  } while (0)

std::vector<uint8_t> read_bytes(const std::filesystem::path& p);
std::vector<float> read_floats(const std::filesystem::path& p);
void write_bytes(const std::filesystem::path& p, const std::vector<uint8_t>& bytes);

// A fresh empty folder under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Runs the qkv binary with the given argument string; returns exit status, captures stdout+stderr.
int run_qkv(const std::string& args, std::string* output = nullptr);

}  // namespace qkv::test
