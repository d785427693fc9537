// PyTorch checkpoints: real files from ../shared, files torch.save writes
// here (zip and legacy; every dtype; nested training checkpoints; views,
// slices and shared storages) checked value for value against torch.load,
// and hostile files built byte by byte, each refused with a specific error.
//
// The oracle is Python with torch (Debian's python3-torch). Tests that need
// it skip with a message where it is missing; the hostile-file tests need
// nothing.
#include "qkv/torch_checkpoint.h"

#include <nlohmann/json.hpp>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>

#include "qkv/error.h"
#include "test_support.h"

namespace qkv {
namespace {

using test::TempDir;
using Bytes = std::vector<uint8_t>;

// ---------------------------------------------------------------------------
// The Python oracle.

int run_command(const std::string& cmd, std::string* out) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
    if (out) out->append(buf.data(), n);
  return pclose(p);
}

// $QKV_PYTHON, else the first of python3 on PATH and Debian's
// /usr/bin/python3 that imports torch (a pyenv shim on PATH may hide it).
const std::string& torch_python() {
  static const std::string found = [] {
    std::vector<std::string> candidates = {"python3", "/usr/bin/python3"};
    if (const char* env = std::getenv("QKV_PYTHON"); env && *env) candidates.insert(candidates.begin(), env);
    for (const auto& c : candidates)
      if (run_command(c + " -c 'import torch, numpy' >/dev/null", nullptr) == 0) return c;
    return std::string();
  }();
  return found;
}

// Writes the checkpoints and, for each, manifest.json entries (name, dtype,
// shape per tensor, in state-dict order) and <file>.<i>.f32 with the values
// torch.load gives, as float32. argv[2:] are existing checkpoints to dump.
constexpr const char* kMakeCheckpoints = R"PY(
import collections, json, os, sys, torch
out = sys.argv[1]
torch.manual_seed(0)
DT = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
      torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
      torch.uint8: "U8", torch.bool: "BOOL"}
manifest = {}

def dump(name, sd, unwrapped=""):
    entries = []
    for i, (k, v) in enumerate(sd.items()):
        v = v.detach()
        v.float().contiguous().numpy().tofile(os.path.join(out, f"{name}.{i}.f32"))
        entries.append({"name": k, "dtype": DT[v.dtype], "shape": list(v.shape)})
    manifest[name] = {"unwrapped": unwrapped, "tensors": entries}

def save(name, obj, sd, unwrapped="", legacy=False):
    torch.save(obj, os.path.join(out, name), _use_new_zipfile_serialization=not legacy)
    dump(name, sd, unwrapped)

base = torch.randn(4, 6)
view_source = torch.randn(10)
sd = collections.OrderedDict()
sd["w32"] = torch.randn(3, 5)
sd["w16"] = torch.randn(2, 3).half()
sd["wbf16"] = torch.randn(7).bfloat16()
sd["w64"] = torch.randn(2, 2).double()
sd["i64"] = torch.arange(-3, 5)
sd["i32"] = torch.tensor([1, -2, 3], dtype=torch.int32)
sd["i16"] = torch.tensor([-300, 7], dtype=torch.int16)
sd["i8"] = torch.tensor([-128, 127], dtype=torch.int8)
sd["u8"] = torch.tensor([0, 255], dtype=torch.uint8)
sd["mask"] = torch.tensor([True, False, True])
sd["scalar"] = torch.tensor(2.5)
sd["empty"] = torch.zeros(0, 4)
sd["base"] = base
sd["row"] = base[2]                  # element offset 12 into base's storage
sd["rows"] = base[1:3]               # element offset 6
sd["tied"] = base                    # the same tensor under a second name
sd["param"] = torch.nn.Parameter(torch.randn(2, 2))
sd["only_view"] = view_source[3:7]   # its storage is saved whole, though nothing else uses it
small = collections.OrderedDict(w=torch.randn(2, 3), b=torch.randn(3))

