#include "labelrep/train/graphed_step.hpp"

#include <ATen/autocast_mode.h>
#include <algorithm>
#include <fmt/format.h>
#include <torch/optim/sgd.h>
#include <utility>
#include <vector>

#ifdef LABELREP_HAS_CUDA_GRAPHS
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include "core/boundary.hpp"
#include "labelrep/core/error.hpp"
#include "train/loss_core.hpp"
#include "train/optimizer_state.hpp"

namespace labelrep::train {
namespace {

// Autocast keeps bf16 copies of the weights in a cache for the duration of a forward pass. Inside a
// capture those copies would be made from the graph's private memory and freed behind its back, so
// PyTorch's own graph capture turns the cache off; so does this guard, for warm-up and capture.
class AutocastCacheOff {
 public:
  AutocastCacheOff() : was_enabled_(at::autocast::is_autocast_cache_enabled()) { at::autocast::set_autocast_cache_enabled(false); }
  ~AutocastCacheOff() { at::autocast::set_autocast_cache_enabled(was_enabled_); }
  AutocastCacheOff(const AutocastCacheOff&) = delete;
  AutocastCacheOff& operator=(const AutocastCacheOff&) = delete;

 private:
  bool was_enabled_;
};

}  // namespace

bool cuda_graphs_available() noexcept {
#ifdef LABELREP_HAS_CUDA_GRAPHS
  return true;
#else
  return false;
#endif
}

struct GraphedTrainStep::Impl {
  // One optimizer parameter group: its parameters with their momentum buffers and the group's
  // learning rate, momentum and weight decay as device scalars, written before every step.
  struct Group {
    std::vector<torch::Tensor> params;
    std::vector<StateKey> keys;
    std::vector<torch::Tensor> momentum_buffers;
    torch::Tensor learning_rate, momentum, weight_decay;
    bool nesterov = false;
  };

  models::Model model;
  torch::optim::SGD& optimizer;
  std::shared_ptr<const labels::LabelRepresentation> labels;
  GraphedStepOptions options;
  LossKind loss_kind = LossKind::kAuto;
  torch::Device device = torch::kCPU;
  torch::Tensor target_table;  // [C, ...label_shape] float32 on the device: the targets of every class
  torch::Tensor invalid_ids;   // int64 scalar: batches with a class id outside [0, C) since check_targets()
  std::vector<Group> groups;

  // The captured graph and what it reads and writes in place.
  torch::Tensor static_images, static_ids, static_loss;
  std::vector<const void*> captured_addresses;
  std::vector<bool> captured_nesterov;
  std::int64_t capture_size = 0;
  bool is_captured = false;
#ifdef LABELREP_HAS_CUDA_GRAPHS
  std::unique_ptr<at::cuda::CUDAGraph> graph;
#endif
  std::int64_t replayed = 0, eager = 0, capture_count = 0;

  Impl(models::Model m, torch::optim::SGD& o, std::shared_ptr<const labels::LabelRepresentation> l, GraphedStepOptions opts)
      : model(std::move(m)), optimizer(o), labels(std::move(l)), options(opts) {}

