// Reading a corpus: which files an input names, and the documents in a file.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace qkv::train {

// Calls fn with each document of the file, in order: every {"text": ...}
// line of a .jsonl file (blank lines skipped), or the whole of any other file.
// Throws (Format) naming the file and line of a JSONL line without a string "text".
void for_each_document(const std::string& path, const std::function<void(std::string_view)>& fn);

}  // namespace qkv::train
