// The pickle virtual machine (see CPython's Lib/pickletools.py for the opcode
// reference), restricted to data: every length is checked against the bytes
// that remain before anything is allocated, the stack cannot be popped below
// the last MARK, and globals, calls and persistent ids go to the Resolver.
#include "formats/pickle.h"

#include <bit>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "qkv/error.h"

namespace qkv::pickle {
namespace {

// Opcode names as pickletools spells them.
enum Op : uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', BINFLOAT = 'G', BININT = 'J', BININT1 = 'K',
  BININT2 = 'M', NONE = 'N', BINPERSID = 'Q', REDUCE = 'R', BINSTRING = 'T', SHORT_BINSTRING = 'U',
  BINUNICODE = 'X', BINBYTES = 'B', SHORT_BINBYTES = 'C', EMPTY_LIST = ']', APPEND = 'a', BUILD = 'b',
  GLOBAL = 'c', DICT = 'd', APPENDS = 'e', BINGET = 'h', LONG_BINGET = 'j', LIST = 'l', BINPUT = 'q',
  LONG_BINPUT = 'r', SETITEM = 's', TUPLE = 't', SETITEMS = 'u', EMPTY_DICT = '}', EMPTY_TUPLE = ')',
  PROTO = 0x80, NEWOBJ = 0x81, EXT1 = 0x82, EXT2 = 0x83, EXT4 = 0x84, TUPLE1 = 0x85, TUPLE2 = 0x86,
  TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b, SHORT_BINUNICODE = 0x8c,
  BINUNICODE8 = 0x8d, BINBYTES8 = 0x8e, EMPTY_SET = 0x8f, ADDITEMS = 0x90, FROZENSET = 0x91, NEWOBJ_EX = 0x92,
  STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95, BYTEARRAY8 = 0x96, NEXT_BUFFER = 0x97,
  READONLY_BUFFER = 0x98,
};

constexpr int kHighestProtocol = 5;

class Machine {
 public:
  Machine(std::span<const uint8_t> b, uint64_t start, Graph& g, Resolver& r, const std::string& file, uint64_t base)
      : b_(b), pos_(start), g_(g), r_(r), file_(file), base_(base) {}

  Result run() {
    try {
      for (;;) {
        op_ = pos_;
        const uint8_t op = read<uint8_t>("an opcode");
        if (op == STOP) return {pop(), pos_};
        step(op);
      }
    } catch (const Error& e) {
      if (!e.file().empty()) throw;
      throw Error(e.kind(), e.message(), file_, e.tensor(), base_ + op_);  // a Resolver's refusal
    }
  }

 private:
  [[noreturn]] void fail(const std::string& msg, ErrorKind kind = ErrorKind::Format) const {
    throw Error(kind, kind == ErrorKind::Format ? msg + "; the file is corrupt or not written by torch.save" : msg,
                file_, {}, base_ + op_);
  }

