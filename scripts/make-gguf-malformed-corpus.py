#!/usr/bin/env python3
"""Writes the malformed-GGUF corpus and the GGUF fuzz seeds.

Every file is built here byte by byte (struct.pack, no gguf library), so a bug
shared by QKV Core's writer and reader cannot hide in the corpus.

  tests/data/gguf-malformed/*.gguf        one file per way a GGUF can be broken,
                                          plus a few valid controls
  tests/data/gguf-malformed/expected.tsv  what the strict reader and `qkv check`
                                          must do with each file
  fuzz/corpus/gguf/*.gguf                 seeds for fuzz/fuzz_gguf.cpp

expected.tsv columns (tab separated, '#' starts a comment line):
  file            name under tests/data/gguf-malformed
  strict          'ok' when File::open(strict_layout = true) must succeed, else
                  the qkv::ErrorKind name it must throw (format, unsupported, integrity)
  strict_message  a substring of that error's what() ('-' for ok)
  check_exit      the exit status of `qkv check FILE`
  check_output    a substring of what `qkv check FILE` prints
  what            the defect, in words

Usage: scripts/make-gguf-malformed-corpus.py [REPO_ROOT]   (default: this script's repository)
The output is deterministic; rerun it after changing a case and commit the result.
"""

import pathlib
import struct
import sys

# GGUF metadata value types.
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)

# ggml tensor types used below: (enum value, elements per block, bytes per block),
# copied from ggml-common.h independently of src/core/types.cpp.
T_F32 = (0, 1, 4)
T_F16 = (1, 1, 2)
T_Q4_0 = (2, 32, 18)
T_Q4_1 = (3, 32, 20)
T_Q5_0 = (6, 32, 22)
T_Q5_1 = (7, 32, 24)
T_Q8_0 = (8, 32, 34)
T_Q2_K = (10, 256, 84)
T_Q3_K = (11, 256, 110)
T_Q4_K = (12, 256, 144)
T_Q6_K = (14, 256, 210)
T_IQ4_NL = (20, 32, 18)
T_I8 = (24, 1, 1)
T_I32 = (26, 1, 4)
T_F64 = (28, 1, 8)
T_BF16 = (30, 1, 2)
T_TQ2_0 = (35, 256, 66)
T_MXFP4 = (39, 32, 17)

ALIGN = 32


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def gstr(s, length=None):
    """A GGUF string: u64 length, then the bytes. `length` overrides the length field."""
    b = s.encode() if isinstance(s, str) else s
    return u64(len(b) if length is None else length) + b


def kv(key, vtype, payload, key_length=None):
    return gstr(key, key_length) + u32(vtype) + payload


def kv_str(key, value, value_length=None):
    return kv(key, STRING, gstr(value, value_length))


def kv_u32(key, value):
    return kv(key, U32, u32(value))


def arr(elem, items, n=None):
    """An array payload: element type, count, then the already-encoded items."""
    return u32(elem) + u64(len(items) if n is None else n) + b"".join(items)


def tinfo(name, shape, ttype, offset, n_dims=None, name_length=None):
    dims = b"".join(u64(d) for d in shape)
    return gstr(name, name_length) + u32(len(shape) if n_dims is None else n_dims) + dims + u32(ttype[0]) + u64(offset)


def nbytes(ttype, shape):
    n = 1
    for d in shape:
        n *= d
    return n // ttype[1] * ttype[2]


def pad(b, a=ALIGN):
    return b + bytes(-len(b) % a)


class Gguf:
    """Pieces of one file, kept apart so that a case can break exactly one of them."""

    def __init__(self, kvs, infos, data, version=3, magic=b"GGUF", n_kv=None, n_tensors=None):
        self.kvs, self.infos, self.data = list(kvs), list(infos), data
        self.version, self.magic = version, magic
        self.n_kv = len(self.kvs) if n_kv is None else n_kv
        self.n_tensors = len(self.infos) if n_tensors is None else n_tensors

    def header(self):
        return (self.magic + u32(self.version) + u64(self.n_tensors) + u64(self.n_kv) + b"".join(self.kvs) +
                b"".join(self.infos))

    def bytes(self):
        h = self.header()
        return (pad(h) if self.infos else h) + self.data

    # Absolute offsets of the pieces, for truncating inside one of them.
    def kv_at(self, i):
        return 24 + sum(len(k) for k in self.kvs[:i])

    def info_at(self, i):
        return 24 + sum(len(k) for k in self.kvs) + sum(len(t) for t in self.infos[:i])

    def data_at(self):
        return len(pad(self.header()))


