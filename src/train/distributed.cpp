// MPI data parallelism; without QKV_WITH_MPI a single rank whose collectives are no-ops.
#include "qkv/train_distributed.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "qkv/error.h"

#ifdef QKV_WITH_MPI
#include <mpi.h>
#endif

namespace qkv::train::dist {
namespace {

bool g_session = false;  // a Session exists (MPI may still be off)
bool g_mpi = false;      // MPI_Init was called by it
int g_rank = 0, g_world = 1;

bool launched_by_mpi() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(var)) return true;
  return false;
}

#ifdef QKV_WITH_MPI
void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw Error(ErrorKind::IO, std::string("MPI: ") + what + " failed (code " + std::to_string(rc) + ")");
}
#endif

}  // namespace

Session::Session() {
  if (g_session) throw Error(ErrorKind::Usage, "internal: a second MPI session in one process");
  g_session = true;
  if (!launched_by_mpi()) return;
#ifdef QKV_WITH_MPI
  check(MPI_Init(nullptr, nullptr), "MPI_Init");
  g_mpi = true;
  check(MPI_Comm_rank(MPI_COMM_WORLD, &g_rank), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &g_world), "MPI_Comm_size");
#else
  if (const char* n = std::getenv("OMPI_COMM_WORLD_SIZE"); n && std::atoi(n) > 1)
    throw Error(ErrorKind::Usage, "this qkv was built without MPI (QKV_MPI=OFF): each of the " + std::string(n) +
                                      " ranks would train alone; rebuild with libopenmpi-dev installed");
#endif
}

Session::~Session() {
#ifdef QKV_WITH_MPI
  if (g_mpi) MPI_Finalize();
#endif
  g_session = g_mpi = false;
  g_rank = 0;
  g_world = 1;
}

bool compiled() {
#ifdef QKV_WITH_MPI
  return true;
#else
  return false;
#endif
}

int rank() { return g_rank; }
int world() { return g_world; }

void average([[maybe_unused]] std::span<float> values) {
  if (g_world == 1) return;
#ifdef QKV_WITH_MPI
  // MPI counts are int: reduce in chunks so that any model size works.
  constexpr size_t kChunk = size_t(1) << 30;
  for (size_t i = 0; i < values.size(); i += kChunk) {
    const int n = static_cast<int>(std::min(kChunk, values.size() - i));
    check(MPI_Allreduce(MPI_IN_PLACE, values.data() + i, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  }
  const float inv = 1.0f / static_cast<float>(g_world);
  for (float& v : values) v *= inv;
#endif
}

double average(double value) {
  if (g_world == 1) return value;
#ifdef QKV_WITH_MPI
  check(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
#endif
  return value / g_world;
}

void broadcast([[maybe_unused]] std::span<float> values) {
  if (g_world == 1) return;
#ifdef QKV_WITH_MPI
  constexpr size_t kChunk = size_t(1) << 30;
  for (size_t i = 0; i < values.size(); i += kChunk) {
    const int n = static_cast<int>(std::min(kChunk, values.size() - i));
    check(MPI_Bcast(values.data() + i, n, MPI_FLOAT, 0, MPI_COMM_WORLD), "MPI_Bcast");
  }
#endif
}

void barrier() {
  if (g_world == 1) return;
#ifdef QKV_WITH_MPI
  check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#endif
}

void abort_job(int code) {
#ifdef QKV_WITH_MPI
  if (g_mpi) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

Batch rows_of_rank(const Batch& global, int rank, int world) {
  if (world < 1 || rank < 0 || rank >= world || global.B % world != 0)
    throw Error(ErrorKind::Usage, "internal: a batch of " + std::to_string(global.B) + " rows cannot be split over " +
                                      std::to_string(world) + " ranks");
  Batch b;
  b.B = global.B / world;
  b.T = global.T;
  const size_t n = size_t(b.B) * size_t(b.T), first = size_t(rank) * n;
  b.tokens.assign(global.tokens.begin() + long(first), global.tokens.begin() + long(first + n));
  b.targets.assign(global.targets.begin() + long(first), global.targets.begin() + long(first + n));
  return b;
}

}  // namespace qkv::train::dist