  // Reads the optimizer's groups and puts a momentum buffer into its state for every parameter that
  // has none: zeros, which the first update turns into the gradient, as libtorch's SGD does (its
  // first step copies the gradient; with dampening 0 both give buf = grad exactly).
  void sync_groups() {
    auto& param_groups = optimizer.param_groups();
    if (groups.size() != param_groups.size()) groups.assign(param_groups.size(), Group{});
    for (std::size_t g = 0; g < param_groups.size(); ++g) {
      auto& group = groups[g];
      const auto& options = static_cast<const torch::optim::SGDOptions&>(param_groups[g].options());
      if (options.dampening() != 0)
        throw InvalidArgument(fmt::format("GraphedTrainStep: optimizer group {} has dampening {}; the graphed step supports dampening 0", g,
                                          options.dampening()));
      const auto& params = param_groups[g].params();
      if (group.params.size() != params.size() ||
          !std::equal(params.begin(), params.end(), group.params.begin(), [](const torch::Tensor& a, const torch::Tensor& b) { return a.is_same(b); })) {
        group.params = params;
        group.keys.clear();
        for (const auto& p : params) group.keys.push_back(state_key(p));
      }
      group.momentum_buffers.resize(params.size());
      for (std::size_t j = 0; j < params.size(); ++j) {
        const auto& p = params[j];
        if (p.device() != device)
          throw InvalidArgument(fmt::format("GraphedTrainStep: optimizer group {} holds a parameter on {}, the model is on {}", g,
                                            p.device().str(), device.str()));
        auto it = optimizer.state().find(group.keys[j]);
        if (it == optimizer.state().end()) {
          auto state = std::make_unique<torch::optim::SGDParamState>();
          state->momentum_buffer(torch::zeros_like(p, torch::MemoryFormat::Preserve).detach());
          optimizer.state()[group.keys[j]] = std::move(state);
          it = optimizer.state().find(group.keys[j]);
        }
        auto& state = static_cast<torch::optim::SGDParamState&>(*it->second);
        if (!state.momentum_buffer().defined() || state.momentum_buffer().sizes() != p.sizes() || state.momentum_buffer().device() != device)
          throw InvalidArgument(fmt::format("GraphedTrainStep: the optimizer's momentum buffer of parameter {} of group {} does not match it", j, g));
        group.momentum_buffers[j] = state.momentum_buffer();
      }
      if (!group.learning_rate.defined()) {
        const auto scalar = torch::TensorOptions().dtype(torch::kFloat).device(device);
        group.learning_rate = torch::zeros({}, scalar);
        group.momentum = torch::zeros({}, scalar);
        group.weight_decay = torch::zeros({}, scalar);
      }
      group.learning_rate.fill_(options.lr());
      group.momentum.fill_(options.momentum());
      group.weight_decay.fill_(options.weight_decay());
      group.nesterov = options.nesterov();
    }
  }

  // Everything the graph reads or writes by address: parameters, gradients, momentum buffers, the
  // groups' scalars and the model's buffers (BatchNorm statistics). A change means something replaced them.
  std::vector<const void*> addresses() {
    std::vector<const void*> a;
    for (auto& group : groups) {
      a.push_back(group.learning_rate.data_ptr());
      a.push_back(group.momentum.data_ptr());
      a.push_back(group.weight_decay.data_ptr());
      for (std::size_t j = 0; j < group.params.size(); ++j) {
        const auto& p = group.params[j];
        a.push_back(p.data_ptr());
        a.push_back(p.grad().defined() ? p.grad().data_ptr() : nullptr);
        a.push_back(group.momentum_buffers[j].data_ptr());
      }
    }
    for (const auto& b : model->buffers()) a.push_back(b.defined() ? b.data_ptr() : nullptr);
    return a;
  }

  std::vector<bool> nesterov_flags() const {
    std::vector<bool> flags;
    for (const auto& group : groups) flags.push_back(group.nesterov);
    return flags;
  }

  // libtorch's SGD update with the scalars on the device: d = g + wd·p; buf = m·buf + d;
  // d = nesterov ? d + m·buf : buf; p -= lr·d. addcmul multiplies by a device scalar and adds in one
  // kernel, so a parameter costs as many kernels as in libtorch's SGD::step (five with Nesterov): an
  // eager step on a GPU is paced by its launches.
  void update() {
    torch::NoGradGuard no_grad;
    for (auto& group : groups)
      for (std::size_t j = 0; j < group.params.size(); ++j) {
        auto p = group.params[j].detach();
        const auto& grad = group.params[j].grad();
        if (!grad.defined()) continue;
        auto& buffer = group.momentum_buffers[j];
        auto direction = torch::addcmul(grad, p, group.weight_decay);
        buffer.mul_(group.momentum).add_(direction);
        direction = group.nesterov ? torch::addcmul(direction, buffer, group.momentum) : buffer;
        p.addcmul_(direction, group.learning_rate, /*value=*/-1);
      }
  }

  // The step's arithmetic, eager or under capture: nothing in it copies from the device to the host.
  torch::Tensor run(const torch::Tensor& images, const torch::Tensor& ids) {
    torch::Tensor outputs;
    {
      AutocastGuard autocast(device.type(), options.precision());
      outputs = model->forward(images);
    }
    const std::int64_t classes = target_table.size(0);
    invalid_ids.add_((ids.lt(0) | ids.ge(classes)).any());
    const auto targets = target_table.index_select(0, ids.clamp(0, classes - 1));
    if (targets.sizes() != outputs.sizes())
      throw InvalidArgument(fmt::format("GraphedTrainStep: the model's outputs have shape {} but the {} targets have shape {}",
                                        c10::str(outputs.sizes()), labels->name(), c10::str(targets.sizes())));
    // The loss in float32 whatever the forward pass ran in, as train_step.
    auto loss = loss_against_targets(outputs.to(torch::kFloat), targets, loss_kind, model->decoder().loss_scale());
    loss.backward();
    update();
    return loss.detach();
  }

