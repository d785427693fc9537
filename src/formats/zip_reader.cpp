// ZIP structures (APPNOTE.TXT): every record is read through bounds-checked
// little-endian loads, every count is checked against the bytes that could
// hold it, and every offset against the file, so a truncated or crafted
// archive is an error naming the record, never a read outside the input.
#include "formats/zip_reader.h"

#include <algorithm>
#include <cstring>

#include "qkv/error.h"

namespace qkv::zip {
namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kEnd64Sig = 0x06064b50;
constexpr uint32_t kEnd64LocatorSig = 0x07064b50;
constexpr uint64_t kEndSize = 22, kEnd64Size = 56, kLocatorSize = 20, kCentralSize = 46, kLocalSize = 30;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint16_t kFlagEncrypted = 0x0001;

const char* const kHint = "the archive is truncated or corrupt; save or download it again";

class Reader {
 public:
  Reader(std::span<const uint8_t> b, const std::string& name) : b_(b), name_(name) {}

  [[noreturn]] void fail(const std::string& msg, uint64_t at) const {
    throw Error(ErrorKind::Format, msg + "; " + kHint, name_, {}, at);
  }
  // Throws unless [at, at + n) lies inside the input.
  void need(uint64_t at, uint64_t n, const char* what) const {
    if (at > b_.size() || n > b_.size() - at) fail(std::string(what) + " extends past the end of the file", at);
  }
  template <class T>
  T load(uint64_t at) const {
    need(at, sizeof(T), "a ZIP record");
    T v;
    std::memcpy(&v, b_.data() + at, sizeof(T));
    return v;
  }
  std::string str(uint64_t at, uint64_t n, const char* what) const {
    need(at, n, what);
    return std::string(reinterpret_cast<const char*>(b_.data() + at), n);
  }
  uint64_t size() const { return b_.size(); }

 private:
  std::span<const uint8_t> b_;
  const std::string& name_;
};

struct Directory {
  uint64_t count = 0, offset = 0, size = 0;
  uint64_t end = 0;  // where the directory must end: the first end record
};

// The end record sits in the last 22 + 65535 bytes (its comment is at most
// 64 KiB); scanning back, the first signature whose comment ends exactly at
// the end of the file is it.
uint64_t find_end_record(const Reader& r) {
  if (r.size() < kEndSize) r.fail("too short for a ZIP archive (no end-of-central-directory record)", 0);
  const uint64_t lowest = r.size() > kEndSize + 0xFFFF ? r.size() - kEndSize - 0xFFFF : 0;
  for (uint64_t at = r.size() - kEndSize + 1; at-- > lowest;)
    if (r.load<uint32_t>(at) == kEndSig && at + kEndSize + r.load<uint16_t>(at + 20) == r.size()) return at;
  r.fail("no end-of-central-directory record: not a ZIP archive, or one cut short", r.size());
}

Directory read_directory_location(const Reader& r, const std::string& name) {
  const uint64_t end = find_end_record(r);
  if (r.load<uint16_t>(end + 4) != 0 || r.load<uint16_t>(end + 6) != 0)
    throw Error(ErrorKind::Unsupported, "multi-part (split) ZIP archives are not supported", name, {}, end);
  Directory d{r.load<uint16_t>(end + 10), r.load<uint32_t>(end + 16), r.load<uint32_t>(end + 12), end};
  // A ZIP64 locator just before the end record points at the 64-bit version
  // of the same fields, which then replace the saturated 16/32-bit ones.
  if (end >= kLocatorSize && r.load<uint32_t>(end - kLocatorSize) == kEnd64LocatorSig) {
    const uint64_t loc = end - kLocatorSize;
    const uint64_t rec = r.load<uint64_t>(loc + 8);
    if (rec > loc || loc - rec < kEnd64Size) r.fail("the ZIP64 end record offset points outside the archive", loc);
    if (r.load<uint32_t>(rec) != kEnd64Sig) r.fail("no ZIP64 end-of-central-directory record where the locator points", rec);
    if (r.load<uint32_t>(rec + 16) != 0 || r.load<uint32_t>(rec + 20) != 0)
      throw Error(ErrorKind::Unsupported, "multi-part (split) ZIP archives are not supported", name, {}, rec);
    d = {r.load<uint64_t>(rec + 32), r.load<uint64_t>(rec + 48), r.load<uint64_t>(rec + 40), rec};
  }
  if (d.offset > d.end || d.size > d.end - d.offset)
    r.fail("the central directory (" + std::to_string(d.size) + " bytes at " + std::to_string(d.offset) +
               ") does not fit before the end record",
           d.end);
  if (d.count > d.size / kCentralSize)
    r.fail("the end record claims " + std::to_string(d.count) + " entries, more than a " + std::to_string(d.size) +
               "-byte central directory can hold",
           d.end);
  return d;
}

// Replaces saturated 32-bit fields with the values in the ZIP64 extra field,
// which holds (in this order) only the fields that are 0xFFFFFFFF.
void apply_zip64_extra(const Reader& r, uint64_t extra, uint64_t extra_len, uint64_t& size, uint64_t& csize,
                       uint64_t& local) {
  for (uint64_t p = extra; p + 4 <= extra + extra_len;) {
    const uint16_t id = r.load<uint16_t>(p), len = r.load<uint16_t>(p + 2);
    if (len > extra + extra_len - p - 4) r.fail("an extra field overruns its entry", p);
    if (id == kZip64ExtraId) {
      uint64_t q = p + 4;
      for (uint64_t* field : {&size, &csize, &local}) {
        if (*field != 0xFFFFFFFFu) continue;
        if (q + 8 > p + 4 + len) r.fail("the ZIP64 extra field is too short", p);
        *field = r.load<uint64_t>(q);
        q += 8;
      }
      return;
    }
    p += 4 + len;
  }
}

}  // namespace

