// What the names in a torch.save pickle mean, as data. The argument layouts
// follow torch/_utils.py and torch/serialization.py:
//   _rebuild_tensor(storage, storage_offset, size, stride)
//   _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
//   _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
//   _rebuild_parameter(tensor, requires_grad, backward_hooks)
//   _rebuild_parameter_with_state(tensor, requires_grad, backward_hooks, state)
//   persistent id: ("storage", storage_type, key, location, numel[, view_metadata (legacy)])
#include "formats/torch_resolver.h"

#include <algorithm>
#include <array>

#include "qkv/error.h"

namespace qkv::torch {
namespace {

using pickle::Graph;
using pickle::Kind;
using pickle::Node;
using pickle::Ref;

struct StorageType {
  std::string_view name;  // as pickled: module "torch" (UntypedStorage: also "torch.storage")
  std::optional<DType> dtype;
  uint32_t element_size;
};

constexpr std::array<StorageType, 18> kStorageTypes = {{
    {"DoubleStorage", DType::F64, 8},
    {"FloatStorage", DType::F32, 4},
    {"HalfStorage", DType::F16, 2},
    {"BFloat16Storage", DType::BF16, 2},
    {"LongStorage", DType::I64, 8},
    {"IntStorage", DType::I32, 4},
    {"ShortStorage", DType::I16, 2},
    {"CharStorage", DType::I8, 1},
    {"ByteStorage", DType::U8, 1},
    {"BoolStorage", DType::BOOL, 1},
    {"UntypedStorage", DType::U8, 1},  // bytes; torch >= 2.1 pairs it with v3's explicit dtype
    // Known only so that a legacy stream can be walked past them; a tensor
    // stored in one of these is refused when it is read.
    {"ComplexFloatStorage", std::nullopt, 8},
    {"ComplexDoubleStorage", std::nullopt, 16},
    {"QInt8Storage", std::nullopt, 1},
    {"QUInt8Storage", std::nullopt, 1},
    {"QInt32Storage", std::nullopt, 4},
    {"QUInt4x2Storage", std::nullopt, 1},
    {"QUInt2x4Storage", std::nullopt, 1},
}};

// torch dtypes pickle as module "torch" and their canonical name.
constexpr std::array<std::pair<std::string_view, DType>, 15> kDTypes = {{
    {"float64", DType::F64}, {"float32", DType::F32}, {"float16", DType::F16}, {"bfloat16", DType::BF16},
    {"float8_e4m3fn", DType::F8_E4M3}, {"float8_e5m2", DType::F8_E5M2}, {"int64", DType::I64},
    {"int32", DType::I32}, {"int16", DType::I16}, {"int8", DType::I8}, {"uint64", DType::U64},
    {"uint32", DType::U32}, {"uint16", DType::U16}, {"uint8", DType::U8}, {"bool", DType::BOOL},
}};

constexpr std::array<std::string_view, 7> kFunctions = {
    "collections.OrderedDict",
    "torch.Size",
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
};

// Tags of the Object nodes this resolver creates.
constexpr std::string_view kStorageTag = "torch storage";
constexpr std::string_view kTensorTag = "torch tensor";

// torch allows 64 dimensions at most; the cap also keeps a crafted pickle
// from copying one huge tuple into many tensor records.
constexpr size_t kMaxDims = 64;

const StorageType* storage_type(std::string_view qualified) {
  for (const auto& t : kStorageTypes) {
    if (qualified.size() > t.name.size() && qualified.ends_with(t.name)) {
      const std::string_view module = qualified.substr(0, qualified.size() - t.name.size());
      if (module == "torch." || (t.name == "UntypedStorage" && module == "torch.storage.")) return &t;
    }
  }
  return nullptr;
}

std::optional<DType> torch_dtype(std::string_view qualified) {
  if (!qualified.starts_with("torch.")) return std::nullopt;
  for (const auto& [name, d] : kDTypes)
    if (qualified.substr(6) == name) return d;
  return std::nullopt;
}

[[noreturn]] void malformed(const std::string& msg) {
  throw Error(ErrorKind::Format, msg + "; the checkpoint is corrupt or was not written by torch.save");
}

uint64_t to_count(const Node& n, const char* what) {
  if (n.kind != Kind::Int || n.i < 0)
    malformed(std::string(what) + " must be a non-negative integer, found a " + std::string(pickle::kind_name(n.kind)));
  return static_cast<uint64_t>(n.i);
}

std::vector<uint64_t> to_counts(const Graph& g, Ref tuple, const char* what) {
  const Node& t = g[tuple];
  if (t.kind != Kind::Tuple) malformed(std::string(what) + " must be a tuple, found a " + std::string(pickle::kind_name(t.kind)));
  if (t.items.size() > kMaxDims) malformed(std::string(what) + " has more than " + std::to_string(kMaxDims) + " dimensions");
  std::vector<uint64_t> out;
  for (Ref r : t.items) out.push_back(to_count(g[r], what));
  return out;
}

void expect_args(const std::string& fn, const std::vector<Ref>& args, size_t lo, size_t hi) {
  if (args.size() < lo || args.size() > hi)
    malformed("'" + fn + "' called with " + std::to_string(args.size()) + " arguments (expected " +
              std::to_string(lo) + (hi > lo ? " to " + std::to_string(hi) : std::string()) + ")");
}

}  // namespace

Ref TorchResolver::find_class(Graph& g, const std::string& module, const std::string& name) {
  const std::string qualified = module + "." + name;
  const bool known = std::find(kFunctions.begin(), kFunctions.end(), qualified) != kFunctions.end() ||
                     storage_type(qualified) || torch_dtype(qualified);
  if (!known)
    throw Error(ErrorKind::Unsupported,
                "unsafe pickle: refuses global '" + qualified +
                    "'. QKV Core reads only tensors and plain data from a checkpoint and never runs code from it; "
                    "if you trust this file, load it in Python and save the state dict alone "
                    "(torch.save(model.state_dict(), path)) or as safetensors");
  Node n;
  n.kind = Kind::Global;
  n.s = qualified;
  return g.add(std::move(n));
}

Ref TorchResolver::call(Graph& g, Ref callable, Ref args_ref) {
  if (g[callable].kind != Kind::Global)
    malformed("pickle calls a " + std::string(pickle::kind_name(g[callable].kind)) + ", not a function");
  const std::string fn = g[callable].s;
  const std::vector<Ref> args = g[args_ref].items;  // a copy: adding nodes may move g's storage
  if (fn == "collections.OrderedDict") {
    if (!args.empty()) throw Error(ErrorKind::Unsupported, "OrderedDict built from arguments is not supported");
    Node d;
    d.kind = Kind::Dict;
    return g.add(std::move(d));
  }
  if (fn == "torch.Size") {
    expect_args(fn, args, 1, 1);
    to_counts(g, args[0], "torch.Size");
    return args[0];
  }
  if (fn == "torch._utils._rebuild_parameter" || fn == "torch._utils._rebuild_parameter_with_state") {
    expect_args(fn, args, fn.ends_with("state") ? 4 : 3, fn.ends_with("state") ? 4 : 3);
    if (!tensor(g, args[0])) malformed("'" + fn + "' is given something other than a tensor");
    return args[0];
  }
  if (fn.starts_with("torch._utils._rebuild_tensor")) return rebuild_tensor(g, fn, args);
  throw Error(ErrorKind::Unsupported, "pickle calls '" + fn + "', which QKV Core does not construct");
}

Ref TorchResolver::rebuild_tensor(Graph& g, const std::string& fn, const std::vector<Ref>& args) {
  const bool v3 = fn.ends_with("_v3");
  if (fn.ends_with("_v2"))
    expect_args(fn, args, 6, 7);
  else if (v3)
    expect_args(fn, args, 7, 8);
  else
    expect_args(fn, args, 4, 4);
  const Node& s = g[args[0]];
  if (s.kind != Kind::Object || s.s != kStorageTag) malformed("'" + fn + "' is given something other than a storage");
  TensorRecord t;
  t.storage = static_cast<size_t>(s.i);
  t.dtype = storages_[t.storage].dtype;
  t.offset = to_count(g[args[1]], "a storage offset");
  t.size = to_counts(g, args[2], "a tensor size");
  t.stride = to_counts(g, args[3], "a tensor stride");
  if (t.size.size() != t.stride.size()) malformed("a tensor's size and stride have different lengths");
  if (v3) {
    const Node& d = g[args[6]];
    t.dtype = d.kind == Kind::Global ? torch_dtype(d.s) : std::nullopt;
    if (!t.dtype) malformed("'" + fn + "' is given something other than a dtype");
  }
  tensors_.push_back(std::move(t));
  Node n;
  n.kind = Kind::Object;
  n.s = kTensorTag;
  n.i = static_cast<int64_t>(tensors_.size() - 1);
  return g.add(std::move(n));
}

Ref TorchResolver::persistent_load(Graph& g, Ref pid) {
  const std::vector<Ref> f = g[pid].kind == Kind::Tuple ? g[pid].items : std::vector<Ref>{};
  if (f.size() < 5 || f.size() > 6 || g[f[0]].kind != Kind::Str || g[f[0]].s != "storage")
    malformed("a persistent id is not ('storage', type, key, location, numel)");
  const Node& type = g[f[1]];
  const StorageType* st = type.kind == Kind::Global ? storage_type(type.s) : nullptr;
  if (!st) malformed("a persistent id names no storage type");
  if (g[f[2]].kind != Kind::Str) malformed("a storage key must be a string");
  const std::string key = g[f[2]].s;
  const uint64_t numel = to_count(g[f[4]], "a storage size");
  // Legacy files carry view metadata, None since torch 0.4 dropped storage views.
  if (f.size() == 6 && g[f[5]].kind != Kind::None)
    throw Error(ErrorKind::Unsupported, "storage '" + key + "' is a storage view, which only torch < 0.4 wrote; "
                                        "load and re-save the checkpoint with a current torch");
  if (numel > UINT64_MAX / st->element_size) malformed("storage '" + key + "' claims a size that overflows 64 bits");

  if (const auto it = by_key_.find(key); it != by_key_.end()) {
    const Storage& s = storages_[it->second];
    if (s.type != type.s || s.numel != numel)
      malformed("storage '" + key + "' is declared twice with different types or sizes");
    return storage_nodes_[it->second];
  }
  Storage s;
  s.key = key;
  s.type = type.s;
  s.dtype = st->dtype;
  s.element_size = st->element_size;
  s.numel = numel;
  s.nbytes = numel * st->element_size;
  Node n;
  n.kind = Kind::Object;
  n.s = kStorageTag;
  n.i = static_cast<int64_t>(storages_.size());
  by_key_.emplace(key, storages_.size());
  storages_.push_back(std::move(s));
  storage_nodes_.push_back(g.add(std::move(n)));
  return storage_nodes_.back();
}

const TensorRecord* TorchResolver::tensor(const Graph& g, Ref r) const {
  const Node& n = g[r];
  if (n.kind != Kind::Object || n.s != kTensorTag) return nullptr;
  return &tensors_[static_cast<size_t>(n.i)];
}

Storage* TorchResolver::find_storage(const std::string& key) {
  const auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : &storages_[it->second];
}

}  // namespace qkv::torch
