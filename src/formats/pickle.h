// A restricted unpickler: it reads the pickle opcodes that protocols 2 to 5
// use for plain data (numbers, strings, tuples, lists, dicts, sets) and hands
// every reference to a Python global, every call and every persistent id to
// a Resolver, which either understands it as data or refuses it. Nothing is
// ever imported or executed, so a hostile pickle can at worst be refused.
//
// Values live in a Graph, an arena indexed by Ref: memoised values are shared
// by index, a self-referencing list is a harmless cycle of indices, and
// destroying a deeply nested value needs no recursion.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::pickle {

using Ref = uint32_t;

enum class Kind : uint8_t { None, Bool, Int, BigInt, Float, Str, Bytes, Tuple, List, Dict, Set, Global, Object };
std::string_view kind_name(Kind k);

struct Node {
  Kind kind = Kind::None;
  int64_t i = 0;           // Bool, Int; Object: an id the Resolver chose
  double f = 0;            // Float
  std::string s;           // Str, Bytes; BigInt: little-endian two's complement;
                           // Global: "module.name"; Object: the Resolver's type tag
  std::vector<Ref> items;  // Tuple, List, Set: the elements; Dict: key, value, key, value, ...
};

class Graph {
 public:
  Ref add(Node n);
  const Node& operator[](Ref r) const { return nodes_.at(r); }
  Node& operator[](Ref r) { return nodes_.at(r); }
  size_t size() const { return nodes_.size(); }
  // The value of the string key `key` in a Dict (the last one, as Python
  // keeps); nullopt when absent or when `dict` is not a Dict.
  std::optional<Ref> find(Ref dict, std::string_view key) const;

 private:
  std::vector<Node> nodes_;
};

// What the unpickler cannot decide alone. Each method may throw qkv::Error
// to refuse; the unpickler adds the file name and the opcode's offset.
class Resolver {
 public:
  virtual ~Resolver() = default;
  // GLOBAL / STACK_GLOBAL: the node to push for module.name.
  virtual Ref find_class(Graph& g, const std::string& module, const std::string& name) = 0;
  // REDUCE / NEWOBJ: `callable` is a node find_class returned, `args` a Tuple.
  virtual Ref call(Graph& g, Ref callable, Ref args) = 0;
  // BINPERSID: `pid` is the persistent id (for torch, a Tuple).
  virtual Ref persistent_load(Graph& g, Ref pid) = 0;
};

struct Result {
  Ref root = 0;
  uint64_t end = 0;  // offset just past the STOP opcode
};

// Unpickles one pickle starting at bytes[start]. Offsets in errors are
// `base` + the offset in `bytes`, so that they point into the file when
// `bytes` is a part of it.
Result unpickle(std::span<const uint8_t> bytes, uint64_t start, Graph& g, Resolver& r, const std::string& file,
                uint64_t base = 0);

}  // namespace qkv::pickle
