// Which dot kernel a weight type gets: its row of the traits table
// (quant/traits.h), and of that row's SIMD variants those this CPU runs
// (qkv/cpu.h), read at run time.
#include "runtime/vec_dot.h"

#include <string>

#include "qkv/cpu.h"
#include "qkv/error.h"
#include "quant/traits.h"

namespace qkv::ops {
namespace {

bool runs(const SimdDot& d) { return d.variant && cpu().*d.needs; }

}  // namespace

ActType act_type_for(TensorType weight) {
  const TypeTraits* t = find_traits(weight);
  return t ? t->act : ActType::None;
}

VecDotFn vec_dot_reference(TensorType type) {
  const TypeTraits* t = find_traits(type);
  return t ? t->dot_ref : nullptr;
}

std::vector<VecDotVariant> vec_dot_variants(TensorType type) {
  std::vector<VecDotVariant> v;
  if (const TypeTraits* t = find_traits(type))
    for (const SimdDot& d : t->dots)
      if (runs(d)) v.push_back(*d.variant);
  return v;
}

const VecDotVariant* vec_dot_best(TensorType type) {
  const VecDotVariant* best = nullptr;
  if (const TypeTraits* t = find_traits(type))
    for (const SimdDot& d : t->dots)  // slowest first
      if (runs(d)) best = d.variant;
  return best;
}

VecDotFn vec_dot_kernel(TensorType type) {
  if (const VecDotVariant* f = vec_dot_best(type)) return f->one;
  return vec_dot_reference(type);
}

float vec_dot(TensorType type, const void* w, const void* a, int64_t n) {
  const VecDotFn f = vec_dot_kernel(type);
  if (!f) throw Error(ErrorKind::Unsupported, "vec_dot: no kernel for " + std::string(type_name(type)));
  if (n % type_info(type).block_elems != 0)
    throw Error(ErrorKind::Format, "vec_dot: " + std::to_string(n) + " elements are not whole " +
                                       std::string(type_name(type)) + " blocks");
  return f(w, a, n);
}

}  // namespace qkv::ops