for legacy in (False, True):
    kind = "legacy" if legacy else "zip"
    save(f"sd_{kind}.pt", sd, sd, legacy=legacy)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(1, 3)).sum().backward()
    opt.step()
    msd = model.state_dict()
    save(f"nested_{kind}.pt", {"model": msd, "optimizer": opt.state_dict(), "iter_num": 7,
                               "config": {"lr": 1e-3, "name": "tiny"}}, msd, "model", legacy)
for key in ("state_dict", "module", "model_state_dict"):
    save(f"wrapped_{key}.pt", {"epoch": 1, key: small}, small, key)
compiled = collections.OrderedDict(("_orig_mod." + k, v) for k, v in small.items())
save("compiled.pt", {"model": compiled, "iter_num": 1}, small, "model")
torch.save({"t": torch.randn(3, 4).t()}, os.path.join(out, "noncontig.pt"))
torch.save({"step": 3, "lr": 0.1}, os.path.join(out, "no_tensors.pt"))
for i, path in enumerate(sys.argv[2:]):
    dump(f"shared{i}", torch.load(path))
json.dump(manifest, open(os.path.join(out, "manifest.json"), "w"))
)PY";

const std::vector<std::string>& shared_checkpoints() {
  static const std::vector<std::string> paths = [] {
    std::vector<std::string> p;
    for (const char* sub : {"models/hf-llama-tiny-random-4h/pytorch_model.bin",
                            "models/hf-bloom-tiny-random/pytorch_model.bin"})
      if (!test::shared_dir().empty() && std::filesystem::exists(test::shared_dir() / sub))
        p.push_back((test::shared_dir() / sub).string());
    return p;
  }();
  return paths;
}

class TorchOracle : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (torch_python().empty()) return;
    dir_ = new TempDir;
    const auto script = *dir_ / "make.py";
    std::ofstream(script) << kMakeCheckpoints;
    std::string cmd = torch_python() + " " + script.string() + " " + dir_->path().string();
    for (const auto& p : shared_checkpoints()) cmd += " " + p;
    std::string out;
    if (run_command(cmd, &out) != 0) {
      setup_error_ = "the Python oracle failed:\n" + out;
      return;
    }
    manifest_ = nlohmann::json::parse(test::read_bytes(*dir_ / "manifest.json"));
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (torch_python().empty())
      GTEST_SKIP() << "python3 with torch and numpy not found (Debian: apt install python3-torch, or set QKV_PYTHON)";
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  }

  static std::string path(const std::string& name) { return (*dir_ / name).string(); }

  // Every tensor, in order, against what torch.load gave.
  static void expect_matches_torch(const torch::Checkpoint& c, const std::string& key) {
    const auto& m = manifest_.at(key);
    EXPECT_EQ(c.unwrapped_from(), m.at("unwrapped").get<std::string>());
    const auto& want = m.at("tensors");
    ASSERT_EQ(c.tensors().size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      const CheckpointTensor& t = c.tensors()[i];
      SCOPED_TRACE(t.name);
      EXPECT_EQ(t.name, want[i].at("name").get<std::string>());
      EXPECT_EQ(dtype_name(t.dtype), want[i].at("dtype").get<std::string>());
      EXPECT_EQ(t.shape, want[i].at("shape").get<std::vector<uint64_t>>());
      const Bytes expected = test::read_bytes(*dir_ / (key + "." + std::to_string(i) + ".f32"));
      const auto got = to_f32(t);
      ASSERT_EQ(got.size() * 4, expected.size());
      EXPECT_TRUE(got.empty() || std::memcmp(got.data(), expected.data(), expected.size()) == 0)
          << "values differ from torch.load's";
    }
  }

  static TempDir* dir_;
  static nlohmann::json manifest_;
  static std::string setup_error_;
};

TempDir* TorchOracle::dir_ = nullptr;
nlohmann::json TorchOracle::manifest_;
std::string TorchOracle::setup_error_;

