#include "qkv/gguf_check.h"

#include <algorithm>
#include <cstring>

#include "qkv/error.h"

namespace qkv::gguf {

bool AuditReport::repairable() const {
  return std::all_of(problems.begin(), problems.end(), [](const Problem& p) { return p.repairable(); });
}

AuditReport audit_layout(const File& f) {
  AuditReport r;
  r.tensors = f.tensors().size();
  const uint64_t file_size = f.bytes().size();
  const uint64_t data_size = file_size - f.data_offset();
  std::vector<const TensorInfo*> order;
  for (const auto& t : f.tensors()) {
    order.push_back(&t);
    r.tensor_bytes += t.nbytes();
  }
  // Ties put a zero-size tensor before the one whose offset it shares: it owns no bytes of that region.
  std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) {
    return a->offset != b->offset ? a->offset < b->offset : a->nbytes() < b->nbytes();
  });

  auto add = [&](Problem::Kind k, const TensorInfo& t, std::string msg) {
    r.problems.push_back({k, t.name, f.data_offset() + t.offset, std::move(msg)});
  };
  for (size_t i = 0; i < order.size(); ++i) {
    const TensorInfo& t = *order[i];
    const TypeInfo& ti = type_info(t.type);
    const uint64_t exact = t.nbytes();
    const uint64_t blocks = t.n_elements() / ti.block_elems;
    const std::string need = std::to_string(blocks) + " " + std::string(ti.name) + " blocks (" +
                             std::to_string(ti.block_bytes) + " bytes each) need " + std::to_string(exact) + " bytes";
    if (t.offset % f.alignment() != 0)
      add(Problem::Kind::Misaligned, t, "offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                                           std::to_string(f.alignment()));
    if (t.offset > data_size || exact > data_size - t.offset) {
      add(Problem::Kind::OutOfFile, t, "data ends at byte " + std::to_string(f.data_offset() + t.offset + exact) +
                                           ", past the end of the file (" + std::to_string(file_size) +
                                           " bytes): the file is truncated; " + need);
      continue;
    }
    const uint64_t region_end = i + 1 < order.size() ? std::min(order[i + 1]->offset, data_size) : data_size;
    const uint64_t region = region_end > t.offset ? region_end - t.offset : 0;
    if (region < exact) {
      add(Problem::Kind::Short, t, "its region holds " + std::to_string(region) + " bytes before tensor '" +
                                       order[i + 1]->name + "' starts, but its " + need +
                                       ": the tensor is short or overlaps; this cannot be repaired");
      continue;
    }
    const uint64_t padded = std::min(align_up(exact, f.alignment()), region);
    if (region > padded)
      add(Problem::Kind::Surplus, t, "its region holds " + std::to_string(region) + " bytes where its " + need + ": " +
                                         std::to_string(region - exact) + " bytes past the last block (" +
                                         std::to_string(region - padded) + " beyond the alignment padding)");
    const uint8_t* pad = f.bytes().data() + f.data_offset() + t.offset + exact;
    if (std::any_of(pad, pad + (padded - exact), [](uint8_t b) { return b != 0; }))
      add(Problem::Kind::NonZeroPadding, t, "the padding after its last block is not zero");
  }
  if (!order.empty() && order.front()->offset > 0 && order.front()->offset % f.alignment() == 0)
    add(Problem::Kind::Surplus, *order.front(),
        std::to_string(order.front()->offset) + " unused bytes lie before the first tensor's data");
  return r;
}

RepairResult repair(const File& f, const std::string& out_path) {
  RepairResult res;
  res.before = audit_layout(f);
  res.old_size = f.bytes().size();
  for (const auto& p : res.before.problems)
    if (!p.repairable())
      throw Error(ErrorKind::Integrity, p.message + " -- refusing to repair, no output written", f.path(), p.tensor,
                  p.offset);

  std::vector<TensorInfo> infos = f.tensors();
  Writer w(out_path, f.metadata(), infos, f.version());
  for (size_t i = 0; i < infos.size(); ++i) {
    w.write_tensor(f.tensor_data(i));
    if (w.tensors()[i].offset != f.tensors()[i].offset) ++res.tensors_moved;
  }
  w.finish([&](const std::string& tmp) {
    // Verify before the rename: the repaired file must pass the audit and
    // hold every tensor's bytes unchanged.
    const File out = File::open(tmp);
    const AuditReport after = audit_layout(out);
    if (!after.ok())
      throw Error(ErrorKind::Integrity, "repaired file still fails the audit: " + after.problems[0].message, out_path);
    for (size_t i = 0; i < infos.size(); ++i) {
      const auto a = f.tensor_data(i), b = out.tensor_data(i);
      if (a.size() != b.size() || std::memcmp(a.data(), b.data(), a.size()) != 0)
        throw Error(ErrorKind::Integrity, "tensor bytes changed during repair", out_path, infos[i].name);
    }
    res.new_size = out.bytes().size();
  });
  res.bytes_trimmed = res.old_size > res.new_size ? res.old_size - res.new_size : 0;
  return res;
}

}  // namespace qkv::gguf
