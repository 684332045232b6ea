// Data-parallel training on c10d: the process group's collectives, the bucketed gradient reducer
// (two processes match one process with the global batch), a dead peer's clear error, batch shards,
// and the Trainer's data-parallel mode. Everything runs on loopback with Gloo, in seconds.
#include "catch.hpp"

#include <torch/torch.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/data/batcher.hpp"
#include "labelrep/data/split.hpp"
#include "labelrep/dist/process_group.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/train/loss.hpp"
#include "labelrep/train/trainer.hpp"
#include "fixtures.hpp"
#include "support.hpp"

using namespace labelrep;

namespace {

// A TCP port that was free a moment ago (the kernel's choice for port 0).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (fd >= 0) ::close(fd);
    return 29500 + static_cast<int>(::getpid() % 1000);
  }
  const int port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

dist::ProcessGroupOptions loopback(int port, int rank, int world, double timeout = 60) {
  return dist::ProcessGroupOptions().master_address("127.0.0.1").master_port(port).rank(rank).world_size(world).backend("gloo").timeout_seconds(timeout);
}

// Runs body(group) on `world` threads, one rank each, and rethrows the first failure. Catch2's
// assertions are not thread-safe: bodies record what they see, the test checks it after the join.
template <typename Body>
void on_ranks(int world, Body body) {
  const int port = free_port();
  std::vector<std::exception_ptr> failures(static_cast<std::size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r)
    threads.emplace_back([&, r] {
      try {
        auto group = std::make_shared<dist::ProcessGroup>(loopback(port, r, world));
        body(group);
      } catch (...) {
        failures[static_cast<std::size_t>(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& f : failures)
    if (f) std::rethrow_exception(f);
}

// The equivalence problem: a BatchNorm-free MLP regressing 21 fixed samples with SGD (momentum and
// weight decay), global batches of 5 in a fixed order, so the last batch of 1 leaves one rank's shard
// empty. Data and initial weights come from formulas and a fixed seed, the same in every process.
constexpr std::int64_t kSamples = 21, kGlobalBatch = 5, kEpochs = 2;

torch::nn::Sequential make_mlp() {
  torch::manual_seed(3);
  return torch::nn::Sequential(torch::nn::Linear(6, 16), torch::nn::Tanh(), torch::nn::Linear(16, 3));
}
torch::Tensor mlp_inputs() {
  const auto i = torch::arange(kSamples, torch::kFloat).unsqueeze(1), j = torch::arange(6, torch::kFloat).unsqueeze(0);
  return torch::sin(0.37 * i + 1.3 * j);
}
torch::Tensor mlp_targets() {
  const auto i = torch::arange(kSamples, torch::kFloat).unsqueeze(1), k = torch::arange(3, torch::kFloat).unsqueeze(0);
  return torch::cos(0.11 * i * k + 0.5);
}
torch::optim::SGD mlp_optimizer(torch::nn::Sequential& mlp) {
  return torch::optim::SGD(mlp->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-3));
}
torch::Tensor flat_parameters(torch::nn::Module& m) {
  std::vector<torch::Tensor> pieces;
  for (const auto& p : m.parameters()) pieces.push_back(p.detach().reshape({-1}));
  return torch::cat(pieces);
}

// Trains the MLP as rank `rank` of `world` (world 1: one process with the global batch). With a
// group, gradients go through a GradientReducer with tiny buckets, so several all-reduces run per step.
torch::Tensor train_mlp(const std::shared_ptr<dist::ProcessGroup>& group, int die_after_steps = -1) {
  auto mlp = make_mlp();
  auto optimizer = mlp_optimizer(mlp);
  const int rank = group ? group->rank() : 0, world = group ? group->world_size() : 1;
  std::unique_ptr<dist::GradientReducer> reducer;
  if (group) {
    if (rank != 0) {  // start from other weights: the broadcast must replace them
      torch::NoGradGuard no_grad;
      for (auto& p : mlp->parameters()) p.add_(1.0);
    }
    dist::broadcast_module(*group, *mlp);
    reducer = std::make_unique<dist::GradientReducer>(group, mlp->parameters(), /*bucket_bytes=*/256);
    CATCH_REQUIRE(reducer->buckets() > 1);
  }
  const auto x = mlp_inputs(), y = mlp_targets();
  int steps = 0;
  for (std::int64_t epoch = 0; epoch < kEpochs; ++epoch)
    for (std::int64_t begin = 0; begin < kSamples; begin += kGlobalBatch) {
      if (steps++ == die_after_steps) std::raise(SIGKILL);  // a peer killed mid-training
      const std::int64_t global = std::min(kSamples, begin + kGlobalBatch) - begin;
      const std::int64_t from = begin + global * rank / world, to = begin + global * (rank + 1) / world;
      optimizer.zero_grad();
      if (to > from) torch::mse_loss(mlp->forward(x.slice(0, from, to)), y.slice(0, from, to)).backward();
      if (reducer) reducer->reduce(static_cast<double>(to - from) / static_cast<double>(global));
      optimizer.step();
    }
  return flat_parameters(*mlp);
}

std::string self_executable() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

// Starts two worker processes of this test binary (the hidden test below) as ranks 0 and 1; each
// writes its exit code to rc<rank> and its output to log<rank>. Returns the seconds until both ended.
double run_two_workers(const labelrep_test::TempDir& dir, const std::string& extra_env) {
  const int port = free_port();
  std::string script = "cd " + dir.path().string() + " && (";
  for (int r = 0; r < 2; ++r)
    script += "(RANK=" + std::to_string(r) + " WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) +
              " LABELREP_DIST_WORKER_OUT=" + dir.file("weights" + std::to_string(r) + ".npy") + " " + extra_env + " timeout 120 '" +
              self_executable() + "' '[dist-worker]' > log" + std::to_string(r) + " 2>&1; echo $? > rc" + std::to_string(r) + ") & ";
  script += "wait)";
  const auto start = std::chrono::steady_clock::now();
  labelrep_test::run_command(script);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

CATCH_TEST_CASE("distributed worker process (started by the data-parallel tests)", "[.][dist-worker]") {
  // Run by run_two_workers with the torchrun environment; not part of the test run by itself.
  torch::set_num_threads(1);
  const char* out = std::getenv("LABELREP_DIST_WORKER_OUT");
  CATCH_REQUIRE(out != nullptr);
  const char* die = std::getenv("LABELREP_DIST_WORKER_DIE");  // "rank:steps"
  auto options = dist::ProcessGroupOptions::from_environment().backend("gloo").timeout_seconds(60);
  auto group = std::make_shared<dist::ProcessGroup>(options);
  int die_after = -1;
  if (die != nullptr && std::atoi(die) == group->rank()) die_after = std::atoi(std::strchr(die, ':') + 1);
  try {
    write_npy(out, train_mlp(group, die_after));
  } catch (const dist::DistributedError& e) {
    std::printf("caught: %s\n", e.what());
    throw;
  }
}

CATCH_TEST_CASE("a process group sums, broadcasts and meets over Gloo on loopback", "[dist]") {
  if (!dist::gloo_available()) {
    try {
      dist::ProcessGroup group(loopback(free_port(), 0, 1));
      CATCH_FAIL("a build without Gloo made a process group");
    } catch (const Error& e) {
      CATCH_CHECK(std::string(e.what()).find("built without the Gloo backend") != std::string::npos);
    }
    return;
  }
  torch::set_num_threads(1);
  struct Seen {
    int world = 0;
    std::string backend, bytes, empty = "not set";
    std::vector<torch::Tensor> sums, from_two;
    bool bad_root_refused = false;
  };
  std::vector<Seen> seen(3);
  const std::string message(100000, 'x');
  on_ranks(3, [&](const std::shared_ptr<dist::ProcessGroup>& group) {
    const int r = group->rank();
    auto& mine = seen[static_cast<std::size_t>(r)];
    mine.world = group->world_size();
    mine.backend = group->backend();
    mine.sums = {torch::full({4}, static_cast<float>(r + 1)), torch::arange(3, torch::kLong) * r};
    group->all_reduce_sum(mine.sums);
    mine.from_two = {torch::full({2, 2}, static_cast<double>(r), torch::kDouble)};
    group->broadcast(mine.from_two, 2);
    mine.bytes = group->broadcast_bytes(r == 0 ? message + "!" : "ignored");
    mine.empty = group->broadcast_bytes("");
    group->barrier();
    try {
      group->broadcast(mine.from_two, 3);
    } catch (const InvalidArgument&) {
      mine.bad_root_refused = true;
    }
  });
  for (const auto& mine : seen) {
    CATCH_CHECK(mine.world == 3);
    CATCH_CHECK(mine.backend == "gloo");
    CATCH_CHECK(torch::equal(mine.sums[0], torch::full({4}, 6.0f)));
    CATCH_CHECK(torch::equal(mine.sums[1], torch::arange(3, torch::kLong) * 3));
    CATCH_CHECK(torch::equal(mine.from_two[0], torch::full({2, 2}, 2.0, torch::kDouble)));
    CATCH_CHECK(mine.bytes == message + "!");
    CATCH_CHECK(mine.empty.empty());
    CATCH_CHECK(mine.bad_root_refused);
  }
  // One process is a group too.
  dist::ProcessGroup alone(loopback(free_port(), 0, 1));
  std::vector<torch::Tensor> t = {torch::ones({2})};
  alone.all_reduce_sum(t);
  CATCH_CHECK(torch::equal(t[0], torch::ones({2})));
}

CATCH_TEST_CASE("joining a group ignores SIGPIPE unless the program chose its own handling", "[dist]") {
  if (!dist::gloo_available()) return;
  // A peer's closed socket must become a DistributedError, not a SIGPIPE death (exit status 141), so
  // the group ignores SIGPIPE while it is at its default; a handler the program installed stays.
  struct sigaction saved {};
  ::sigaction(SIGPIPE, nullptr, &saved);
  const auto disposition = [] {
    struct sigaction now {};
    ::sigaction(SIGPIPE, nullptr, &now);
    return now.sa_handler;
  };
  std::signal(SIGPIPE, SIG_DFL);
  { dist::ProcessGroup alone(loopback(free_port(), 0, 1)); }
  CATCH_CHECK(disposition() == SIG_IGN);
  const auto own_handler = +[](int) {};
  std::signal(SIGPIPE, own_handler);
  { dist::ProcessGroup alone(loopback(free_port(), 0, 1)); }
  CATCH_CHECK(disposition() == own_handler);
  ::sigaction(SIGPIPE, &saved, nullptr);
}

CATCH_TEST_CASE("a libtorch failure inside a gradient reduction leaves as a labelrep error", "[dist]") {
  if (!dist::gloo_available()) return;  // the build without Gloo is checked above
  auto group = std::make_shared<dist::ProcessGroup>(loopback(free_port(), 0, 1));
  auto weight = torch::zeros({4}, torch::requires_grad());
  dist::GradientReducer reducer(group, {weight});
  weight.mutable_grad() = torch::ones({6});  // a gradient the parameter's shape cannot hold
  labelrep_test::check_throws_with<Error>([&] { reducer.reduce(1.0); }, "GradientReducer::reduce");
}

CATCH_TEST_CASE("process group options come from the torchrun environment and are checked", "[dist]") {
  CATCH_CHECK_THROWS_AS(dist::ProcessGroupOptions().rank(2).world_size(2).validate(), InvalidArgument);
  CATCH_CHECK_THROWS_AS(dist::ProcessGroupOptions().master_port(70000).validate(), InvalidArgument);
  CATCH_CHECK_THROWS_AS(dist::ProcessGroupOptions().backend("mpi").validate(), InvalidArgument);
  CATCH_CHECK_THROWS_AS(dist::ProcessGroupOptions().timeout_seconds(0).validate(), InvalidArgument);
  ::setenv("MASTER_ADDR", "10.0.0.7", 1);
  ::setenv("MASTER_PORT", "29123", 1);
  ::setenv("RANK", "1", 1);
  ::setenv("WORLD_SIZE", "4", 1);
  ::setenv("LOCAL_RANK", "1", 1);
  const auto o = dist::ProcessGroupOptions::from_environment();
  CATCH_CHECK(o.master_address() == "10.0.0.7");
  CATCH_CHECK(o.master_port() == 29123);
  CATCH_CHECK(o.rank() == 1);
  CATCH_CHECK(o.world_size() == 4);
  CATCH_CHECK(o.local_rank() == 1);
  CATCH_CHECK(dist::environment_requests_distributed());
  ::setenv("RANK", "one", 1);
  try {
    (void)dist::ProcessGroupOptions::from_environment();
    CATCH_FAIL("RANK=one was accepted");
  } catch (const InvalidArgument& e) {
    CATCH_CHECK(std::string(e.what()).find("RANK='one'") != std::string::npos);
  }
  for (const char* name : {"MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK"}) ::unsetenv(name);
  CATCH_CHECK_FALSE(dist::environment_requests_distributed());
  try {
    (void)dist::ProcessGroupOptions::from_environment();
    CATCH_FAIL("an empty environment was accepted");
  } catch (const InvalidArgument& e) {
    CATCH_CHECK(std::string(e.what()).find("MASTER_ADDR") != std::string::npos);
  }
}

CATCH_TEST_CASE("a rendezvous whose peers never come fails within its timeout", "[dist]") {
  if (!dist::gloo_available()) return;  // the "built without" error is checked above
  const auto start = std::chrono::steady_clock::now();
  try {
    dist::ProcessGroup group(loopback(free_port(), 0, 2, /*timeout=*/2));
    CATCH_FAIL("a group of 2 formed with one process");
  } catch (const dist::DistributedError& e) {
    CATCH_INFO(e.what());
    CATCH_CHECK(std::string(e.what()).find("rank 0 of 2: rendezvous at 127.0.0.1") != std::string::npos);
  }
  CATCH_CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 30);
}

CATCH_TEST_CASE("two processes with Gloo on loopback match one process with the global batch", "[dist]") {
  if (!dist::gloo_available()) return;
  // What the test compares: the same model, data, optimizer and global batches (of 5, the last of 1),
  // trained (a) by one process and (b) by two processes that each see their shard of every batch
  // and sum gradients weighted by shard size through the bucketed reducer. Without BatchNorm the
  // two are the same computation up to float rounding (the order of the sums).
  torch::set_num_threads(1);
  labelrep_test::TempDir dir;
  const double seconds = run_two_workers(dir, "");
  for (int r = 0; r < 2; ++r) {
    CATCH_INFO("rank " << r << ": " << slurp(dir.file("log" + std::to_string(r))));
    CATCH_REQUIRE(slurp(dir.file("rc" + std::to_string(r))) == "0\n");
  }
  const auto reference = train_mlp(nullptr);
  const auto rank0 = read_npy(dir.file("weights0.npy")), rank1 = read_npy(dir.file("weights1.npy"));
  CATCH_CHECK(torch::equal(rank0, rank1));  // every rank applies the same summed gradient
  CATCH_CHECK(torch::allclose(rank0, reference, /*rtol=*/1e-5, /*atol=*/1e-6));
  auto untrained = make_mlp();
  CATCH_CHECK_FALSE(torch::allclose(rank0, flat_parameters(*untrained), 1e-3, 1e-3));  // it trained
  CATCH_CHECK(seconds < 60);
}

CATCH_TEST_CASE("when a peer is killed the other process fails with a clear error within seconds", "[dist]") {
  if (!dist::gloo_available()) return;
  labelrep_test::TempDir dir;
  // Rank 1 kills itself (SIGKILL) before its 4th step; rank 0 is then inside or at the next all-reduce.
  // The group's timeout is 60 s, so finishing well under it shows the closed connection was noticed.
  const double seconds = run_two_workers(dir, "LABELREP_DIST_WORKER_DIE=1:3");
  const auto log0 = slurp(dir.file("log0"));
  CATCH_INFO(log0);
  CATCH_CHECK(slurp(dir.file("rc1")) != "0\n");
  CATCH_CHECK(slurp(dir.file("rc0")) != "0\n");
  CATCH_CHECK(log0.find("caught: labelrep: distributed: rank 0 of 2: all-reduce failed") != std::string::npos);
  CATCH_CHECK(seconds < 30);
}

CATCH_TEST_CASE("batch shards split each global batch into the same images, crops and flips", "[dist][data]") {
  const auto set = labelrep_test::quadrants(23, 4);
  const auto indices = torch::arange(23, torch::kLong);
  auto options = data::BatcherOptions({0.3}, {0.3}).batch_size(8).seed(5).crop_padding(2);
  data::Batcher whole(set, indices, options);
  std::vector<data::Batcher> shards;
  for (std::int64_t s = 0; s < 3; ++s) shards.emplace_back(set, indices, data::BatcherOptions(options).shard_index(s).shard_count(3));
  whole.start_epoch(2);
  for (auto& b : shards) b.start_epoch(2);
  data::Batch global;
  std::int64_t batches = 0;
  while (whole.next(global)) {
    ++batches;
    std::vector<torch::Tensor> images, targets;
    for (auto& b : shards) {
      data::Batch part;
      CATCH_REQUIRE(b.next(part));
      CATCH_CHECK(part.global_size == global.images.size(0));
      images.push_back(part.images);
      targets.push_back(part.targets);
    }
    CATCH_CHECK(torch::equal(torch::cat(images), global.images));
    CATCH_CHECK(torch::equal(torch::cat(targets), global.targets));
  }
  CATCH_CHECK(batches == 3);  // 8 + 8 + 7
  // A batch smaller than the number of shards leaves some shards empty.
  data::Batcher tiny(set, torch::arange(1, torch::kLong), data::BatcherOptions(options).shard_index(0).shard_count(2));
  tiny.start_epoch(0);
  data::Batch empty;
  CATCH_REQUIRE(tiny.next(empty));
  CATCH_CHECK(empty.images.size(0) == 0);
  CATCH_CHECK(empty.global_size == 1);
  CATCH_CHECK_THROWS_AS(data::Batcher(set, indices, data::BatcherOptions(options).shard_index(2).shard_count(2)), InvalidArgument);
}

CATCH_TEST_CASE("the data-parallel Trainer equals one process accumulating the same shards' gradients", "[dist][train]") {
  if (!dist::gloo_available()) return;
  // With BatchNorm in training mode a rank normalises with its shard's statistics (PyTorch DDP without
  // SyncBatchNorm), so the fair single-process reference is one process that runs the same shards one
  // after the other and adds their gradients (weighted by shard size) before each step.
  torch::set_num_threads(1);
  const auto set = labelrep_test::quadrants(200, 1);
  const auto split = data::make_split(200, 40, 3);
  const data::ChannelStatistics stats{{0.3}, {0.3}};
  const auto labels = std::make_shared<const labels::CategoryLabels>(labels::CategoryLabelsOptions(4));
  const auto recipe = train::TrainingRecipe().epochs(1).batch_size(32).learning_rate(0.05);
  labelrep_test::TempDir dir;
  std::vector<models::Model> models = {models::make_model("small-cnn", 1, *labels, 5), models::make_model("small-cnn", 1, *labels, 5)};
  std::vector<train::EpochSummary> summaries(2);
  bool rank1_finish_refused = false;
  on_ranks(2, [&](const std::shared_ptr<dist::ProcessGroup>& group) {
    const int r = group->rank();
    const auto options = train::TrainerOptions(recipe).seed(7).horizontal_flip(false).crop_padding(2).progress(false).process_group(group);
    train::Trainer trainer(models[static_cast<std::size_t>(r)], labels, set, split.train, split.validation, stats, options,
                           train::RunDirectory(dir.file("rank" + std::to_string(r))));
    summaries[static_cast<std::size_t>(r)] = trainer.fit().back();
    if (r == 1) {
      try {
        trainer.finish(set);
      } catch (const InvalidArgument&) {
        rank1_finish_refused = true;  // rank 0 finishes
      }
    }
  });
  CATCH_CHECK(rank1_finish_refused);
  CATCH_CHECK(torch::equal(flat_parameters(*models[0]), flat_parameters(*models[1])));
  CATCH_CHECK(summaries[0].validation_accuracy == summaries[1].validation_accuracy);
  CATCH_CHECK(summaries[0].train_loss == summaries[1].train_loss);
  CATCH_CHECK(std::filesystem::exists(dir.file("rank0/last.ckpt")));
  CATCH_CHECK(std::filesystem::exists(dir.file("rank0/metrics.csv")));
  CATCH_CHECK(std::filesystem::is_empty(dir.file("rank1")));  // only rank 0 writes

  // The reference: one process, one model, both shards' gradients accumulated per step.
  auto model = models::make_model("small-cnn", 1, *labels, 5);
  models::set_memory_format(*model, c10::MemoryFormat::ChannelsLast);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(recipe.learning_rate())
                                                       .momentum(recipe.momentum())
                                                       .weight_decay(recipe.weight_decay())
                                                       .nesterov(recipe.nesterov()));
  train::set_learning_rate(optimizer, train::learning_rate_at(recipe, 0.0));
  const auto batcher_options = data::BatcherOptions(stats.mean, stats.std).batch_size(32).seed(7).crop_padding(2).horizontal_flip(false);
  std::vector<data::Batcher> shards = {data::Batcher(set, split.train, data::BatcherOptions(batcher_options).shard_index(0).shard_count(2)),
                                       data::Batcher(set, split.train, data::BatcherOptions(batcher_options).shard_index(1).shard_count(2))};
  for (auto& b : shards) b.start_epoch(0);
  model->train();
  for (std::int64_t step = 0; step < shards[0].batches_per_epoch(); ++step) {
    optimizer.zero_grad();
    for (auto& b : shards) {
      data::Batch part;
      CATCH_REQUIRE(b.next(part));
      const double weight = static_cast<double>(part.images.size(0)) / static_cast<double>(part.global_size);
      (train::label_loss(model->forward(part.images), part.targets, *labels) * weight).backward();
    }
    optimizer.step();
  }
  CATCH_CHECK(torch::allclose(flat_parameters(*models[0]), flat_parameters(*model), /*rtol=*/1e-4, /*atol=*/1e-5));
}

CATCH_TEST_CASE("labelrep train runs data-parallel under a torchrun-style environment, and fails clearly when a rank is killed", "[dist][cli]") {
  if (!dist::gloo_available()) return;
  labelrep_test::TempDir dir;
  // Two `labelrep train` processes on loopback; WORLD_SIZE > 1 turns data parallelism on (--distributed auto).
  // --dist-timeout bounds every wait, so nothing here can hang.
  const auto launch = [&](const std::string& out, const std::string& options, bool kill_rank1) {
    const std::string port = std::to_string(free_port());
    std::string script = "cd " + dir.path().string() + " && (";
    for (int r = 0; r < 2; ++r)
      script += "(RANK=" + std::to_string(r) + " WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + port + " exec '" +
                labelrep_test::cli() + "' train --encoder small-cnn --validation 300 --threads 1 --dist-timeout 120 " + options + " --out " + out +
                " > " + out + ".log" + std::to_string(r) + " 2>&1) & echo $! > pid" + std::to_string(r) + "; ";
    // Kill rank 1 once rank 0 has joined the group and started the run (its config.json exists).
    if (kill_rank1) script += "for i in $(seq 600); do [ -e " + out + "/config.json ] && break; sleep 0.1; done; sleep 1; kill -9 $(cat pid1); ";
    script += "wait $(cat pid0); echo $? > " + out + ".rc0; wait $(cat pid1); echo $? > " + out + ".rc1)";
    const auto start = std::chrono::steady_clock::now();
    labelrep_test::run_command(script);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  launch("run", "--epochs 1 --level 1", false);
  const auto log0 = slurp(dir.file("run.log0")), log1 = slurp(dir.file("run.log1"));
  CATCH_INFO("rank 0: " << log0 << "\nrank 1: " << log1);
  CATCH_CHECK(slurp(dir.file("run.rc0")) == "0\n");
  CATCH_CHECK(slurp(dir.file("run.rc1")) == "0\n");
  CATCH_CHECK(log0.find("test accuracy") != std::string::npos);
  CATCH_CHECK(log1.find("test accuracy") == std::string::npos);  // rank 0 speaks for the run
  CATCH_CHECK(std::filesystem::exists(dir.file("run/result.json")));
  CATCH_CHECK(std::filesystem::exists(dir.file("run/last.ckpt")));
  launch("run", "--epochs 1 --level 1", false);  // finished: every rank reads rank 0's result
  CATCH_CHECK(slurp(dir.file("run.log0")).find("already finished") != std::string::npos);
  CATCH_CHECK(slurp(dir.file("run.rc1")) == "0\n");

  const double seconds = launch("killed", "--epochs 3 --level 30", true);
  const auto killed0 = slurp(dir.file("killed.log0"));
  CATCH_INFO(killed0);
  CATCH_CHECK(slurp(dir.file("killed.rc0")) == "1\n");  // a labelrep::Error, not a crash or a hang
  CATCH_CHECK(killed0.find("labelrep: distributed: rank 0 of 2:") != std::string::npos);
  CATCH_CHECK(seconds < 100);  // well under the 120 s group timeout: the dead peer's closed connection was noticed
}