TEST_F(TorchOracle, ZipStateDictWithEveryDtypeViewsAndSharedStorage) {
  const auto c = torch::Checkpoint::open(path("sd_zip.pt"));
  EXPECT_EQ(c.container(), torch::Container::Zip);
  EXPECT_TRUE(c.skipped().empty());
  expect_matches_torch(c, "sd_zip.pt");
  // Views share their storage's bytes rather than copies of them.
  const uint8_t* base = c.find("base")->data.data();
  EXPECT_EQ(c.find("tied")->data.data(), base);
  EXPECT_EQ(c.find("row")->data.data(), base + 12 * 4);
  EXPECT_EQ(c.find("rows")->data.data(), base + 6 * 4);
  EXPECT_TRUE(c.find("scalar")->shape.empty());
}

TEST_F(TorchOracle, LegacyStateDictWithEveryDtypeViewsAndSharedStorage) {
  const auto c = torch::Checkpoint::open(path("sd_legacy.pt"));
  EXPECT_EQ(c.container(), torch::Container::Legacy);
  expect_matches_torch(c, "sd_legacy.pt");
  EXPECT_EQ(c.find("row")->data.data(), c.find("base")->data.data() + 12 * 4);
}

TEST_F(TorchOracle, TrainingCheckpointsAreUnwrapped) {
  for (const char* name : {"nested_zip.pt", "nested_legacy.pt"}) {
    SCOPED_TRACE(name);
    const auto c = torch::Checkpoint::open(path(name));
    expect_matches_torch(c, name);
    EXPECT_EQ(c.skipped(), (std::vector<std::string>{"optimizer", "iter_num", "config"}));
  }
  for (const char* key : {"state_dict", "module", "model_state_dict"}) {
    const std::string name = std::string("wrapped_") + key + ".pt";
    SCOPED_TRACE(name);
    expect_matches_torch(torch::Checkpoint::open(path(name)), name);
  }
}

TEST_F(TorchOracle, CompilePrefixIsStripped) {
  const auto c = torch::Checkpoint::open(path("compiled.pt"));
  EXPECT_TRUE(c.stripped_compile_prefix());
  expect_matches_torch(c, "compiled.pt");  // names without "_orig_mod."
}

TEST_F(TorchOracle, NonContiguousViewIsRefused) {
  try {
    torch::Checkpoint::open(path("noncontig.pt"));
    FAIL() << "a transposed view was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
    EXPECT_EQ(e.tensor(), "t");
    EXPECT_NE(e.message().find("non-contiguous view (size [4, 3], stride [1, 4])"), std::string::npos) << e.what();
    EXPECT_NE(e.message().find(".contiguous()"), std::string::npos) << "the message says how to fix it";
  }
}

TEST_F(TorchOracle, CheckpointWithoutTensorsIsRefused) {
  try {
    torch::Checkpoint::open(path("no_tensors.pt"));
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("no tensors found (top-level entries: 'step', 'lr')"), std::string::npos) << e.what();
  }
}

TEST_F(TorchOracle, SharedCheckpointsMatchTorchLoad) {
  if (shared_checkpoints().empty()) GTEST_SKIP() << "../shared/models not found";
  for (size_t i = 0; i < shared_checkpoints().size(); ++i) {
    SCOPED_TRACE(shared_checkpoints()[i]);
    expect_matches_torch(torch::Checkpoint::open(shared_checkpoints()[i]), "shared" + std::to_string(i));
  }
}

// Structure only, so that it runs without Python too.
TEST(TorchCheckpoint, ReadsSharedLlamaAndBloom) {
  QKV_REQUIRE_SHARED("models/hf-llama-tiny-random-4h/pytorch_model.bin");
  QKV_REQUIRE_SHARED("models/hf-bloom-tiny-random/pytorch_model.bin");
  const auto llama =
      torch::Checkpoint::open((test::shared_dir() / "models/hf-llama-tiny-random-4h/pytorch_model.bin").string());
  const auto bloom =
      torch::Checkpoint::open((test::shared_dir() / "models/hf-bloom-tiny-random/pytorch_model.bin").string());
  for (const auto* c : {&llama, &bloom}) {
    EXPECT_EQ(c->container(), torch::Container::Zip);
    EXPECT_TRUE(c->unwrapped_from().empty());
    for (const auto& t : c->tensors()) EXPECT_EQ(t.dtype, DType::F32) << t.name;
  }
  auto params = [](const torch::Checkpoint& c) {
    uint64_t n = 0;
    for (const auto& t : c.tensors()) n += t.n_elements();
    return n;
  };
  EXPECT_EQ(llama.tensors().size(), 23u);
  EXPECT_EQ(params(llama), 256246u);
  EXPECT_EQ(llama.tensors().front().name, "model.embed_tokens.weight");
  EXPECT_EQ(llama.tensors().front().shape, (std::vector<uint64_t>{32000, 4}));
  EXPECT_NE(llama.find("model.layers.1.self_attn.rotary_emb.inv_freq"), nullptr);
  EXPECT_EQ(bloom.tensors().size(), 66u);
  EXPECT_EQ(params(bloom), 129184u);
  double sum = 0;
  for (float v : to_f32(bloom.tensors().front())) sum += v;
  EXPECT_NEAR(sum, 0.3033111145978751, 1e-9);  // torch.load(...)[...].double().sum()
}

