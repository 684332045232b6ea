#include "labelrep/dist/process_group.hpp"

#include <c10/util/Exception.h>
#include <torch/version.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <limits>
#include <signal.h>

#include "core/boundary.hpp"

#if defined(LABELREP_HAS_GLOO) || defined(LABELREP_HAS_NCCL)
#define LABELREP_HAS_C10D 1
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>
// libtorch 2.x split the collective implementations (Backend) from the user-facing ProcessGroup;
// in 1.13 ProcessGroupGloo/NCCL are ProcessGroups. Both have the collectives used here.
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif
#endif
#ifdef LABELREP_HAS_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef LABELREP_HAS_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace labelrep::dist {
namespace {

// Gloo and the TCPStore write to sockets without MSG_NOSIGNAL. When a peer dies, the next write to its
// closed connection raises SIGPIPE, whose default action ends this process with status 141 before the
// failed write can become a DistributedError (seen in CI: the surviving rank died instead of reporting
// the lost peer). Python ignores SIGPIPE at start-up, so torch.distributed never meets this; we do the
// same, unless the program has chosen a disposition of its own.
void ignore_default_sigpipe() {
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) != 0) return;
  if ((current.sa_flags & SA_SIGINFO) == 0 && current.sa_handler == SIG_DFL) {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    ::sigaction(SIGPIPE, &ignore, nullptr);
  }
}

#ifdef LABELREP_HAS_C10D
#if TORCH_VERSION_MAJOR >= 2
using CollectiveBackend = c10d::Backend;
#else
using CollectiveBackend = c10d::ProcessGroup;
#endif
#endif

// What c10d said, without libtorch's stack trace.
std::string describe(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) return c10_error->what_without_backtrace();
  return e.what();
}

int environment_int(const char* name, bool required, int fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') {
    if (required) throw InvalidArgument(fmt::format("distributed: the environment variable {} is not set (torchrun sets MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE; see docs/scaling.md)", name));
    return fallback;
  }
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max())
    throw InvalidArgument(fmt::format("distributed: the environment variable {}='{}' is not an integer", name, text));
  return static_cast<int>(value);
}

}  // namespace

bool gloo_available() noexcept {
#ifdef LABELREP_HAS_GLOO
  return true;
#else
  return false;
#endif
}

bool nccl_available() noexcept {
#ifdef LABELREP_HAS_NCCL
  return true;
#else
  return false;
#endif
}

bool environment_requests_distributed() {
  const char* text = std::getenv("WORLD_SIZE");
  return text != nullptr && *text != '\0' && environment_int("WORLD_SIZE", true, 1) > 1;
}

ProcessGroupOptions ProcessGroupOptions::from_environment() {
  ProcessGroupOptions o;
  const char* address = std::getenv("MASTER_ADDR");
  if (address == nullptr || *address == '\0')
    throw InvalidArgument("distributed: the environment variable MASTER_ADDR is not set (torchrun sets MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE; see docs/scaling.md)");
  o.master_address(address);
  o.master_port(environment_int("MASTER_PORT", true, 0));
  o.rank(environment_int("RANK", true, 0));
  o.world_size(environment_int("WORLD_SIZE", true, 1));
  o.local_rank(environment_int("LOCAL_RANK", false, 0));
  o.validate();
  return o;
}

void ProcessGroupOptions::validate() const {
  if (world_size() < 1) throw InvalidArgument(fmt::format("distributed: world size must be >= 1, got {}", world_size()));
  if (rank() < 0 || rank() >= world_size())
    throw InvalidArgument(fmt::format("distributed: rank {} is outside [0, {}) (WORLD_SIZE {})", rank(), world_size(), world_size()));
  if (local_rank() < 0) throw InvalidArgument(fmt::format("distributed: local rank must be >= 0, got {}", local_rank()));
  if (master_port() < 1 || master_port() > 65535) throw InvalidArgument(fmt::format("distributed: master port {} is outside [1, 65535]", master_port()));
  if (master_address().empty()) throw InvalidArgument("distributed: the master address is empty");
  if (backend() != "auto" && backend() != "gloo" && backend() != "nccl")
    throw InvalidArgument(fmt::format("distributed: unknown backend '{}' (known: auto, gloo, nccl)", backend()));
  if (!(timeout_seconds() > 0) || timeout_seconds() > 7 * 24 * 3600.0)
    throw InvalidArgument(fmt::format("distributed: timeout must be in (0, 604800] seconds, got {}", timeout_seconds()));
  try {
    (void)torch::Device(device());
  } catch (const std::exception&) {
    throw InvalidArgument(fmt::format("distributed: device '{}' is not a device libtorch knows (cpu, cuda, cuda:N)", device()));
  }
}

struct ProcessGroup::Impl {
  ProcessGroupOptions options;
  std::string backend;
  torch::Device device{torch::kCPU};
#ifdef LABELREP_HAS_C10D
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<CollectiveBackend> collectives;
#endif