  // The step without a graph: gradients zeroed in place (a captured graph holds their addresses).
  torch::Tensor run_eagerly(const torch::Tensor& images, const torch::Tensor& ids) {
    {
      torch::NoGradGuard no_grad;
      for (auto& group : groups)
        for (auto& p : group.params)
          if (p.grad().defined()) p.mutable_grad().zero_();
    }
    return run(images, ids);
  }

  torch::Tensor eager_step(const data::Batch& batch) {
    ++eager;
    return run_eagerly(batch.images, batch.targets);
  }

  // Drops the captured graph once the device has finished its launches.
  void drop_graph() {
#ifdef LABELREP_HAS_CUDA_GRAPHS
    if (graph) {
      c10::cuda::getCurrentCUDAStream(device.index()).synchronize();
      graph.reset();
    }
#endif
    is_captured = false;
  }

  ~Impl() {
    try {
      drop_graph();
    } catch (...) {  // a destructor does not throw; a device error shows at the next call anyway
    }
  }

#ifdef LABELREP_HAS_CUDA_GRAPHS
  void capture(const data::Batch& batch) {
    drop_graph();
    static_images = torch::empty_like(batch.images);
    static_ids = torch::empty_like(batch.targets);
    static_images.copy_(batch.images);
    static_ids.copy_(batch.targets);
    // Warm-up trains for real; what it changes is put back before capture.
    std::vector<torch::Tensor> state, saved;
    for (auto& group : groups) {
      for (auto& p : group.params) state.push_back(p.detach());
      for (auto& b : group.momentum_buffers) state.push_back(b);
    }
    for (const auto& b : model->buffers()) state.push_back(b);
    state.push_back(invalid_ids);
    for (const auto& t : state) saved.push_back(t.clone());

    const auto index = device.index();
    auto caller = c10::cuda::getCurrentCUDAStream(index);
    // Capture must run on a stream of its own; it starts once the caller's stream has the batch.
    auto side = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, index);
    caller.synchronize();
    {
      AutocastCacheOff no_cache;
      c10::cuda::CUDAStreamGuard on_side(side);
      for (std::int64_t i = 0; i < options.warmup_steps(); ++i) run_eagerly(static_images, static_ids);
      {
        torch::NoGradGuard no_grad;
        for (std::size_t i = 0; i < state.size(); ++i) state[i].copy_(saved[i]);
        // Gradients are made inside the capture, in its memory, so every replay writes them anew.
        for (auto& group : groups)
          for (auto& p : group.params) p.mutable_grad() = torch::Tensor();
      }
      side.synchronize();
      auto g = std::make_unique<at::cuda::CUDAGraph>();
      g->capture_begin();
      try {
        static_loss = run(static_images, static_ids);
      } catch (...) {
        try {
          g->capture_end();
        } catch (...) {
        }
        throw;
      }
      g->capture_end();
      side.synchronize();
      graph = std::move(g);
    }
    capture_size = batch.images.size(0);
    captured_addresses = addresses();
    captured_nesterov = nesterov_flags();
    is_captured = true;
    ++capture_count;
  }

  torch::Tensor replay(const data::Batch& batch) {
    static_images.copy_(batch.images);
    static_ids.copy_(batch.targets);
    graph->replay();
    ++replayed;
    return static_loss.clone();
  }
#endif

  torch::Tensor step(const data::Batch& batch) {
    const auto& images = batch.images;
    const auto& ids = batch.targets;
    if (!images.defined() || images.dim() != 4 || !images.is_floating_point())
      throw InvalidArgument("GraphedTrainStep::step: batch.images must be a floating-point tensor [N, C, H, W]");
    if (!ids.defined() || ids.dim() != 1 || ids.scalar_type() != torch::kLong)
      throw InvalidArgument("GraphedTrainStep::step: batch.targets must be a 1-D int64 tensor of class ids");
    if (ids.size(0) != images.size(0) || images.size(0) == 0)
      throw InvalidArgument(fmt::format("GraphedTrainStep::step: batch.targets has {} rows and batch.images {}; both must be the same, > 0",
                                        ids.size(0), images.size(0)));
    if (images.device() != device || ids.device() != device)
      throw InvalidArgument(fmt::format("GraphedTrainStep::step: the batch is on {} (images) and {} (targets), the model on {}",
                                        images.device().str(), ids.device().str(), device.str()));
    sync_groups();
    if (!options.capture()) return eager_step(batch);
#ifdef LABELREP_HAS_CUDA_GRAPHS
    const std::int64_t wanted = is_captured ? capture_size : options.batch_size() > 0 ? options.batch_size() : images.size(0);
    if (images.size(0) != wanted) return eager_step(batch);
    if (is_captured && (static_images.sizes() != images.sizes() || static_images.scalar_type() != images.scalar_type()))
      return eager_step(batch);  // same batch size, other images: not what was captured (copy_ takes any layout)
    if (!is_captured || captured_addresses != addresses() || captured_nesterov != nesterov_flags()) capture(batch);
    return replay(batch);
#else
    throw InternalError("GraphedTrainStep: capture requested in a build without CUDA graphs");
#endif
  }
};