// ---------------------------------------------------------------------------
// Hand-built files: pickles written opcode by opcode and stored in a ZIP or
// a legacy stream, so that hostile inputs need no Python.

class Pickle {
 public:
  explicit Pickle(int protocol = 2) { b_ = {'\x80', static_cast<char>(protocol)}; }
  Pickle& op(char c) {
    b_ += c;
    return *this;
  }
  Pickle& str(std::string_view s) {
    const uint32_t n = static_cast<uint32_t>(s.size());
    b_ += 'X';
    b_.append(reinterpret_cast<const char*>(&n), 4);
    b_ += s;
    return *this;
  }
  Pickle& global(std::string_view module, std::string_view name) {
    b_.append("c").append(module).append("\n").append(name).append("\n");
    return *this;
  }
  Pickle& integer(int64_t v) {
    if (v >= 0 && v < 256) return op('K').op(static_cast<char>(v));
    b_ += '\x8a';
    b_ += '\x08';
    b_.append(reinterpret_cast<const char*>(&v), 8);
    return *this;
  }
  Pickle& ints(const std::vector<int64_t>& v) {
    op('(');
    for (int64_t x : v) integer(x);
    return op('t');
  }
  // _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())
  Pickle& tensor(const std::string& key, std::string_view storage_type, int64_t numel, int64_t offset,
                 const std::vector<int64_t>& size, const std::vector<int64_t>& stride, bool legacy = false) {
    global("torch._utils", "_rebuild_tensor_v2").op('(');
    op('(').str("storage").global("torch", storage_type).str(key).str("cpu").integer(numel);
    if (legacy) op('N');
    op('t').op('Q').integer(offset).ints(size).ints(stride).op('\x89');
    return global("collections", "OrderedDict").op(')').op('R').op('t').op('R');
  }
  Bytes bytes() const { return Bytes(b_.begin(), b_.end()); }
  size_t size() const { return b_.size(); }

 private:
  std::string b_;
};

// {"w": a 2x2 float tensor in storage "0"} (four floats: 1, 2, 3, 4).
Bytes state_dict_pickle(bool legacy = false) {
  return Pickle().op('}').op('(').str("w").tensor("0", "FloatStorage", 4, 0, {2, 2}, {2, 1}, legacy).op('u').op('.').bytes();
}
Bytes four_floats() {
  const float v[4] = {1, 2, 3, 4};
  Bytes b(16);
  std::memcpy(b.data(), v, 16);
  return b;
}

struct ZipEntry {
  std::string name;
  Bytes data;
  uint16_t method = 0;
};

