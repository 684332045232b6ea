#pragma once
/// \file process_group.hpp  Data-parallel training on PyTorch's own distributed runtime (c10d).
///
/// A ProcessGroup is one process's membership in a group of `world_size` processes that train one
/// model together: rendezvous through c10d's TCPStore at MASTER_ADDR:MASTER_PORT, collectives through
/// c10d's ProcessGroupGloo (CPU) or ProcessGroupNCCL (CUDA). The environment is the one torchrun and
/// `torch.distributed` use (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK), so any launcher
/// that sets it — torchrun, Slurm's srun with a line of shell, a hand-written script — starts labelrep.
///
/// The Trainer uses it through TrainerOptions::process_group (docs/scaling.md): parameters and buffers
/// are broadcast from rank 0, every rank takes its shard of each global batch, a GradientReducer sums
/// the gradients in buckets, only rank 0 writes files.
///
/// Example (two processes, e.g. `RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 ./prog`):
/// \code
///   auto group = std::make_shared<labelrep::dist::ProcessGroup>(labelrep::dist::ProcessGroupOptions::from_environment());
///   labelrep::dist::broadcast_module(*group, *model);                  // everyone starts from rank 0's weights
///   labelrep::dist::GradientReducer reducer(group, model->parameters());
///   // per step: forward/backward on this rank's shard, then
///   reducer.reduce(double(shard_images) / double(global_images));    // the global batch's mean gradient
///   optimizer.step();
/// \endcode
/// Failure: a peer that dies or stops answering makes the next collective throw DistributedError —
/// at once when its connection closes, otherwise after `timeout_seconds`. Errors never hang forever.
/// Thread-safety: one thread per ProcessGroup; collectives must be called in the same order on every rank.
/// c10d stays out of this header (pimpl), so it needs no c10d or gloo headers to include.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/types.h>

#include "labelrep/core/error.hpp"
#include "labelrep/export.hpp"

namespace labelrep::dist {

/// A collective or the rendezvous failed: a peer died, stopped answering within the timeout, or
/// could not be reached. The message names this rank, the operation and what c10d said.
class LABELREP_API DistributedError : public Error {
 public:
  using Error::Error;
};

/// Whether this build has the Gloo backend (CMake option LABELREP_WITH_GLOO).
LABELREP_API bool gloo_available() noexcept;
/// Whether this build has the NCCL backend (LABELREP_WITH_NCCL; needs a CUDA libtorch).
LABELREP_API bool nccl_available() noexcept;

struct LABELREP_API ProcessGroupOptions {
  ProcessGroupOptions() = default;
  /// Reads MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE (and LOCAL_RANK, default 0) as torchrun
  /// sets them. Throws InvalidArgument naming a missing or non-integer variable, or as validate().
  static ProcessGroupOptions from_environment();
  /// Throws InvalidArgument for a world_size below 1, a rank outside [0, world_size), a local_rank
  /// below 0, a port outside [1, 65535], an empty master address, a backend other than auto, gloo and
  /// nccl, a timeout outside (0, 604800] seconds, or a device libtorch cannot parse.
  void validate() const;