def tensor_bytes(ttype, shape, seed):
    """Deterministic non-zero tensor contents."""
    return bytes((seed * 31 + i * 7 + 1) % 251 + 1 for i in range(nbytes(ttype, shape)))


# The reference file that most cases break: four metadata keys (string, u32,
# u32 array, string) and two tensors, laid out canonically.
TOK = ("tok_embd.weight", [4, 2], T_F32)    # 32 bytes at offset 0
ATTN = ("blk.0.attn_q.weight", [32], T_Q8_0)  # 34 bytes at offset 32, padded to 64


def base(**over):
    kvs = [
        kv_str("general.architecture", "llama"),
        kv_u32("general.alignment", ALIGN),
        kv("test.u32s", ARRAY, arr(U32, [u32(i) for i in (1, 2, 3, 4)])),
        kv_str("general.name", "qkv malformed corpus"),
    ]
    infos = [tinfo(TOK[0], TOK[1], TOK[2], 0), tinfo(ATTN[0], ATTN[1], ATTN[2], 32)]
    data = tensor_bytes(TOK[2], TOK[1], 1) + pad(tensor_bytes(ATTN[2], ATTN[1], 2))
    args = dict(kvs=kvs, infos=infos, data=data)
    args.update(over)
    return Gguf(**args)


def with_kv(i, new_kv):
    g = base()
    g.kvs[i] = new_kv
    return g


def with_info(i, new_info, data=None):
    g = base()
    g.infos[i] = new_info
    if data is not None:
        g.data = data
    return g


def cut(g, at):
    b = g.bytes()
    assert at < len(b)
    return b[:at]


def nested(depth, leaf):
    """An array payload nested `depth` deep: [[[...[leaf]...]]]."""
    payload = arr(U8, [leaf])
    for _ in range(depth - 1):
        payload = arr(ARRAY, [payload])
    return payload


def all_value_types_v2():
    kvs = [
        kv_str("general.architecture", "llama"),
        kv("t.u8", U8, b"\xc8"),
        kv("t.i8", I8, b"\xfb"),
        kv("t.u16", U16, struct.pack("<H", 65000)),
        kv("t.i16", I16, struct.pack("<h", -30000)),
        kv("t.u32", U32, u32(4000000000)),
        kv("t.i32", I32, struct.pack("<i", -2000000000)),
        kv("t.f32", F32, struct.pack("<f", 1.5)),
        kv("t.bool0", BOOL, b"\x00"),
        kv("t.bool1", BOOL, b"\x01"),
        kv("t.u64", U64, u64(2**64 - 1)),
        kv("t.i64", I64, struct.pack("<q", -2**63)),
        kv("t.f64", F64, struct.pack("<d", -2.25)),
        kv("t.empty", STRING, gstr("")),
        kv("t.strs", ARRAY, arr(STRING, [gstr("a"), gstr(""), gstr("ünï")])),
        kv("t.bools", ARRAY, arr(BOOL, [b"\x01", b"\x00"])),
        kv("t.none", ARRAY, arr(F64, [])),
        kv("t.nested8", ARRAY, nested(8, b"\x07")),  # the deepest nesting the reader allows
    ]
    shape = [16]
    infos = [tinfo("w", shape, T_F16, 0)]
    return Gguf(kvs, infos, pad(tensor_bytes(T_F16, shape, 3)), version=2)


def many_types():
    """One block of many types, laid out as a writer would: each tensor at the
    aligned end of the one before, so the zero-size tensor shares its offset with
    the next one. More than 16 tensors, so std::sort is not an insertion sort."""
    tensors = [("f32", [1], T_F32), ("f16", [1], T_F16), ("bf16", [1], T_BF16), ("i8", [1], T_I8),
               ("i32", [1], T_I32), ("f64", [1], T_F64), ("empty", [0, 4], T_F32), ("q4_0", [32], T_Q4_0),
               ("q4_1", [32], T_Q4_1), ("q5_0", [32], T_Q5_0), ("q5_1", [32], T_Q5_1), ("q8_0", [32], T_Q8_0),
               ("q2_k", [256], T_Q2_K), ("q3_k", [256], T_Q3_K), ("q4_k", [256], T_Q4_K), ("q6_k", [256], T_Q6_K),
               ("iq4_nl", [32], T_IQ4_NL), ("tq2_0", [256], T_TQ2_0), ("mxfp4", [32], T_MXFP4)]
    infos, data = [], b""
    for i, (name, shape, ttype) in enumerate(tensors):
        infos.append(tinfo(name, shape, ttype, len(data)))
        data += pad(tensor_bytes(ttype, shape, i))
    return Gguf([kv_str("general.architecture", "llama")], infos, data)