// A plain ZIP (no ZIP64, no CRCs: the reader does not check them).
Bytes make_zip(const std::vector<ZipEntry>& entries) {
  Bytes out, central;
  auto put = [](Bytes& b, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  for (const auto& e : entries) {
    const uint64_t local = out.size();
    put(out, 0x04034b50, 4), put(out, 20, 2), put(out, 0, 2), put(out, e.method, 2), put(out, 0, 4), put(out, 0, 4);
    put(out, e.data.size(), 4), put(out, e.data.size(), 4), put(out, e.name.size(), 2), put(out, 0, 2);
    out.insert(out.end(), e.name.begin(), e.name.end());
    out.insert(out.end(), e.data.begin(), e.data.end());
    put(central, 0x02014b50, 4), put(central, 20, 2), put(central, 20, 2), put(central, 0, 2);
    put(central, e.method, 2), put(central, 0, 4), put(central, 0, 4), put(central, e.data.size(), 4);
    put(central, e.data.size(), 4), put(central, e.name.size(), 2), put(central, 0, 2), put(central, 0, 2);
    put(central, 0, 2), put(central, 0, 2), put(central, 0, 4), put(central, local, 4);
    central.insert(central.end(), e.name.begin(), e.name.end());
  }
  const uint64_t cd_offset = out.size();
  out.insert(out.end(), central.begin(), central.end());
  put(out, 0x06054b50, 4), put(out, 0, 2), put(out, 0, 2), put(out, entries.size(), 2), put(out, entries.size(), 2);
  put(out, central.size(), 4), put(out, cd_offset, 4), put(out, 0, 2);
  return out;
}

Bytes zip_checkpoint(const Bytes& pickle, const Bytes& storage = four_floats()) {
  return make_zip({{"archive/data.pkl", pickle}, {"archive/data/0", storage}, {"archive/version", {'3', '\n'}}});
}

// magic, protocol 1001, {} as system info, the object, ["0"], then storage "0".
Bytes legacy_checkpoint(const Bytes& pickle, int64_t numel = 4, const Bytes& storage = four_floats()) {
  Bytes b = Pickle().op('\x8a').op('\x0a').bytes();
  for (uint8_t m : {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}) b.push_back(m);
  b.push_back('.');
  for (const Bytes& part : {Pickle().op('M').op('\xe9').op('\x03').op('.').bytes(), Pickle().op('}').op('.').bytes(),
                            pickle, Pickle().op(']').op('(').str("0").op('e').op('.').bytes()})
    b.insert(b.end(), part.begin(), part.end());
  b.insert(b.end(), reinterpret_cast<const uint8_t*>(&numel), reinterpret_cast<const uint8_t*>(&numel) + 8);
  b.insert(b.end(), storage.begin(), storage.end());
  return b;
}

Error load_error(const Bytes& bytes) {
  try {
    torch::Checkpoint::parse(bytes, "crafted.pt");
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "the crafted checkpoint was accepted";
  return Error(ErrorKind::Usage, "accepted");
}

TEST(TorchCheckpoint, HandBuiltZipAndLegacyRead) {
  for (const Bytes& file : {zip_checkpoint(state_dict_pickle()), legacy_checkpoint(state_dict_pickle(true))}) {
    const auto c = torch::Checkpoint::parse(file, "hand.pt");
    ASSERT_EQ(c.tensors().size(), 1u);
    EXPECT_EQ(c.tensors()[0].name, "w");
    EXPECT_EQ(c.tensors()[0].shape, (std::vector<uint64_t>{2, 2}));
    EXPECT_EQ(to_f32(c.tensors()[0]), (std::vector<float>{1, 2, 3, 4}));
  }
}

TEST(TorchCheckpoint, TorchTwoPointOneFloat8ThroughRebuildTensorV3) {
  // torch >= 2.1 stores dtypes without a storage class as bytes plus an
  // explicit dtype: _rebuild_tensor_v3(..., torch.float8_e4m3fn).
  const Bytes pickle = Pickle(4)
                           .op('}').op('(').str("f8")
                           .global("torch._utils", "_rebuild_tensor_v3").op('(')
                           .op('(').str("storage").global("torch.storage", "UntypedStorage").str("0").str("cpu")
                           .integer(4).op('t').op('Q')
                           .integer(1).ints({3}).ints({1}).op('\x89')
                           .global("collections", "OrderedDict").op(')').op('R')
                           .global("torch", "float8_e4m3fn").op('t').op('R')
                           .op('u').op('.').bytes();
  const Bytes file = zip_checkpoint(pickle, {0x00, 0x38, 0x7E, 0xFF});  // outlives the Checkpoint's views
  const auto c = torch::Checkpoint::parse(file, "v3.pt");
  ASSERT_EQ(c.tensors().size(), 1u);
  EXPECT_EQ(c.tensors()[0].dtype, DType::F8_E4M3);
  const auto v = to_f32(c.tensors()[0]);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], 448.0f);
  EXPECT_TRUE(std::isnan(v[2]));
}