  TORCH_ARG(std::string, master_address) = "127.0.0.1";
  TORCH_ARG(int, master_port) = 29500;
  TORCH_ARG(int, rank) = 0;
  TORCH_ARG(int, world_size) = 1;
  /// This process's index on its machine (picks its GPU with device "cuda").
  TORCH_ARG(int, local_rank) = 0;
  /// "gloo", "nccl", or "auto": NCCL for a CUDA `device` when available, Gloo otherwise.
  TORCH_ARG(std::string, backend) = "auto";
  /// Where the tensors of the collectives live: "cpu" or a CUDA device (NCCL needs CUDA tensors;
  /// "cuda" without an index means cuda:local_rank).
  TORCH_ARG(std::string, device) = "cpu";
  /// Bound of the rendezvous and of every collective. A dead peer's closed connection is noticed at
  /// once; the timeout bounds a peer that hangs. It must exceed the longest time one rank works alone
  /// (rank 0's validation and checkpoint between two steps). PyTorch's default is 30 minutes.
  TORCH_ARG(double, timeout_seconds) = 1800;
};

/// Whether the environment asks for data-parallel training: WORLD_SIZE is set and greater than 1.
/// Throws InvalidArgument if WORLD_SIZE is set but not an integer.
LABELREP_API bool environment_requests_distributed();

class LABELREP_API ProcessGroup {
 public:
  /// Joins the group: rank 0 serves the TCPStore at master_address:master_port, every rank connects,
  /// then the backend connects all pairs. Blocks until all world_size ranks have joined.
  /// Side effect: if SIGPIPE still has its default action, it is set to ignored (as the Python
  /// interpreter does for every torch.distributed user). Otherwise a peer that dies mid-collective kills
  /// this process with SIGPIPE when Gloo writes to the closed socket, instead of the DistributedError
  /// below. A handler the program installed itself is left alone.
  /// Throws InvalidArgument (options), Error "built without ..." when the backend is not compiled in,
  /// DistributedError when the rendezvous fails or times out.
  explicit ProcessGroup(ProcessGroupOptions options);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const noexcept;
  int world_size() const noexcept;
  /// The backend in use: "gloo" or "nccl".
  const std::string& backend() const noexcept;
  /// The device of the scalars the group exchanges (CPU for Gloo, the CUDA device for NCCL).
  torch::Device device() const;
  const ProcessGroupOptions& options() const noexcept;

  /// Sums each tensor over the ranks, in place. Every rank passes tensors of the same shapes, dtypes
  /// and order. Requires dense tensors on device() (NCCL) or the CPU/CUDA (Gloo).
  /// Throws DistributedError when a peer fails or c10d refuses the tensors (device, layout, shape).
  void all_reduce_sum(std::vector<torch::Tensor>& tensors);
  /// Overwrites each tensor with root's. Throws InvalidArgument for a bad root, DistributedError.
  void broadcast(std::vector<torch::Tensor>& tensors, int root = 0);
  /// Returns root's `bytes` on every rank (other ranks' argument is ignored); for small messages and
  /// files such as a checkpoint. Throws InvalidArgument for a bad root, DistributedError.
  std::string broadcast_bytes(const std::string& bytes, int root = 0);
  /// Returns when every rank has called it. Throws DistributedError.
  void barrier();

 private:
  friend class GradientReducer;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Copies root's parameters and buffers into every rank's `module` (same architecture on every rank).
/// With `buffers_only`, just the buffers (BatchNorm running statistics). Throws InvalidArgument for a
/// bad root, DistributedError.
LABELREP_API void broadcast_module(ProcessGroup& group, torch::nn::Module& module, bool buffers_only = false, int root = 0);

/// Sums gradients over the ranks in buckets of about `bucket_bytes` (as PyTorch's DDP, 25 MiB by
/// default): each bucket is flattened into one tensor, all buckets' all-reduces are started together
/// and then awaited, and the sums are copied back. Keeps a reference to the group.
class LABELREP_API GradientReducer {
 public:
  /// `parameters` in model order (buckets are filled from the last, whose gradients are ready first).
  /// Throws InvalidArgument for a null group or bucket_bytes < 1.
  GradientReducer(std::shared_ptr<ProcessGroup> group, std::vector<torch::Tensor> parameters,
                  std::int64_t bucket_bytes = std::int64_t{25} << 20);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  /// Replaces the gradient g_r of every parameter that required grad when the reducer was built (an
  /// undefined one counts as zeros) by Σ_r weight_r · g_r over the ranks. With weight_r = (images in
  /// rank r's shard) / (images in the global batch) that is the gradient of the global batch's mean
  /// loss, also when the shards differ in size.
  /// Every rank must call it once per step. Throws DistributedError.
  void reduce(double weight);
  /// Number of buckets (one all-reduce each per step).
  std::size_t buckets() const noexcept;

 private:
  std::shared_ptr<ProcessGroup> group_;
  std::vector<torch::Tensor> parameters_;
  std::vector<std::vector<std::size_t>> buckets_;  // indices into parameters_
};

}  // namespace labelrep::dist