def big_endian():
    g = base()
    return b"GGUF" + struct.pack(">IQQ", 3, len(g.infos), len(g.kvs)) + g.bytes()[24:]


def cases():
    """(file name, bytes, strict, strict message, check exit, check output, what)."""
    b = base()
    attn_at = b.data_at() + 32  # absolute offset of ATTN's data (TOK's 32 bytes come first)

    def fmt(name, data, msg, what, check=None):
        return (name, data, "format", msg, 1, check or msg, what)

    return [
        # Valid controls: the test must see them pass, or it would not notice a reader that rejects everything.
        ("valid-two-tensors.gguf", b.bytes(), "ok", "-", 0, "PASS", "the reference file the other cases break"),
        ("valid-v2-all-value-types.gguf", all_value_types_v2().bytes(), "ok", "-", 0, "PASS",
         "version 2, every value type, arrays nested 8 deep (the limit)"),
        ("valid-no-tensors.gguf", Gguf([kv_str("general.architecture", "llama")], [], b"").bytes(), "ok", "-", 0,
         "0 tensors", "metadata only, no tensor data section"),
        ("valid-many-types.gguf", many_types().bytes(), "ok", "-", 0, "19 tensors",
         "one block each of 18 types and a zero-size tensor sharing its offset with the next"),
        ("valid-zero-size-tensor-shares-offset.gguf",
         with_info(1, tinfo("empty", [0], T_F32, 0), data=pad(tensor_bytes(TOK[2], TOK[1], 1))).bytes(), "ok", "-",
         0, "PASS", "a zero-size tensor listed after the tensor whose offset it shares (it overlaps no byte)"),

        # Magic and version.
        fmt("empty.gguf", b"", "magic needs 4 bytes but only 0 remain", "an empty file"),
        fmt("trunc-in-magic.gguf", b"GG", "magic needs 4 bytes but only 2 remain", "ends inside the magic"),
        fmt("bad-magic.gguf", b"GGML" + b.bytes()[4:], "not a GGUF file", "magic 'GGML'"),
        fmt("trunc-in-version.gguf", cut(b, 6), "version needs 4 bytes but only 2 remain", "ends inside the version"),
        ("version-1.gguf", base(version=1).bytes(), "unsupported", "GGUF version 1 is obsolete", 1,
         "GGUF version 1 is obsolete", "version 1 (u32 counts, long obsolete)"),
        fmt("version-0.gguf", base(version=0).bytes(), "unknown GGUF version 0", "version 0"),
        fmt("version-4.gguf", base(version=4).bytes(), "unknown GGUF version 4", "version 4 (does not exist)"),
        ("big-endian.gguf", big_endian(), "unsupported", "big-endian GGUF files are not supported", 1,
         "big-endian GGUF files are not supported", "a big-endian version 3 file"),

        # Counts.
        fmt("trunc-in-counts.gguf", cut(b, 20), "metadata count needs 8 bytes but only 4 remain",
            "ends inside the metadata count"),
        fmt("huge-n-kv.gguf", base(n_kv=2**62).bytes(), "metadata count 4611686018427387904 is impossible",
            "metadata count 2^62"),
        fmt("huge-n-tensors.gguf", base(n_tensors=2**64 - 1).bytes(),
            "tensor count 18446744073709551615 is impossible", "tensor count 2^64-1"),
        fmt("n-tensors-one-too-many.gguf", base(n_tensors=3).bytes(), "tensor 2 has an empty name",
            "tensor count 3 with 2 tensor infos (the third is read from the zero padding)"),

        # Metadata keys and values.
        fmt("trunc-in-key.gguf", cut(b, b.kv_at(3) + 8 + 5), "metadata key claims 12 bytes but only 5 remain",
            "ends inside a key"),
        fmt("trunc-in-value.gguf", cut(b, b.kv_at(3) + 8 + 12 + 4 + 8 + 3),
            "string value claims 20 bytes but only 3 remain", "ends inside a string value"),
        fmt("trunc-in-array.gguf", cut(b, b.kv_at(2) + 8 + 9 + 4 + 4 + 8 + 10),
            "'test.u32s': array claims 4 elements, more than the 10 remaining bytes", "ends inside an array"),
        fmt("trunc-in-array-header.gguf", cut(b, b.kv_at(2) + 8 + 9 + 4 + 4 + 3), "array length needs 8 bytes",
            "ends inside an array's length"),
        fmt("huge-key-length.gguf", with_kv(3, kv("general.name", STRING, gstr("x"), key_length=2**63)).bytes(),
            "metadata key claims 9223372036854775808 bytes", "a key length of 2^63"),
        fmt("huge-string-length.gguf", with_kv(3, kv_str("general.name", "x", value_length=2**64 - 1)).bytes(),
            "string value claims 18446744073709551615 bytes", "a string length of 2^64-1"),
        fmt("huge-array-length.gguf", with_kv(2, kv("test.u32s", ARRAY, arr(U32, [u32(1)], n=2**60))).bytes(),
            "array claims 1152921504606846976 elements", "a u32 array claiming 2^60 elements"),
        fmt("huge-string-array-length.gguf",
            with_kv(2, kv("test.strs", ARRAY, arr(STRING, [gstr("a")], n=2**61))).bytes(),
            "array claims 2305843009213693952 elements", "a string array claiming 2^61 elements"),
        fmt("huge-nested-array-length.gguf",
            with_kv(2, kv("test.nested", ARRAY, arr(ARRAY, [arr(U8, [b"\x01"], n=2**63)]))).bytes(),
            "array claims 9223372036854775808 elements", "an array inside an array claiming 2^63 elements"),
        fmt("unknown-value-type.gguf", with_kv(1, kv("general.alignment", 13, u32(ALIGN))).bytes(),
            "'general.alignment': unknown value type 13", "value type 13"),
        fmt("unknown-array-element-type.gguf", with_kv(2, kv("test.u32s", ARRAY, arr(2**32 - 1, []))).bytes(),
            "unknown array element type 4294967295", "array element type 2^32-1"),
        fmt("bool-value-2.gguf", with_kv(1, kv("test.flag", BOOL, b"\x02")).bytes(),
            "'test.flag': bool value 2 is neither 0 nor 1", "a bool holding 2"),
        fmt("bool-2-in-array.gguf", with_kv(2, kv("test.flags", ARRAY, arr(BOOL, [b"\x01", b"\x00", b"\x02"]))).bytes(),
            "'test.flags': bool value 2 is neither 0 nor 1", "an array of bools holding a 2"),
        fmt("arrays-nested-9-deep.gguf", with_kv(2, kv("test.deep", ARRAY, nested(9, b"\x07"))).bytes(),
            "'test.deep': arrays nested deeper than 8", "arrays nested 9 deep"),
        fmt("duplicate-key.gguf", with_kv(3, kv_str("general.architecture", "gpt2")).bytes(),
            "duplicate metadata key 'general.architecture'", "the same key twice"),
        fmt("empty-key.gguf", with_kv(1, kv_u32("", 7)).bytes(), "metadata key 1 is empty", "a key of length 0"),
        fmt("alignment-0.gguf", with_kv(1, kv_u32("general.alignment", 0)).bytes(),
            "general.alignment 0 is not a power of two", "general.alignment = 0"),
        fmt("alignment-3.gguf", with_kv(1, kv_u32("general.alignment", 3)).bytes(),
            "general.alignment 3 is not a power of two", "general.alignment = 3"),
        fmt("alignment-u64.gguf", with_kv(1, kv("general.alignment", U64, u64(ALIGN))).bytes(),
            "general.alignment must be a u32, found u64", "general.alignment stored as a u64"),

        # Tensor infos.
        fmt("trunc-in-tensor-name.gguf", cut(b, b.info_at(1) + 8 + 4),
            "tensor name claims 19 bytes but only 4 remain", "ends inside a tensor name"),
        fmt("trunc-in-tensor-dims.gguf", cut(b, b.info_at(0) + 8 + 15 + 4 + 8 + 2),
            "tensor dimension needs 8 bytes but only 2 remain", "ends inside a tensor's dimensions"),
        fmt("trunc-in-tensor-offset.gguf", cut(b, b.info_at(2) - 3), "tensor offset needs 8 bytes but only 5 remain",
            "ends inside the last tensor offset"),
        fmt("huge-tensor-name-length.gguf", with_info(1, tinfo(ATTN[0], ATTN[1], ATTN[2], 32, name_length=2**63 + 5)).bytes(),
            "tensor name claims 9223372036854775813 bytes", "a tensor name length of 2^63+5"),
        fmt("n-dims-0.gguf", with_info(1, tinfo(ATTN[0], [], ATTN[2], 32)).bytes(),
            "0 dimensions (GGUF allows 1 to 4)", "a tensor with 0 dimensions"),
        fmt("n-dims-5.gguf", with_info(1, tinfo(ATTN[0], [32, 1, 1, 1, 1], ATTN[2], 32)).bytes(),
            "5 dimensions (GGUF allows 1 to 4)", "a tensor with 5 dimensions"),
        fmt("dimension-negative.gguf", with_info(1, tinfo(ATTN[0], [2**64 - 32], ATTN[2], 32)).bytes(),
            "dimension 0 is negative or too large", "a dimension of -32 as int64"),
        ("unknown-tensor-type.gguf", with_info(1, tinfo(ATTN[0], ATTN[1], (4, 32, 20), 32)).bytes(), "unsupported",
         "unknown tensor type 4", 1, "unknown tensor type 4", "tensor type 4 (Q4_2, removed from ggml)"),
        fmt("q4_0-33-columns.gguf", with_info(1, tinfo(ATTN[0], [33], T_Q4_0, 32)).bytes(),
            "row length 33 is not a whole number of Q4_0 blocks (32 elements each)",
            "a Q4_0 tensor with rows of 33 elements"),
        fmt("element-count-overflow.gguf", with_info(1, tinfo(ATTN[0], [2**32, 2**32, 2], T_F32, 32)).bytes(),
            "tensor element count overflows 64 bits", "2^32 x 2^32 x 2 elements"),
        fmt("element-count-over-int64.gguf", with_info(1, tinfo(ATTN[0], [2**32, 2**31], T_I8, 32)).bytes(),
            "element count overflows int64", "2^63 elements"),
        fmt("byte-size-overflow.gguf", with_info(1, tinfo(ATTN[0], [2**62], T_F64, 32)).bytes(),
            "tensor byte size overflows 64 bits", "2^62 F64 elements: 2^65 bytes"),
        fmt("offset-size-overflow.gguf", with_info(1, tinfo(ATTN[0], ATTN[1], ATTN[2], 2**64 - 32)).bytes(),
            "offset + size overflows 64 bits", "an offset of 2^64-32"),
        fmt("offset-wraps-with-data-start.gguf", with_info(1, tinfo(ATTN[0], ATTN[1], ATTN[2], 2**64 - 64)).bytes(),
            "offset + size overflows 64 bits",
            "an aligned offset of 2^64-64: offset + size fits, but the data section's start pushes it past 2^64"),
        fmt("duplicate-tensor-name.gguf", with_info(1, tinfo(TOK[0], ATTN[1], ATTN[2], 32)).bytes(),
            "duplicate tensor name 'tok_embd.weight'", "two tensors with one name"),
        fmt("empty-tensor-name.gguf", with_info(1, tinfo("", ATTN[1], ATTN[2], 32)).bytes(),
            "tensor 1 has an empty name", "a tensor name of length 0"),

        # The data section and the tensor layout.
        fmt("trunc-in-header-padding.gguf", cut(b, b.info_at(2) + 3),
            f"it ends before the tensor data section ({b.data_at()} bytes)", "ends between the tensor infos and the data"),
        ("trunc-in-data-section.gguf", cut(b, attn_at), "integrity",
         f"'blk.0.attn_q.weight': at offset {attn_at}: integrity error: data (34 bytes) extends past the end", 1,
         "damaged:    tensor 'blk.0.attn_q.weight'", "ends where the second tensor's data should begin"),
        ("trunc-mid-tensor.gguf", cut(b, attn_at + 20), "integrity",
         "data (34 bytes) extends past the end of the file", 1,
         f"data ends at byte {attn_at + 34}, past the end of the file ({attn_at + 20} bytes)",
         "ends 20 bytes into the second tensor"),
        ("misaligned-offset.gguf",
         with_info(1, tinfo(ATTN[0], ATTN[1], ATTN[2], 40),
                   data=tensor_bytes(TOK[2], TOK[1], 1) + bytes(8) + pad(tensor_bytes(ATTN[2], ATTN[1], 2), 56)).bytes(),
         "integrity", "data offset 40 is not a multiple of the alignment 32 (run 'qkv repair')", 1,
         "all repairable with 'qkv repair'", "the second tensor at offset 40"),
        ("overlapping-tensors.gguf",
         with_info(1, tinfo(ATTN[0], ATTN[1], ATTN[2], 0), data=pad(tensor_bytes(ATTN[2], ATTN[1], 2))).bytes(),
         "integrity", "data overlaps tensor", 1, "the tensor is short or overlaps; this cannot be repaired",
         "both tensors at offset 0"),
        ("tensor-past-end.gguf", with_info(1, tinfo(ATTN[0], ATTN[1], ATTN[2], 1024)).bytes(), "integrity",
         "extends past the end of the file", 1, f"damaged:    tensor 'blk.0.attn_q.weight' at offset {b.data_at() + 1024}",
         "the second tensor's offset past the end of the file"),
        ("nonzero-padding.gguf", base(data=tensor_bytes(TOK[2], TOK[1], 1) + tensor_bytes(ATTN[2], ATTN[1], 2) +
                                      b"\xaa" * 30).bytes(), "ok", "-", 1,
         f"repairable: tensor 'blk.0.attn_q.weight' at offset {attn_at}: the padding after its last block is not zero",
         "0xAA in the padding after the last tensor"),
        ("surplus-after-last-tensor.gguf", base(data=b.data + bytes(100)).bytes(), "ok", "-", 1,
         "100 beyond the alignment padding", "100 bytes past the last tensor's padding"),
        ("surplus-between-tensors.gguf",
         with_info(1, tinfo(ATTN[0], ATTN[1], ATTN[2], 64),
                   data=tensor_bytes(TOK[2], TOK[1], 1) + bytes(32) + pad(tensor_bytes(ATTN[2], ATTN[1], 2))).bytes(),
         "ok", "-", 1, "its region holds 64 bytes where its 8 F32 blocks (4 bytes each) need 32 bytes",
         "32 bytes between the first tensor and the second"),
        ("gap-before-first-tensor.gguf",
         base(infos=[tinfo(TOK[0], TOK[1], TOK[2], 32), tinfo(ATTN[0], ATTN[1], ATTN[2], 64)],
              data=bytes(32) + b.data).bytes(), "ok", "-", 1,
         "32 unused bytes lie before the first tensor's data", "32 unused bytes before the first tensor"),
    ]