TEST(TorchCheckpointHostile, RefusesOsSystemAndNamesIt) {
  // What `pickle.loads` would run: os.system("ls").
  const Bytes evil = Pickle().global("os", "system").op('(').str("ls").op('t').op('R').op('.').bytes();
  for (const Bytes& file : {zip_checkpoint(evil), legacy_checkpoint(evil)}) {
    const Error e = load_error(file);
    EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
    EXPECT_NE(e.message().find("unsafe pickle: refuses global 'os.system'"), std::string::npos) << e.what();
    EXPECT_EQ(e.file(), "crafted.pt");
    ASSERT_TRUE(e.offset().has_value()) << "the error points at the GLOBAL opcode";
  }
  // In the ZIP the pickle's data starts after a 30-byte local header and the
  // entry name; the GLOBAL follows the 2-byte PROTO.
  EXPECT_EQ(load_error(zip_checkpoint(evil)).offset(), 30u + std::string("archive/data.pkl").size() + 2u);
}

TEST(TorchCheckpointHostile, RefusesEveryOtherGlobalByName) {
  const std::pair<const char*, const char*> names[] = {
      {"builtins", "eval"}, {"builtins", "exec"},   {"__builtin__", "eval"}, {"posix", "system"},
      {"subprocess", "Popen"}, {"torch", "load"}, {"torch._utils", "_rebuild_qtensor"}, {"numpy.core.multiarray", "_reconstruct"},
  };
  for (const auto& [module, name] : names) {
    const std::string qualified = std::string(module) + "." + name;
    // STACK_GLOBAL (protocol 4), the way newer pickles name globals.
    const Bytes stacked = Pickle(4).str(module).str(name).op('\x93').op(')').op('R').op('.').bytes();
    const Bytes classic = Pickle().global(module, name).op(')').op('R').op('.').bytes();
    for (const Bytes& p : {stacked, classic}) {
      const Error e = load_error(zip_checkpoint(p));
      EXPECT_NE(e.message().find("refuses global '" + qualified + "'"), std::string::npos) << e.what();
    }
  }
}

TEST(TorchCheckpointHostile, EvalHiddenInsideAStateDictIsRefused) {
  // A state dict whose second value is builtins.eval("...") -- refused even
  // though the first entry is a fine tensor.
  const Bytes p = Pickle()
                      .op('}').op('(').str("w").tensor("0", "FloatStorage", 4, 0, {4}, {1})
                      .str("x").global("builtins", "eval").op('(').str("__import__('os').system('id')").op('t').op('R')
                      .op('u').op('.').bytes();
  EXPECT_NE(load_error(zip_checkpoint(p)).message().find("refuses global 'builtins.eval'"), std::string::npos);
}

TEST(TorchCheckpointHostile, StorageLargerThanTheFile) {
  const Bytes p = Pickle().op('}').op('(').str("w").tensor("0", "FloatStorage", int64_t{1} << 40, 0, {4}, {1}).op('u').op('.').bytes();
  const Error zip = load_error(zip_checkpoint(p));
  EXPECT_EQ(zip.kind(), ErrorKind::Integrity);
  EXPECT_NE(zip.message().find("storage '0' claims 1099511627776 elements (4398046511104 bytes) but its archive "
                               "entry holds 16 bytes"),
            std::string::npos)
      << zip.what();
  const Bytes lp = Pickle().op('}').op('(').str("w").tensor("0", "FloatStorage", int64_t{1} << 40, 0, {4}, {1}, true).op('u').op('.').bytes();
  const Error legacy = load_error(legacy_checkpoint(lp, int64_t{1} << 40));
  EXPECT_NE(legacy.message().find("needs 4398046511104 bytes but only 16 remain"), std::string::npos) << legacy.what();
  // A storage size whose byte count overflows 64 bits.
  const Bytes overflow = Pickle().op('}').op('(').str("w").tensor("0", "DoubleStorage", int64_t{1} << 62, 0, {4}, {1}).op('u').op('.').bytes();
  EXPECT_NE(load_error(zip_checkpoint(overflow)).message().find("overflows"), std::string::npos);
}