  [[noreturn]] void fail(const char* operation, const std::exception& e) const {
    throw DistributedError(fmt::format("distributed: rank {} of {}: {} failed (a peer process died, stopped answering within {:g} s, or "
                                       "could not be reached): {}",
                                       options.rank(), options.world_size(), operation, options.timeout_seconds(), describe(e)));
  }
};

ProcessGroup::ProcessGroup(ProcessGroupOptions options) try : impl_(std::make_unique<Impl>()) {
  options.validate();
  ignore_default_sigpipe();
  impl_->options = options;
  torch::Device device(options.device());
  if (device.is_cuda() && !device.has_index()) device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(options.local_rank()));
  std::string backend = options.backend();
  if (backend == "auto") backend = device.is_cuda() && nccl_available() ? "nccl" : "gloo";
  if (backend == "gloo" && !gloo_available())
    throw Error("distributed: labelrep was built without the Gloo backend (configure with the c10d and gloo headers present, "
                "Debian: libgloo-dev; CMake option LABELREP_WITH_GLOO)");
  if (backend == "nccl" && !nccl_available())
    throw Error("distributed: labelrep was built without the NCCL backend (it needs a CUDA libtorch and nccl.h; CMake option LABELREP_WITH_NCCL)");
  if (backend == "nccl" && !device.is_cuda())
    throw InvalidArgument(fmt::format("distributed: the NCCL backend needs a CUDA device, got '{}'", options.device()));
  impl_->backend = backend;
  impl_->device = backend == "nccl" ? device : torch::Device(torch::kCPU);
#ifdef LABELREP_HAS_C10D
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(options.timeout_seconds() * 1000.0));
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(options.master_port());
    store_options.isServer = options.rank() == 0;
    store_options.numWorkers = static_cast<std::size_t>(options.world_size());
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(options.master_address(), store_options);
  } catch (const std::exception& e) {
    throw DistributedError(fmt::format("distributed: rank {} of {}: rendezvous at {}:{} failed (are all {} processes started, with the same "
                                       "MASTER_ADDR and MASTER_PORT, and is the port free?): {}",
                                       options.rank(), options.world_size(), options.master_address(), options.master_port(),
                                       options.world_size(), describe(e)));
  }
  try {
#ifdef LABELREP_HAS_GLOO
    if (backend == "gloo") {
      auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout);
      // As torch.distributed: GLOO_SOCKET_IFNAME names the network interface; otherwise loopback when
      // the master is on this machine, else the address this machine's hostname resolves to.
      const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
      const std::string& address = options.master_address();
      if (interface != nullptr && *interface != '\0')
        gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
      else if (address == "localhost" || address.rfind("127.", 0) == 0)
        gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      gloo_options->threads = 2;
      impl_->collectives = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, options.rank(), options.world_size(), gloo_options);
    }
#endif
#ifdef LABELREP_HAS_NCCL
    if (backend == "nccl") {
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = timeout;
      impl_->collectives = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, options.rank(), options.world_size(), nccl_options);
    }
#endif
  } catch (const std::exception& e) {
    throw DistributedError(fmt::format("distributed: rank {} of {}: rendezvous at {}:{} failed while connecting the {} backend (are all {} "
                                       "processes started, with the same MASTER_ADDR and MASTER_PORT?): {}",
                                       options.rank(), options.world_size(), options.master_address(), options.master_port(), backend,
                                       options.world_size(), describe(e)));
  }
#endif
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("ProcessGroup");
}

ProcessGroup::~ProcessGroup() = default;

int ProcessGroup::rank() const noexcept { return impl_->options.rank(); }
int ProcessGroup::world_size() const noexcept { return impl_->options.world_size(); }
const std::string& ProcessGroup::backend() const noexcept { return impl_->backend; }
torch::Device ProcessGroup::device() const { return impl_->device; }
const ProcessGroupOptions& ProcessGroup::options() const noexcept { return impl_->options; }

void ProcessGroup::all_reduce_sum(std::vector<torch::Tensor>& tensors) {
  if (tensors.empty()) return;
#ifdef LABELREP_HAS_C10D
  try {
    // One collective per tensor keeps the call portable (Gloo's multi-tensor form wants one tensor per device).
    std::vector<c10::intrusive_ptr<c10d::Work>> pending;
    std::vector<std::vector<at::Tensor>> slots;
    slots.reserve(tensors.size());
    for (auto& t : tensors) {
      slots.push_back({t});
      pending.push_back(impl_->collectives->allreduce(slots.back()));
    }
    for (auto& work : pending) work->wait();
  } catch (const std::exception& e) {
    impl_->fail("all-reduce", e);
  }
#endif
}

void ProcessGroup::broadcast(std::vector<torch::Tensor>& tensors, int root) {
  if (root < 0 || root >= world_size()) throw InvalidArgument(fmt::format("distributed: broadcast root {} is outside [0, {})", root, world_size()));
  if (tensors.empty()) return;
#ifdef LABELREP_HAS_C10D
  try {
    c10d::BroadcastOptions broadcast_options;
    broadcast_options.rootRank = root;
    std::vector<c10::intrusive_ptr<c10d::Work>> pending;
    std::vector<std::vector<at::Tensor>> slots;
    slots.reserve(tensors.size());
    for (auto& t : tensors) {
      slots.push_back({t});
      pending.push_back(impl_->collectives->broadcast(slots.back(), broadcast_options));
    }
    for (auto& work : pending) work->wait();
  } catch (const std::exception& e) {
    impl_->fail("broadcast", e);
  }
#endif
}

