// PyTorch checkpoints: the two containers torch.save writes, and the search
// for the state dict inside what they hold. The unpickling itself is
// pickle.cpp; what torch's names mean is torch_resolver.cpp.
#include "qkv/torch_checkpoint.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_set>

#include "formats/pickle.h"
#include "formats/torch_resolver.h"
#include "formats/zip_reader.h"
#include "qkv/error.h"

namespace qkv::torch {
namespace {

using pickle::Graph;
using pickle::Kind;
using pickle::Ref;

// torch.save's legacy magic number 0x1950a86a20f9469cfc6c, as LONG1 stores it.
constexpr std::array<uint8_t, 10> kLegacyMagic = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr int64_t kLegacyProtocol = 1001;

// Where training scripts put the state dict: nanoGPT, fairseq and most
// trainers ("model"), Lightning ("state_dict"), DeepSpeed ("module"), and
// the PyTorch tutorials ("model_state_dict").
constexpr std::array<std::string_view, 4> kWrapperKeys = {"model", "state_dict", "module", "model_state_dict"};
constexpr std::string_view kCompilePrefix = "_orig_mod.";

struct Loaded {
  Graph graph;
  Ref root = 0;
  TorchResolver resolver;
};

// ZIP: <prefix>/data.pkl holds the objects, <prefix>/data/<key> each storage.
// The bytes of the storages that tensors use are located after the state
// dict is found, so a missing optimizer storage does not matter.
std::string load_zip(const zip::Archive& archive, const std::string& name, Loaded& out) {
  const auto pickles = archive.find_in_folders("data.pkl");
  if (pickles.size() > 1)
    throw Error(ErrorKind::Format, "the archive holds several objects ('" + pickles[0]->name + "', '" +
                                       pickles[1]->name + "', ...); torch.save writes one",
                name);
  if (pickles.empty())
    throw Error(ErrorKind::Format,
                "a ZIP archive without a <name>/data.pkl entry is not a PyTorch checkpoint (torch.save writes one)",
                name);
  const zip::Entry* pkl = pickles[0];
  const std::string prefix = pkl->name.substr(0, pkl->name.size() - std::string_view("data.pkl").size());
  if (const zip::Entry* bo = archive.find(prefix + "byteorder")) {
    const auto b = archive.data(*bo);
    if (std::string_view(reinterpret_cast<const char*>(b.data()), b.size()) != "little")
      throw Error(ErrorKind::Unsupported, "the checkpoint was saved on a big-endian machine", name);
  }
  const auto pickled = archive.data(*pkl);
  out.root = pickle::unpickle(pickled, 0, out.graph, out.resolver, name, pkl->data_offset).root;
  return prefix + "data/";
}

// The bytes of a ZIP storage: its entry must hold at least what it claims.
void locate_zip_storage(Storage& s, const zip::Archive& archive, const std::string& dir, const std::string& name) {
  const zip::Entry* e = archive.find(dir + s.key);
  if (!e)
    throw Error(ErrorKind::Integrity, "storage '" + s.key + "' is missing from the archive (no entry '" + dir + s.key +
                                          "'); the file is truncated or corrupt",
                name);
  const auto b = archive.data(*e);
  if (b.size() < s.nbytes)
    throw Error(ErrorKind::Integrity,
                "storage '" + s.key + "' claims " + std::to_string(s.numel) + " elements (" + std::to_string(s.nbytes) +
                    " bytes) but its archive entry holds " + std::to_string(b.size()) +
                    " bytes; the file is truncated or corrupt",
                name, {}, e->data_offset);
  s.bytes = b.first(s.nbytes);
  s.located = true;
}

// Legacy: magic, protocol version and system info pickles, the object
// pickle, the sorted list of storage keys, then for each key its element
// count (int64) and its raw bytes.
void load_legacy(std::span<const uint8_t> bytes, const std::string& name, Loaded& out) {
  auto next = [&](uint64_t at) { return pickle::unpickle(bytes, at, out.graph, out.resolver, name); };
  const auto magic = next(0);
  const pickle::Node& m = out.graph[magic.root];
  if (m.kind != Kind::BigInt || m.s.size() != kLegacyMagic.size() ||
      std::memcmp(m.s.data(), kLegacyMagic.data(), kLegacyMagic.size()) != 0)
    throw Error(ErrorKind::Format, "not a PyTorch checkpoint: the first pickle is not torch.save's magic number", name, {}, 0);
  const auto protocol = next(magic.end);
  if (out.graph[protocol.root].kind != Kind::Int || out.graph[protocol.root].i != kLegacyProtocol)
    throw Error(ErrorKind::Unsupported, "unknown legacy checkpoint protocol (expected 1001)", name, {}, magic.end);
  const auto sys_info = next(protocol.end);
  if (const auto le = out.graph.find(sys_info.root, "little_endian");
      le && out.graph[*le].kind == Kind::Bool && out.graph[*le].i == 0)
    throw Error(ErrorKind::Unsupported, "the checkpoint was saved on a big-endian machine", name, {}, protocol.end);
  const auto object = next(sys_info.end);
  out.root = object.root;
  const auto keys = next(object.end);

  const pickle::Node& list = out.graph[keys.root];
  if (list.kind != Kind::List)
    throw Error(ErrorKind::Format, "the storage key list after the objects is missing", name, {}, object.end);
  uint64_t pos = keys.end;
  for (Ref k : list.items) {
    const pickle::Node& key = out.graph[k];
    Storage* s = key.kind == Kind::Str ? out.resolver.find_storage(key.s) : nullptr;
    if (!s)
      throw Error(ErrorKind::Format, "the storage list names a storage no object uses", name, {}, keys.end);
    if (bytes.size() - pos < 8)
      throw Error(ErrorKind::Integrity, "storage '" + s->key + "' is cut off: the file is truncated", name, {}, pos);
    int64_t numel = 0;
    std::memcpy(&numel, bytes.data() + pos, 8);
    if (numel < 0 || static_cast<uint64_t>(numel) != s->numel)
      throw Error(ErrorKind::Integrity, "storage '" + s->key + "' holds " + std::to_string(numel) +
                                            " elements where its object says " + std::to_string(s->numel),
                  name, {}, pos);
    pos += 8;
    if (s->nbytes > bytes.size() - pos)
      throw Error(ErrorKind::Integrity,
                  "storage '" + s->key + "' needs " + std::to_string(s->nbytes) + " bytes but only " +
                      std::to_string(bytes.size() - pos) + " remain; the file is truncated",
                  name, {}, pos);
    s->bytes = bytes.subspan(pos, s->nbytes);
    s->located = true;
    pos += s->nbytes;
  }
}

std::string shape_string(const std::vector<uint64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s.append(i ? ", " : "").append(std::to_string(v[i]));
  return s + "]";
}

// The bytes of one tensor, checked: a known dtype, contiguous strides, and
// inside its storage.
std::span<const uint8_t> tensor_bytes(const TensorRecord& t, const Storage& s, const std::string& name,
                                      const std::string& file) {
  if (!t.dtype)
    throw Error(ErrorKind::Unsupported,
                "stored as " + s.type + ", a dtype QKV Core does not read (complex and quantized tensors)", file, name);
  uint64_t numel = 0;
  try {
    numel = element_count(t.size);
  } catch (const Error&) {
    throw Error(ErrorKind::Format, "its element count overflows 64 bits", file, name);
  }
  // Row-major contiguous: each stride is the product of the sizes after it.
  // A dimension of size 1 may carry any stride, and an empty tensor any.
  uint64_t expected = 1;
  for (size_t i = t.size.size(); i-- > 0 && numel > 0;) {
    if (t.size[i] != 1 && t.stride[i] != expected)
      throw Error(ErrorKind::Unsupported,
                  "a non-contiguous view (size " + shape_string(t.size) + ", stride " + shape_string(t.stride) +
                      "); QKV Core maps tensors in place and needs them contiguous -- re-save with "
                      "{k: v.contiguous() for k, v in state_dict.items()}",
                  file, name);
    expected *= t.size[i];
  }
  const uint64_t es = dtype_size(*t.dtype);
  if (!s.located)
    throw Error(ErrorKind::Integrity, "its storage '" + s.key + "' is missing from the file", file, name);
  if (numel > s.nbytes / es || t.offset > s.nbytes / es - numel)
    throw Error(ErrorKind::Integrity,
                "it needs elements [" + std::to_string(t.offset) + ", " + std::to_string(t.offset) + " + " +
                    std::to_string(numel) + ") of a " + std::to_string(s.nbytes) +
                    "-byte storage, which does not hold them; the file is corrupt",
                file, name);
  return s.bytes.subspan(t.offset * es, numel * es);
}

std::string key_name(const Graph& g, Ref k) {
  const pickle::Node& n = g[k];
  if (n.kind == Kind::Str) return n.s;
  if (n.kind == Kind::Int) return std::to_string(n.i);
  return "<" + std::string(pickle::kind_name(n.kind)) + " key>";
}

bool holds_tensors(const Loaded& l, Ref dict) {
  const pickle::Node& d = l.graph[dict];
  if (d.kind != Kind::Dict) return false;
  for (size_t i = 1; i < d.items.size(); i += 2)
    if (l.resolver.tensor(l.graph, d.items[i])) return true;
  return false;
}

}  // namespace

Checkpoint Checkpoint::open(const std::string& path) {
  auto map = std::make_shared<MappedFile>(path);
  Checkpoint c = parse(map->bytes(), path);
  c.map_ = std::move(map);
  return c;
}

Checkpoint Checkpoint::parse(std::span<const uint8_t> bytes, const std::string& name) {
  Checkpoint c;
  c.name_ = name;
  Loaded l;
  std::optional<zip::Archive> archive;
  std::string storage_dir;
  if (zip::looks_like_zip(bytes)) {
    archive = zip::Archive::parse(bytes, name);
    storage_dir = load_zip(*archive, name, l);
  } else if (bytes.size() >= 2 && bytes[0] == 0x80) {
    c.container_ = Container::Legacy;
    load_legacy(bytes, name, l);
  } else {
    throw Error(ErrorKind::Format,
                "not a PyTorch checkpoint: it is neither a ZIP archive (torch >= 1.6) nor a pickle stream (older "
                "torch.save)",
                name);
  }

  if (l.graph[l.root].kind != Kind::Dict)
    throw Error(ErrorKind::Format,
                "the checkpoint holds a " + std::string(pickle::kind_name(l.graph[l.root].kind)) +
                    ", not a dict of tensors; save model.state_dict() instead",
                name);
  Ref dict = l.root;
  for (std::string_view key : kWrapperKeys) {
    const auto inner = l.graph.find(l.root, key);
    if (inner && holds_tensors(l, *inner)) {
      dict = *inner;
      c.unwrapped_from_ = key;
      break;
    }
  }
  if (dict != l.root) {
    const auto& top = l.graph[l.root].items;
    for (size_t i = 0; i + 1 < top.size(); i += 2)
      if (top[i + 1] != dict) c.skipped_.push_back(key_name(l.graph, top[i]));
  }

  std::unordered_set<std::string> names;
  const std::vector<Ref> items = l.graph[dict].items;
  for (size_t i = 0; i + 1 < items.size(); i += 2) {
    const TensorRecord* t = l.resolver.tensor(l.graph, items[i + 1]);
    std::string key = key_name(l.graph, items[i]);
    if (!t || l.graph[items[i]].kind != Kind::Str) {
      c.skipped_.push_back(std::move(key));
      continue;
    }
    if (key.starts_with(kCompilePrefix)) {
      key.erase(0, kCompilePrefix.size());
      c.stripped_prefix_ = true;
    }
    if (!names.insert(key).second)
      throw Error(ErrorKind::Format, "two tensors have this name (after removing any '_orig_mod.' prefix)", name, key);
    Storage& s = l.resolver.storages()[t->storage];
    if (archive && !s.located) locate_zip_storage(s, *archive, storage_dir, name);
    const auto data = tensor_bytes(*t, s, key, name);  // checks the dtype, too
    c.tensors_.push_back({key, *t->dtype, t->size, data});
  }
  if (c.tensors_.empty()) {
    std::string keys;
    const auto& top = l.graph[l.root].items;
    for (size_t i = 0; i + 1 < top.size() && i < 20; i += 2)
      keys.append(keys.empty() ? "'" : ", '").append(key_name(l.graph, top[i])).append("'");
    throw Error(ErrorKind::Format,
                "no tensors found (top-level entries: " + (keys.empty() ? std::string("none") : keys) +
                    "); expected a state dict of name -> tensor, at the top or under 'model', 'state_dict', "
                    "'module' or 'model_state_dict'",
                name);
  }
  return c;
}

const CheckpointTensor* Checkpoint::find(std::string_view n) const {
  for (const auto& t : tensors_)
    if (t.name == n) return &t;
  return nullptr;
}

}  // namespace qkv::torch
