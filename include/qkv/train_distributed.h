// Data-parallel training over MPI (`mpirun -np N qkv train`): every rank
// holds the whole model, takes its share of each global batch, and the ranks
// average their gradients before each identical optimizer step.
//
// MPI is started only when the process was launched by an MPI launcher
// (mpirun sets OMPI_COMM_WORLD_SIZE / PMI_SIZE / PMIX_RANK); a plain `qkv train`
// is one rank and never touches MPI. Built without QKV_MPI, every process is
// one rank and the collectives below do nothing.
#pragma once

#include <span>

#include "qkv/train_data.h"

namespace qkv::train::dist {

// Starts MPI for this process's lifetime when launched by mpirun; finalizes
// it at destruction. One per process (the CLI makes it); a second throws.
class Session {
 public:
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
};

bool compiled();  // built with QKV_MPI
int rank();       // 0 without a Session
int world();      // 1 without a Session
inline bool is_root() { return rank() == 0; }

// In place: the element-wise mean over the ranks.
void average(std::span<float> values);
double average(double value);
// In place: rank 0's values on every rank.
void broadcast(std::span<float> values);
void barrier();
// Ends every rank of the job: one rank's error would otherwise leave the
// others waiting forever in a collective.
[[noreturn]] void abort_job(int code);

// Rows [rank * B, (rank + 1) * B) of a global batch of B * world rows: the
// ranks together see exactly the batch one rank with B * world rows would.
Batch rows_of_rank(const Batch& global, int rank, int world);

}  // namespace qkv::train::dist