std::string ProcessGroup::broadcast_bytes(const std::string& bytes, int root) try {
  const auto options = torch::TensorOptions().device(impl_->device);
  std::vector<torch::Tensor> size = {torch::full({1}, rank() == root ? static_cast<std::int64_t>(bytes.size()) : 0, options.dtype(torch::kLong))};
  broadcast(size, root);
  const std::int64_t n = size[0].item<std::int64_t>();
  if (n == 0) return {};
  std::vector<torch::Tensor> payload(1);
  if (rank() == root)
    payload[0] = torch::from_blob(const_cast<char*>(bytes.data()), {n}, torch::kUInt8).to(impl_->device, /*non_blocking=*/false, /*copy=*/true);
  else
    payload[0] = torch::empty({n}, options.dtype(torch::kUInt8));
  broadcast(payload, root);
  const auto host = payload[0].cpu().contiguous();
  return std::string(reinterpret_cast<const char*>(host.data_ptr<std::uint8_t>()), static_cast<std::size_t>(n));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("ProcessGroup::broadcast_bytes");
}

void ProcessGroup::barrier() {
#ifdef LABELREP_HAS_C10D
  try {
    impl_->collectives->barrier()->wait();
  } catch (const std::exception& e) {
    impl_->fail("barrier", e);
  }
#endif
}

void broadcast_module(ProcessGroup& group, torch::nn::Module& module, bool buffers_only, int root) try {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> targets = module.buffers();
  if (!buffers_only) {
    const auto parameters = module.parameters();
    targets.insert(targets.begin(), parameters.begin(), parameters.end());
  }
  // Collectives move raw memory: send contiguous copies (channels-last weights are not contiguous)
  // and copy the result back in the tensor's own layout.
  std::vector<torch::Tensor> staged;
  staged.reserve(targets.size());
  for (const auto& t : targets) staged.push_back(t.contiguous().to(t.is_cuda() || group.backend() == "nccl" ? group.device() : t.device()));
  group.broadcast(staged, root);
  for (std::size_t i = 0; i < targets.size(); ++i)
    if (!staged[i].is_same(targets[i])) targets[i].copy_(staged[i]);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("broadcast_module");
}

GradientReducer::GradientReducer(std::shared_ptr<ProcessGroup> group, std::vector<torch::Tensor> parameters, std::int64_t bucket_bytes) try
    : group_(std::move(group)), parameters_(std::move(parameters)) {
  if (!group_) throw InvalidArgument("GradientReducer: the process group is null");
  if (bucket_bytes < 1) throw InvalidArgument(fmt::format("GradientReducer: bucket_bytes must be >= 1, got {}", bucket_bytes));
  // Buckets hold parameters of one dtype and device, filled from the last parameter backwards.
  std::int64_t filled = 0;
  for (std::size_t k = parameters_.size(); k-- > 0;) {
    const auto& p = parameters_[k];
    if (!p.requires_grad()) continue;
    const std::int64_t bytes = p.numel() * static_cast<std::int64_t>(p.element_size());
    const bool fits = !buckets_.empty() && filled + bytes <= bucket_bytes && parameters_[buckets_.back().front()].dtype() == p.dtype() &&
                      parameters_[buckets_.back().front()].device() == p.device();
    if (!fits) {
      buckets_.emplace_back();
      filled = 0;
    }
    buckets_.back().push_back(k);
    filled += bytes;
  }
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("GradientReducer");
}

GradientReducer::~GradientReducer() = default;

std::size_t GradientReducer::buckets() const noexcept { return buckets_.size(); }

void GradientReducer::reduce(double weight) try {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat;
  flat.reserve(buckets_.size());
  for (const auto& bucket : buckets_) {
    std::vector<torch::Tensor> pieces;
    pieces.reserve(bucket.size());
    for (std::size_t k : bucket) {
      const auto& p = parameters_[k];
      const auto& g = p.grad();
      pieces.push_back(g.defined() ? g.reshape({-1}) : torch::zeros({p.numel()}, p.options()));
    }
    auto joined = torch::cat(pieces);
    if (weight != 1.0) joined.mul_(weight);
    flat.push_back(group_->backend() == "nccl" ? joined.to(group_->device()) : joined);
  }
  group_->all_reduce_sum(flat);
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    std::int64_t offset = 0;
    for (std::size_t k : buckets_[b]) {
      auto& p = parameters_[k];
      const auto sum = flat[b].slice(0, offset, offset + p.numel()).view(p.sizes()).to(p.device());
      offset += p.numel();
      if (p.grad().defined()) p.mutable_grad().copy_(sum);
      else p.mutable_grad() = sum.clone();  // a fresh tensor, not a view of the bucket
    }
  }
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("GradientReducer::reduce");
}

}  // namespace labelrep::dist