GraphedTrainStep::GraphedTrainStep(models::Model model, torch::optim::SGD& optimizer, std::shared_ptr<const labels::LabelRepresentation> labels,
                                   GraphedStepOptions options) try
    : impl_(std::make_unique<Impl>(std::move(model), optimizer, std::move(labels), options)) {
  auto& s = *impl_;
  if (!s.model) throw InvalidArgument("GraphedTrainStep: the model is null");
  if (!s.labels) throw InvalidArgument("GraphedTrainStep: the labels are null");
  if (options.batch_size() < 0) throw InvalidArgument(fmt::format("GraphedTrainStep: batch_size {} is negative", options.batch_size()));
  if (options.warmup_steps() < 0) throw InvalidArgument(fmt::format("GraphedTrainStep: warmup_steps {} is negative", options.warmup_steps()));
  const auto parameters = s.model->parameters();
  if (parameters.empty()) throw InvalidArgument("GraphedTrainStep: the model has no parameters");
  s.device = parameters.front().device();
  if (options.capture() && !s.device.is_cuda())
    throw InvalidArgument(fmt::format("GraphedTrainStep: CUDA graphs need the model on a CUDA device, it is on {} (capture(false) runs the step eagerly)",
                                      s.device.str()));
  if (options.capture() && !cuda_graphs_available())
    throw Error("labelrep: GraphedTrainStep: this labelrep was built without CUDA graph support (it needs a CUDA libtorch and its CUDA headers; "
                "see docs/gpu.md)");
  s.loss_kind = options.loss() == LossKind::kAuto ? default_loss(*s.labels) : options.loss();
  if (s.loss_kind == LossKind::kCrossEntropy && s.labels->label_shape().size() != 1)
    throw InvalidArgument("GraphedTrainStep: cross-entropy needs vector labels (logits [N, C])");
  if (s.loss_kind == LossKind::kCrossEntropy) require_probability_rows(*s.labels, "GraphedTrainStep");
  const auto classes = torch::arange(s.labels->num_classes(), torch::TensorOptions().dtype(torch::kLong));
  s.target_table = s.labels->targets(classes).to(s.device, torch::kFloat);
  s.invalid_ids = torch::zeros({}, torch::TensorOptions().dtype(torch::kLong).device(s.device));
  s.sync_groups();
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("GraphedTrainStep");
}

GraphedTrainStep::~GraphedTrainStep() = default;

torch::Tensor GraphedTrainStep::step(const data::Batch& batch) try {
  return impl_->step(batch);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("GraphedTrainStep::step");
}

void GraphedTrainStep::check_targets() try {
  const auto invalid = impl_->invalid_ids.item<std::int64_t>();
  impl_->invalid_ids.zero_();
  if (invalid > 0)
    throw InvalidArgument(fmt::format("GraphedTrainStep: {} batch(es) since the last check held class ids outside [0, {}); they trained on "
                                      "clamped ids, so the weights are not to be trusted",
                                      invalid, impl_->labels->num_classes()));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("GraphedTrainStep::check_targets");
}

void GraphedTrainStep::invalidate() try {
  impl_->drop_graph();
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("GraphedTrainStep::invalidate");
}

bool GraphedTrainStep::captured() const noexcept { return impl_->is_captured; }
std::int64_t GraphedTrainStep::replayed_steps() const noexcept { return impl_->replayed; }
std::int64_t GraphedTrainStep::eager_steps() const noexcept { return impl_->eager; }
std::int64_t GraphedTrainStep::captures() const noexcept { return impl_->capture_count; }

}  // namespace labelrep::train