TEST(TorchCheckpointHostile, TensorOutsideItsStorage) {
  const Bytes p = Pickle().op('}').op('(').str("w").tensor("0", "FloatStorage", 4, 2, {3}, {1}).op('u').op('.').bytes();
  const Error e = load_error(zip_checkpoint(p));
  EXPECT_EQ(e.kind(), ErrorKind::Integrity);
  EXPECT_EQ(e.tensor(), "w");
  EXPECT_NE(e.message().find("needs elements [2, 2 + 3) of a 16-byte storage"), std::string::npos) << e.what();
}

TEST(TorchCheckpointHostile, TruncatedZipAtEveryLength) {
  const Bytes full = zip_checkpoint(state_dict_pickle());
  for (size_t n = 0; n < full.size(); ++n) {
    const Bytes cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
    EXPECT_THROW(torch::Checkpoint::parse(cut, "cut.pt"), Error) << n;
  }
  const Error e = load_error(Bytes(full.begin(), full.end() - 1));
  EXPECT_NE(e.message().find("no end-of-central-directory record"), std::string::npos) << e.what();
}

TEST(TorchCheckpointHostile, TruncatedSharedCheckpoint) {
  QKV_REQUIRE_SHARED("models/hf-bloom-tiny-random/pytorch_model.bin");
  const Bytes full = test::read_bytes(test::shared_dir() / "models/hf-bloom-tiny-random/pytorch_model.bin");
  for (size_t n : {size_t{0}, size_t{4}, size_t{100}, full.size() / 2, full.size() - 23, full.size() - 1})
    EXPECT_THROW(torch::Checkpoint::parse(Bytes(full.begin(), full.begin() + static_cast<ptrdiff_t>(n)), "cut.bin"),
                 Error)
        << n;
}

TEST(TorchCheckpointHostile, TruncatedLegacyStream) {
  const Bytes full = legacy_checkpoint(state_dict_pickle(true));
  for (size_t n = 0; n < full.size(); ++n)
    EXPECT_THROW(torch::Checkpoint::parse(Bytes(full.begin(), full.begin() + static_cast<ptrdiff_t>(n)), "cut.pt"),
                 Error)
        << n;
}

TEST(TorchCheckpointHostile, CompressedEntryIsRefused) {
  const Bytes file = make_zip({{"archive/data.pkl", state_dict_pickle(), 8}, {"archive/data/0", four_floats()}});
  const Error e = load_error(file);
  EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
  EXPECT_NE(e.message().find("entry 'archive/data.pkl' is compressed (method 8)"), std::string::npos) << e.what();
}