# Fuzz seeds: the valid files and a few that reach the deepest checks.
SEEDS = ["valid-two-tensors.gguf", "valid-v2-all-value-types.gguf", "valid-no-tensors.gguf", "valid-many-types.gguf",
         "misaligned-offset.gguf", "overlapping-tensors.gguf", "nonzero-padding.gguf", "surplus-between-tensors.gguf",
         "arrays-nested-9-deep.gguf", "q4_0-33-columns.gguf", "byte-size-overflow.gguf"]


def main():
    root = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent
    out = root / "tests" / "data" / "gguf-malformed"
    seeds = root / "fuzz" / "corpus" / "gguf"
    out.mkdir(parents=True, exist_ok=True)
    seeds.mkdir(parents=True, exist_ok=True)
    for old in list(out.glob("*.gguf")) + list(seeds.glob("*.gguf")):
        old.unlink()

    rows = ["# Written by scripts/make-gguf-malformed-corpus.py; see its docstring for the columns.",
            "# file\tstrict\tstrict_message\tcheck_exit\tcheck_output\twhat"]
    names = set()
    for name, data, strict, strict_msg, check_exit, check_out, what in cases():
        assert name not in names, name
        names.add(name)
        for field in (strict_msg, check_out, what):
            assert "\t" not in field and "\n" not in field, name
        (out / name).write_bytes(data)
        rows.append("\t".join([name, strict, strict_msg, str(check_exit), check_out, what]))
    (out / "expected.tsv").write_text("\n".join(rows) + "\n")
    for name in SEEDS:
        (seeds / name).write_bytes((out / name).read_bytes())
    print(f"wrote {len(names)} files to {out} and {len(SEEDS)} seeds to {seeds}")


if __name__ == "__main__":
    main()