  // Bytes [pos, pos + n), consumed; fails before anything is allocated for them.
  const uint8_t* take(uint64_t n, const char* what) {
    if (n > b_.size() - pos_)
      fail("pickle is truncated: " + std::string(what) + " needs " + std::to_string(n) + " bytes, " +
           std::to_string(b_.size() - pos_) + " remain");
    const uint8_t* p = b_.data() + pos_;
    pos_ += n;
    return p;
  }
  template <class T>
  T read(const char* what) {
    T v;
    std::memcpy(&v, take(sizeof(T), what), sizeof(T));
    return v;
  }
  std::string read_bytes(uint64_t n, const char* what) {
    const uint8_t* p = take(n, what);
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  std::string read_line(const char* what) {
    const void* nl = std::memchr(b_.data() + pos_, '\n', b_.size() - pos_);
    if (!nl) fail("pickle is truncated: " + std::string(what) + " has no end of line");
    const uint64_t n = static_cast<const uint8_t*>(nl) - (b_.data() + pos_);
    std::string s = read_bytes(n, what);
    ++pos_;
    return s;
  }

  uint64_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  Ref push(Ref r) {
    stack_.push_back(r);
    return r;
  }
  Ref push(Node n) { return push(g_.add(std::move(n))); }
  Ref pop() {
    if (stack_.size() <= floor()) fail("pickle stack underflow");
    const Ref r = stack_.back();
    stack_.pop_back();
    return r;
  }
  Ref top() const {
    if (stack_.size() <= floor()) fail("pickle stack underflow");
    return stack_.back();
  }
  // The items pushed since the last MARK, removing them and the mark.
  std::vector<Ref> pop_mark() {
    if (marks_.empty()) fail("pickle uses a MARK that was never set");
    std::vector<Ref> items(stack_.begin() + static_cast<ptrdiff_t>(marks_.back()), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  // The container on top of the stack that APPEND, SETITEM ... modify.
  Node& container(Kind kind, const char* op) {
    Node& n = g_[top()];
    if (n.kind != kind)
      fail(std::string(op) + " on a " + std::string(kind_name(n.kind)) + " (expected a " +
           std::string(kind_name(kind)) + ")");
    return n;
  }
  static Node make(Kind k, std::vector<Ref> items = {}) {
    Node n;
    n.kind = k;
    n.items = std::move(items);
    return n;
  }
  static Node make_int(int64_t v, Kind k = Kind::Int) {
    Node n;
    n.kind = k;
    n.i = v;
    return n;
  }
  static Node make_str(Kind k, std::string s) {
    Node n;
    n.kind = k;
    n.s = std::move(s);
    return n;
  }
  // LONG1 / LONG4: little-endian two's complement of any length.
  Node make_long(uint64_t n) {
    const uint8_t* p = take(n, "a long integer");
    if (n > 8) return make_str(Kind::BigInt, std::string(reinterpret_cast<const char*>(p), n));
    uint64_t v = 0;
    for (uint64_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return make_int(static_cast<int64_t>(v));
  }
  Ref memo_get(uint64_t key) {
    const auto it = memo_.find(key);
    if (it == memo_.end()) fail("pickle reads memo entry " + std::to_string(key) + " before storing it");
    return it->second;
  }
  void push_global(const std::string& module, const std::string& name) { push(r_.find_class(g_, module, name)); }
  void call() {
    const Ref args = pop(), callable = pop();
    if (g_[args].kind != Kind::Tuple) fail("call arguments must be a tuple, found a " + std::string(kind_name(g_[args].kind)));
    push(r_.call(g_, callable, args));
  }

  void step(uint8_t op) {
    switch (op) {
      case PROTO: {
        const uint8_t v = read<uint8_t>("the protocol number");
        if (v > kHighestProtocol) fail("unknown pickle protocol " + std::to_string(v), ErrorKind::Unsupported);
        break;
      }
      case FRAME: {
        // Frames only help buffered readers; the bytes are all here. Still, a
        // frame must not claim more than remains.
        const uint64_t n = read<uint64_t>("a frame length");
        if (n > b_.size() - pos_) fail("pickle frame of " + std::to_string(n) + " bytes runs past the end");
        break;
      }
      case MARK: marks_.push_back(stack_.size()); break;
      case POP: pop(); break;
      case POP_MARK: pop_mark(); break;
      case DUP: push(top()); break;

      case NONE: push(make(Kind::None)); break;
      case NEWTRUE: push(make_int(1, Kind::Bool)); break;
      case NEWFALSE: push(make_int(0, Kind::Bool)); break;
      case BININT: push(make_int(read<int32_t>("an int"))); break;
      case BININT1: push(make_int(read<uint8_t>("an int"))); break;
      case BININT2: push(make_int(read<uint16_t>("an int"))); break;
      case LONG1: push(make_long(read<uint8_t>("a long length"))); break;
      case LONG4: {
        const int32_t n = read<int32_t>("a long length");
        if (n < 0) fail("negative long length");
        push(make_long(static_cast<uint64_t>(n)));
        break;
      }
      case BINFLOAT: {
        const uint8_t* p = take(8, "a float");
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = bits << 8 | p[i];  // big-endian on the wire
        Node n;
        n.kind = Kind::Float;
        n.f = std::bit_cast<double>(bits);
        push(std::move(n));
        break;
      }

      case SHORT_BINUNICODE: push(make_str(Kind::Str, read_bytes(read<uint8_t>("a length"), "a string"))); break;
      case BINUNICODE: push(make_str(Kind::Str, read_bytes(read<uint32_t>("a length"), "a string"))); break;
      case BINUNICODE8: push(make_str(Kind::Str, read_bytes(read<uint64_t>("a length"), "a string"))); break;
      case SHORT_BINSTRING: push(make_str(Kind::Str, read_bytes(read<uint8_t>("a length"), "a string"))); break;
      case BINSTRING: {
        const int32_t n = read<int32_t>("a length");
        if (n < 0) fail("negative string length");
        push(make_str(Kind::Str, read_bytes(static_cast<uint64_t>(n), "a string")));
        break;
      }
      case SHORT_BINBYTES: push(make_str(Kind::Bytes, read_bytes(read<uint8_t>("a length"), "bytes"))); break;
      case BINBYTES: push(make_str(Kind::Bytes, read_bytes(read<uint32_t>("a length"), "bytes"))); break;
      case BINBYTES8:
      case BYTEARRAY8: push(make_str(Kind::Bytes, read_bytes(read<uint64_t>("a length"), "bytes"))); break;

      case EMPTY_TUPLE: push(make(Kind::Tuple)); break;
      case TUPLE: push(make(Kind::Tuple, pop_mark())); break;
      case TUPLE1:
      case TUPLE2:
      case TUPLE3: {
        std::vector<Ref> items(op - TUPLE1 + 1);
        for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop();
        push(make(Kind::Tuple, std::move(items)));
        break;
      }
      case EMPTY_LIST: push(make(Kind::List)); break;
      case LIST: push(make(Kind::List, pop_mark())); break;
      case APPEND: {
        const Ref v = pop();
        container(Kind::List, "APPEND").items.push_back(v);
        break;
      }
      case APPENDS: {
        std::vector<Ref> items = pop_mark();
        Node& list = container(Kind::List, "APPENDS");
        list.items.insert(list.items.end(), items.begin(), items.end());
        break;
      }
      case EMPTY_DICT: push(make(Kind::Dict)); break;
      case DICT: {
        std::vector<Ref> kv = pop_mark();
        if (kv.size() % 2) fail("DICT with an odd number of items");
        push(make(Kind::Dict, std::move(kv)));
        break;
      }
      case SETITEM: {
        const Ref v = pop(), k = pop();
        Node& dict = container(Kind::Dict, "SETITEM");
        dict.items.push_back(k);
        dict.items.push_back(v);
        break;
      }
      case SETITEMS: {
        std::vector<Ref> kv = pop_mark();
        if (kv.size() % 2) fail("SETITEMS with an odd number of items");
        Node& dict = container(Kind::Dict, "SETITEMS");
        dict.items.insert(dict.items.end(), kv.begin(), kv.end());
        break;
      }
      case EMPTY_SET: push(make(Kind::Set)); break;
      case FROZENSET: push(make(Kind::Set, pop_mark())); break;
      case ADDITEMS: {
        std::vector<Ref> items = pop_mark();
        Node& set = container(Kind::Set, "ADDITEMS");
        set.items.insert(set.items.end(), items.begin(), items.end());
        break;
      }

      case BINPUT: memo_[read<uint8_t>("a memo key")] = top(); break;
      case LONG_BINPUT: memo_[read<uint32_t>("a memo key")] = top(); break;
      case MEMOIZE: memo_[memo_.size()] = top(); break;
      case BINGET: push(memo_get(read<uint8_t>("a memo key"))); break;
      case LONG_BINGET: push(memo_get(read<uint32_t>("a memo key"))); break;

      case GLOBAL: {
        std::string module = read_line("a GLOBAL module");
        push_global(module, read_line("a GLOBAL name"));
        break;
      }
      case STACK_GLOBAL: {
        const Ref name = pop(), module = pop();
        if (g_[name].kind != Kind::Str || g_[module].kind != Kind::Str) fail("STACK_GLOBAL needs two strings");
        push_global(std::string(g_[module].s), std::string(g_[name].s));  // copies: the Resolver may grow g_
        break;
      }
      case REDUCE:
      case NEWOBJ: call(); break;
      case NEWOBJ_EX: {
        const Ref kwargs = pop();
        if (g_[kwargs].kind != Kind::Dict || !g_[kwargs].items.empty())
          fail("NEWOBJ_EX with keyword arguments is not supported", ErrorKind::Unsupported);
        call();
        break;
      }
      case BUILD: {
        // Sets an object's state. The only objects here are dicts (an
        // OrderedDict's state is its _metadata: module version numbers) and
        // the Resolver's objects (a tensor's hooks and Python attributes):
        // none carries weights, so the state is dropped.
        pop();
        const Kind k = g_[top()].kind;
        if (k != Kind::Dict && k != Kind::Object) fail("BUILD on a " + std::string(kind_name(k)));
        break;
      }
      case BINPERSID: push(r_.persistent_load(g_, pop())); break;

      case EXT1:
      case EXT2:
      case EXT4:
        fail("pickle names a global through the copyreg extension registry (EXT opcode); refused",
             ErrorKind::Unsupported);
      case NEXT_BUFFER:
      case READONLY_BUFFER:
        fail("pickle uses out-of-band buffers (protocol 5), which a file cannot carry", ErrorKind::Unsupported);
      default: {
        char hex[8];
        std::snprintf(hex, sizeof(hex), "0x%02x", op);
        fail("unsupported pickle opcode " + std::string(hex) +
                 " (text protocols 0 and 1 are not read; torch.save writes protocol 2)",
             ErrorKind::Unsupported);
      }
    }
  }

  std::span<const uint8_t> b_;
  uint64_t pos_, op_ = 0;
  Graph& g_;
  Resolver& r_;
  const std::string& file_;
  uint64_t base_;
  std::vector<Ref> stack_;
  std::vector<uint64_t> marks_;
  std::unordered_map<uint64_t, Ref> memo_;
};

}  // namespace

std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::BigInt: return "big int";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Set: return "set";
    case Kind::Global: return "global";
    case Kind::Object: return "object";
  }
  return "?";
}

Ref Graph::add(Node n) {
  if (nodes_.size() >= UINT32_MAX) throw Error(ErrorKind::Unsupported, "pickle holds more than 2^32 values");
  nodes_.push_back(std::move(n));
  return static_cast<Ref>(nodes_.size() - 1);
}

std::optional<Ref> Graph::find(Ref dict, std::string_view key) const {
  const Node& d = (*this)[dict];
  if (d.kind != Kind::Dict) return std::nullopt;
  std::optional<Ref> found;
  for (size_t i = 0; i + 1 < d.items.size(); i += 2) {
    const Node& k = (*this)[d.items[i]];
    if (k.kind == Kind::Str && k.s == key) found = d.items[i + 1];
  }
  return found;
}

Result unpickle(std::span<const uint8_t> bytes, uint64_t start, Graph& g, Resolver& r, const std::string& file,
                uint64_t base) {
  if (start > bytes.size()) throw Error(ErrorKind::Format, "pickle starts past the end of the file", file, {}, base + start);
  return Machine(bytes, start, g, r, file, base).run();
}

}  // namespace qkv::pickle