Archive Archive::parse(std::span<const uint8_t> bytes, const std::string& name) {
  Archive a;
  a.bytes_ = bytes;
  a.name_ = name;
  const Reader r(bytes, a.name_);
  const Directory d = read_directory_location(r, name);
  a.entries_.reserve(d.count);
  uint64_t p = d.offset;
  for (uint64_t i = 0; i < d.count; ++i) {
    if (p + kCentralSize > d.offset + d.size) r.fail("central directory entry " + std::to_string(i) + " is cut short", p);
    if (r.load<uint32_t>(p) != kCentralSig) r.fail("central directory entry " + std::to_string(i) + " has a bad signature", p);
    const uint16_t flags = r.load<uint16_t>(p + 8);
    Entry e;
    e.method = r.load<uint16_t>(p + 10);
    uint64_t csize = r.load<uint32_t>(p + 20), size = r.load<uint32_t>(p + 24);
    const uint64_t name_len = r.load<uint16_t>(p + 28), extra_len = r.load<uint16_t>(p + 30),
                   comment_len = r.load<uint16_t>(p + 32);
    uint64_t local = r.load<uint32_t>(p + 42);
    const uint64_t next = p + kCentralSize + name_len + extra_len + comment_len;
    if (next > d.offset + d.size) r.fail("central directory entry " + std::to_string(i) + " is cut short", p);
    e.name = r.str(p + kCentralSize, name_len, "an entry name");
    apply_zip64_extra(r, p + kCentralSize + name_len, extra_len, size, csize, local);
    if (flags & kFlagEncrypted)
      throw Error(ErrorKind::Unsupported, "entry '" + e.name + "' is encrypted", name, {}, p);
    if (!a.by_name_.emplace(e.name, a.entries_.size()).second) r.fail("entry '" + e.name + "' appears twice", p);
    if (e.method == 0 && csize != size)
      r.fail("stored entry '" + e.name + "' has different compressed and uncompressed sizes", p);

    // The local header repeats the name; its extra field (torch pads it to
    // align the data) may differ from the central one.
    if (local > d.offset || d.offset - local < kLocalSize) r.fail("entry '" + e.name + "' has a local header outside the archive", p);
    if (r.load<uint32_t>(local) != kLocalSig) r.fail("entry '" + e.name + "' has no local header where the directory points", local);
    const uint64_t lname = r.load<uint16_t>(local + 26), lextra = r.load<uint16_t>(local + 28);
    if (r.str(local + kLocalSize, lname, "a local entry name") != e.name)
      r.fail("entry '" + e.name + "': the local header names a different file", local);
    e.size = size;
    e.stored_bytes = csize;
    e.data_offset = local + kLocalSize + lname + lextra;
    if (e.data_offset > d.offset || csize > d.offset - e.data_offset)
      r.fail("the data of entry '" + e.name + "' (" + std::to_string(csize) + " bytes) runs past the end of the entries",
             e.data_offset);
    a.entries_.push_back(std::move(e));
    p = next;
  }
  return a;
}

const Entry* Archive::find(std::string_view n) const {
  const auto it = by_name_.find(std::string(n));
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

std::vector<const Entry*> Archive::find_in_folders(std::string_view file) const {
  std::vector<const Entry*> out;
  for (const auto& e : entries_) {
    const size_t slash = e.name.find('/');
    if (slash != std::string::npos && std::string_view(e.name).substr(slash + 1) == file) out.push_back(&e);
  }
  return out;
}

std::span<const uint8_t> Archive::data(const Entry& e) const {
  if (e.method != 0)
    throw Error(ErrorKind::Unsupported,
                "entry '" + e.name + "' is compressed (method " + std::to_string(e.method) +
                    "); only uncompressed (stored) entries are read, as torch.save writes them -- re-save the "
                    "checkpoint with torch.save instead of re-zipping it",
                name_, {}, e.data_offset);
  return bytes_.subspan(e.data_offset, e.stored_bytes);
}

bool looks_like_zip(std::span<const uint8_t> bytes) {
  return bytes.size() >= 4 && bytes[0] == 'P' && bytes[1] == 'K' && bytes[2] == 3 && bytes[3] == 4;
}

}  // namespace qkv::zip