TEST(TorchCheckpointHostile, MalformedStructuresAreNamed) {
  struct Case {
    Bytes file;
    const char* expect;
  };
  const Bytes list_root = Pickle().op(']').op('.').bytes();
  const Case cases[] = {
      {zip_checkpoint(Pickle().op('.').bytes()), "stack underflow"},
      {zip_checkpoint(Pickle().op('h').op('\x05').op('.').bytes()), "memo entry 5 before storing it"},
      {zip_checkpoint(Pickle().op('}').op('K').op('\x01').op('a').op('.').bytes()), "APPEND on a dict"},
      {zip_checkpoint(Pickle().op('X').op('\xff').op('\xff').op('\xff').op('\x7f').bytes()), "pickle is truncated"},
      {zip_checkpoint(Pickle().op('I').bytes()), "unsupported pickle opcode 0x49"},
      {zip_checkpoint(Pickle().op('\x82').op('\x01').bytes()), "extension registry"},
      {zip_checkpoint(Pickle(9).op('.').bytes()), "unknown pickle protocol 9"},
      {zip_checkpoint(list_root), "holds a list, not a dict of tensors"},
      {zip_checkpoint(Pickle().op('}').op('(').str("step").integer(3).op('u').op('.').bytes()),
       "no tensors found (top-level entries: 'step')"},
      {zip_checkpoint(Pickle().op('}').op('(').str("_orig_mod.w").tensor("0", "FloatStorage", 4, 0, {4}, {1})
                          .str("w").tensor("0", "FloatStorage", 4, 0, {4}, {1}).op('u').op('.').bytes()),
       "two tensors have this name"},
      {zip_checkpoint(Pickle().op('}').op('(').str("w").tensor("0", "FloatStorage", 4, 0, {2, 2}, {1, 2}).op('u').op('.').bytes()),
       "non-contiguous view"},
      {zip_checkpoint(Pickle().op('}').op('(').str("w").tensor("0", "ComplexFloatStorage", 2, 0, {2}, {1}).op('u').op('.').bytes()),
       "stored as torch.ComplexFloatStorage"},
      {zip_checkpoint(Pickle().op('}').op('(').str("w").tensor("9", "FloatStorage", 4, 0, {4}, {1}).op('u').op('.').bytes()),
       "storage '9' is missing from the archive"},
      {legacy_checkpoint(Pickle().op('}').op('(').str("w").tensor("0", "FloatStorage", 4, 0, {4}, {1}).op('u').op('.').bytes(), 3),
       "storage '0' holds 3 elements where its object says 4"},
      {make_zip({{"archive/version", {'3'}}}), "without a <name>/data.pkl entry"},
      {Bytes{'h', 'e', 'l', 'l', 'o'}, "neither a ZIP archive"},
  };
  for (const auto& c : cases) {
    const Error e = load_error(c.file);
    EXPECT_NE(e.message().find(c.expect), std::string::npos) << c.expect << "\n -> " << e.what();
  }
}

TEST(TorchCheckpointHostile, LegacyStorageViewIsRefused) {
  // view_metadata other than None: storage views from torch < 0.4.
  const Bytes p = Pickle()
                      .op('}').op('(').str("w").global("torch._utils", "_rebuild_tensor_v2").op('(')
                      .op('(').str("storage").global("torch", "FloatStorage").str("0").str("cpu").integer(4)
                      .op('(').str("1").integer(0).integer(4).op('t').op('t').op('Q')
                      .integer(0).ints({4}).ints({1}).op('\x89').op('}').op('t').op('R').op('u').op('.').bytes();
  const Error e = load_error(legacy_checkpoint(p));
  EXPECT_NE(e.message().find("storage view"), std::string::npos) << e.what();
}

TEST(TorchCheckpointHostile, SelfReferenceAndDeepNestingAreHarmless) {
  // A list that contains itself, and a list nested 100000 deep: values are
  // indices into an arena, so neither recursion nor a leak can follow.
  Pickle cyclic;
  cyclic.op(']').op('q').op('\x00').op('h').op('\x00').op('a').op('.');
  EXPECT_NE(load_error(zip_checkpoint(cyclic.bytes())).message().find("holds a list"), std::string::npos);
  Pickle deep;
  for (int i = 0; i < 100000; ++i) deep.op(']');
  for (int i = 0; i < 99999; ++i) deep.op('a');
  deep.op('.');
  EXPECT_NE(load_error(zip_checkpoint(deep.bytes())).message().find("holds a list"), std::string::npos);
}

TEST(TorchCheckpointHostile, RandomCorruptionNeverCrashes) {
  const Bytes seeds[] = {zip_checkpoint(state_dict_pickle()), legacy_checkpoint(state_dict_pickle(true))};
  std::mt19937 rng(99);
  for (const Bytes& seed : seeds) {
    for (int i = 0; i < 3000; ++i) {
      Bytes b = seed;
      for (int k = 0, n = 1 + static_cast<int>(rng() % 4); k < n; ++k)
        b[rng() % b.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
      try {
        const auto c = torch::Checkpoint::parse(b, "mutant");
        for (const auto& t : c.tensors()) (void)to_f32(t);
      } catch (const Error&) {
      }
    }
  }
}

}  // namespace
}  // namespace qkv
