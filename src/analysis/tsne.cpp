#include "labelrep/analysis/tsne.hpp"

#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "labelrep/core/error.hpp"
#include "labelrep/core/progress.hpp"
#include "labelrep/core/random.hpp"
#include "core/boundary.hpp"

namespace labelrep::analysis {
namespace {

constexpr double kMachineEpsilon = std::numeric_limits<double>::epsilon();
constexpr double kPi = 3.14159265358979323846;

// ---- validation -----------------------------------------------------------------------------------

// `features` as contiguous CPU float64 after checking it is a finite floating-point `[N, D]` tensor with
// N ≥ min_rows (and D == columns unless columns < 0); errors start with `who` and name `what`.
torch::Tensor checked_features(const torch::Tensor& features, const char* what, const char* who = "tsne", std::int64_t columns = -1,
                               std::int64_t min_rows = 2) {
  if (!features.defined() || features.dim() != 2)
    throw InvalidArgument(fmt::format("{}: {} must be a 2-D tensor [N, D], got {} dimensions", who, what,
                                      features.defined() ? features.dim() : 0));
  if (!torch::isFloatingType(features.scalar_type()))
    throw InvalidArgument(fmt::format("{}: {} must be floating point, got {}", who, what, c10::toString(features.scalar_type())));
  if (features.size(0) < min_rows || features.size(1) < 1)
    throw InvalidArgument(fmt::format("{}: {} needs at least {} rows and 1 column, got [{}, {}]", who, what, min_rows, features.size(0),
                                      features.size(1)));
  if (columns >= 0 && features.size(1) != columns)
    throw InvalidArgument(fmt::format("{}: {} must have {} columns, got [{}, {}]", who, what, columns, features.size(0), features.size(1)));
  auto x = features.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  if (!torch::isfinite(x).all().item<bool>()) throw InvalidArgument(fmt::format("{}: {} contain non-finite values", who, what));
  return x;
}

void check_perplexity(double perplexity, std::int64_t n) {
  const double limit = static_cast<double>(n - 1) / 3.0;
  if (!(perplexity > 0.0) || !(perplexity < limit))
    throw InvalidArgument(fmt::format("tsne: perplexity {} must be above 0 and below (N - 1)/3 = {:.4g} for N = {} points", perplexity,
                                      limit, n));
}

void validate(const TsneOptions& o, std::int64_t n) {
  check_perplexity(o.perplexity(), n);
  if (o.iterations() < 1) throw InvalidArgument(fmt::format("tsne: iterations {} must be at least 1", o.iterations()));
  if (o.exaggeration_iterations() < 0)
    throw InvalidArgument(fmt::format("tsne: exaggeration_iterations {} must be at least 0", o.exaggeration_iterations()));
  if (!(o.early_exaggeration() > 0.0) || !std::isfinite(o.early_exaggeration()))
    throw InvalidArgument(fmt::format("tsne: early_exaggeration {} must be positive", o.early_exaggeration()));
  if (!(o.learning_rate() >= 0.0) || !std::isfinite(o.learning_rate()))
    throw InvalidArgument(fmt::format("tsne: learning_rate {} must be positive (or 0 for automatic)", o.learning_rate()));
  if (!(o.theta() >= 0.0 && o.theta() <= 1.0)) throw InvalidArgument(fmt::format("tsne: theta {} must be in [0, 1]", o.theta()));
}

// ---- input affinities -----------------------------------------------------------------------------

// Conditional probabilities p_{j|i} ∝ exp(−β d_j) over the `m` candidates of one point (squared
// distances `dist`), with β found by bisection so that the entropy equals log(perplexity). Shifting the
// distances by their minimum changes neither p nor the entropy, and keeps exp() from underflowing for
// features of any scale.
void conditional_row(const double* dist, std::int64_t m, double perplexity, double* p) {
  const double desired = std::log(perplexity);
  double d_min = std::numeric_limits<double>::infinity();
  for (std::int64_t j = 0; j < m; ++j) d_min = std::min(d_min, dist[j]);
  double beta = 1.0, beta_min = -std::numeric_limits<double>::infinity(), beta_max = std::numeric_limits<double>::infinity();
  for (int step = 0; step < 200; ++step) {
    double sum = 0.0;
    for (std::int64_t j = 0; j < m; ++j) sum += (p[j] = std::exp(-(dist[j] - d_min) * beta));
    double weighted = 0.0;
    for (std::int64_t j = 0; j < m; ++j) {
      p[j] /= sum;
      weighted += (dist[j] - d_min) * p[j];
    }
    const double entropy = std::log(sum) + beta * weighted;
    const double diff = entropy - desired;
    if (std::abs(diff) <= 1e-5) break;
    if (diff > 0) {  // too flat: sharpen
      beta_min = beta;
      beta = std::isinf(beta_max) ? beta * 2.0 : (beta + beta_max) / 2.0;
    } else {
      beta_max = beta;
      beta = std::isinf(beta_min) ? beta / 2.0 : (beta + beta_min) / 2.0;
    }
  }
}

// Squared Euclidean distances of rows [begin, end) to all rows, [end − begin, N].
torch::Tensor squared_distances(const torch::Tensor& x, const torch::Tensor& sq, std::int64_t begin, std::int64_t end) {
  auto block = x.slice(0, begin, end);
  return (sq.slice(0, begin, end).unsqueeze(1) + sq.unsqueeze(0) - 2.0 * torch::matmul(block, x.t())).clamp_min(0.0);
}

// Dense symmetric P (row-major N×N), summing to 1.
std::vector<double> dense_affinities(const torch::Tensor& x, double perplexity) {
  const std::int64_t n = x.size(0);
  const auto sq = (x * x).sum(1);
  std::vector<double> p(static_cast<std::size_t>(n * n), 0.0);
  constexpr std::int64_t kBlock = 256;
  for (std::int64_t begin = 0; begin < n; begin += kBlock) {
    const std::int64_t end = std::min(n, begin + kBlock);
    const auto d = squared_distances(x, sq, begin, end).contiguous();
    const double* dd = d.data_ptr<double>();
    at::parallel_for(begin, end, 1, [&](std::int64_t b, std::int64_t e) {
      std::vector<double> dist(static_cast<std::size_t>(n - 1)), row(static_cast<std::size_t>(n - 1));
      for (std::int64_t i = b; i < e; ++i) {
        const double* di = dd + (i - begin) * n;
        for (std::int64_t j = 0, k = 0; j < n; ++j)
          if (j != i) dist[static_cast<std::size_t>(k++)] = di[j];
        conditional_row(dist.data(), n - 1, perplexity, row.data());
        double* pi = p.data() + i * n;
        for (std::int64_t j = 0, k = 0; j < n; ++j)
          if (j != i) pi[j] = row[static_cast<std::size_t>(k++)];
      }
    });
  }
  double total = 0.0;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i + 1; j < n; ++j) {
      const double s = p[i * n + j] + p[j * n + i];
      p[i * n + j] = p[j * n + i] = s;
      total += 2.0 * s;
    }
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j) p[i * n + j] = i == j ? 0.0 : std::max(p[i * n + j] / total, kMachineEpsilon);
  return p;
}

// Sparse symmetric P in compressed rows, summing to 1.
struct SparseP {
  std::vector<std::int64_t> row_begin;  // N + 1
  std::vector<std::int64_t> column;
  std::vector<double> value;
};

SparseP sparse_affinities(const torch::Tensor& x, double perplexity) {
  const std::int64_t n = x.size(0);
  const std::int64_t k = std::min<std::int64_t>(n - 1, static_cast<std::int64_t>(3.0 * perplexity + 1.0));
  const auto sq = (x * x).sum(1);
  std::vector<std::int64_t> neighbours(static_cast<std::size_t>(n * k));
  std::vector<double> conditional(static_cast<std::size_t>(n * k));
  constexpr std::int64_t kBlock = 256;
  for (std::int64_t begin = 0; begin < n; begin += kBlock) {
    const std::int64_t end = std::min(n, begin + kBlock);
    auto d = squared_distances(x, sq, begin, end);
    const auto rows = torch::arange(end - begin, torch::kLong);
    d.index_put_({rows, rows + begin}, std::numeric_limits<double>::infinity());  // never one's own neighbour
    const auto nearest = torch::topk(d, k, /*dim=*/1, /*largest=*/false, /*sorted=*/true);
    const auto dist = std::get<0>(nearest).contiguous();
    const auto idx = std::get<1>(nearest).contiguous();
    std::copy(idx.data_ptr<std::int64_t>(), idx.data_ptr<std::int64_t>() + idx.numel(), neighbours.begin() + begin * k);
    const double* dd = dist.data_ptr<double>();
    at::parallel_for(begin, end, 1, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) conditional_row(dd + (i - begin) * k, k, perplexity, conditional.data() + i * k);
    });
  }
  // P = (P_cond + P_condᵀ) / sum: gather both directions per row, then merge duplicates.
  std::vector<std::vector<std::pair<std::int64_t, double>>> rows(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t t = 0; t < k; ++t) {
      const std::int64_t j = neighbours[static_cast<std::size_t>(i * k + t)];
      const double v = conditional[static_cast<std::size_t>(i * k + t)];
      rows[static_cast<std::size_t>(i)].emplace_back(j, v);
      rows[static_cast<std::size_t>(j)].emplace_back(i, v);
    }
  SparseP p;
  p.row_begin.assign(static_cast<std::size_t>(n + 1), 0);
  double total = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    auto& r = rows[static_cast<std::size_t>(i)];
    std::sort(r.begin(), r.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t t = 0; t < r.size(); ++t) {
      if (!p.column.empty() && static_cast<std::int64_t>(p.column.size()) > p.row_begin[static_cast<std::size_t>(i)] &&
          p.column.back() == r[t].first) {
        p.value.back() += r[t].second;
      } else {
        p.column.push_back(r[t].first);
        p.value.push_back(r[t].second);
      }
      total += r[t].second;
    }
    p.row_begin[static_cast<std::size_t>(i + 1)] = static_cast<std::int64_t>(p.column.size());
    r.clear();
    r.shrink_to_fit();
  }
  for (auto& v : p.value) v = std::max(v / total, kMachineEpsilon);
  return p;
}

// ---- gradients -----------------------------------------------------------------------------------

// Exact: grad_i = 4 Σ_j (e·P_ij − q_ij) (1 + |y_i − y_j|²)⁻¹ (y_i − y_j), q_ij = w_ij / Σ w.
void exact_gradient(const std::vector<double>& p, const std::vector<double>& y, std::int64_t n, double exaggeration,
                    std::vector<double>& grad) {
  std::vector<double> row_sum(static_cast<std::size_t>(n), 0.0);
  at::parallel_for(0, n, 16, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      double s = 0.0;
      for (std::int64_t j = 0; j < n; ++j) {
        if (j == i) continue;
        const double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
        s += 1.0 / (1.0 + dx * dx + dy * dy);
      }
      row_sum[static_cast<std::size_t>(i)] = s;
    }
  });
  double z = 0.0;
  for (double s : row_sum) z += s;
  at::parallel_for(0, n, 16, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      double gx = 0.0, gy = 0.0;
      const double* pi = p.data() + i * n;
      for (std::int64_t j = 0; j < n; ++j) {
        if (j == i) continue;
        const double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
        const double w = 1.0 / (1.0 + dx * dx + dy * dy);
        const double m = (exaggeration * pi[j] - std::max(w / z, kMachineEpsilon)) * w;
        gx += m * dx;
        gy += m * dy;
      }
      grad[static_cast<std::size_t>(2 * i)] = 4.0 * gx;
      grad[static_cast<std::size_t>(2 * i + 1)] = 4.0 * gy;
    }
  });
}

// A point-region quadtree over the embedding, rebuilt every iteration. A leaf holds one point, or
// several identical (or nearly identical) points once the depth limit is reached.
class QuadTree {
 public:
  QuadTree(const std::vector<double>& y, std::int64_t n) : y_(y), next_(static_cast<std::size_t>(n), -1) {
    double x0 = y[0], x1 = y[0], y0 = y[1], y1 = y[1];
    for (std::int64_t i = 1; i < n; ++i) {
      x0 = std::min(x0, y[2 * i]), x1 = std::max(x1, y[2 * i]);
      y0 = std::min(y0, y[2 * i + 1]), y1 = std::max(y1, y[2 * i + 1]);
    }
    const double half = std::max(x1 - x0, y1 - y0) * 0.5 * (1.0 + 1e-9) + 1e-12;
    nodes_.reserve(static_cast<std::size_t>(4 * n));
    nodes_.push_back(Node{(x0 + x1) / 2, (y0 + y1) / 2, half});
    for (std::int64_t i = 0; i < n; ++i) insert(i);
  }

  // Repulsive force numerator Σ_j w_ij² (y_i − y_j) and Σ_j w_ij for point i (j ≠ i).
  void repulsion(std::int64_t i, double theta, double& fx, double& fy, double& sum_w) const {
    visit(0, i, y_[2 * i], y_[2 * i + 1], theta * theta, fx, fy, sum_w);
  }

 private:
  struct Node {
    double cx, cy, half;
    double sx = 0, sy = 0;   // sums of the positions below
    std::int64_t count = 0;
    std::int64_t first = -1;  // leaf: first point (then next_[])
    std::int32_t child = -1;  // index of the first of four children; -1 for a leaf
    int depth = 0;
  };
  static constexpr int kMaxDepth = 48;

  int quadrant(const Node& node, double px, double py) const { return (px >= node.cx ? 1 : 0) + (py >= node.cy ? 2 : 0); }

  void insert(std::int64_t i) {
    const double px = y_[2 * i], py = y_[2 * i + 1];
    std::size_t at = 0;
    for (;;) {
      Node& node = nodes_[at];
      if (node.child < 0) {
        if (node.count == 0 || node.depth >= kMaxDepth) {
          next_[static_cast<std::size_t>(i)] = node.first;
          node.first = i;
          add(node, px, py);
          return;
        }
        split(at);
      }
      Node& parent = nodes_[at];
      add(parent, px, py);
      at = static_cast<std::size_t>(parent.child + quadrant(parent, px, py));
    }
  }

  void add(Node& node, double px, double py) {
    node.sx += px;
    node.sy += py;
    node.count += 1;
  }

  // Turns a leaf with one point into an inner node whose child holds that point.
  void split(std::size_t at) {
    const auto first_child = static_cast<std::int32_t>(nodes_.size());
    const Node copy = nodes_[at];
    const double h = copy.half / 2;
    for (int q = 0; q < 4; ++q) {
      Node c{copy.cx + ((q & 1) ? h : -h), copy.cy + ((q & 2) ? h : -h), h};
      c.depth = copy.depth + 1;
      nodes_.push_back(c);
    }
    Node& node = nodes_[at];
    node.child = first_child;
    const std::int64_t j = node.first;
    node.first = -1;
    const double px = y_[2 * j], py = y_[2 * j + 1];
    Node& target = nodes_[static_cast<std::size_t>(first_child + quadrant(node, px, py))];
    target.first = j;
    next_[static_cast<std::size_t>(j)] = -1;
    add(target, px, py);
  }

  void visit(std::size_t at, std::int64_t i, double px, double py, double theta2, double& fx, double& fy, double& sum_w) const {
    const Node& node = nodes_[at];
    if (node.count == 0) return;
    if (node.child < 0) {
      for (std::int64_t j = node.first; j >= 0; j = next_[static_cast<std::size_t>(j)]) {
        if (j == i) continue;
        const double dx = px - y_[2 * j], dy = py - y_[2 * j + 1];
        const double w = 1.0 / (1.0 + dx * dx + dy * dy);
        sum_w += w;
        fx += w * w * dx;
        fy += w * w * dy;
      }
      return;
    }
    const double count = static_cast<double>(node.count);
    const double dx = px - node.sx / count, dy = py - node.sy / count;
    const double d2 = dx * dx + dy * dy;
    const double width = 2 * node.half;
    if (width * width < theta2 * d2) {  // far enough: the cell acts as one point at its centre of mass
      const double w = 1.0 / (1.0 + d2);
      sum_w += count * w;
      fx += count * w * w * dx;
      fy += count * w * w * dy;
      return;
    }
    for (int q = 0; q < 4; ++q) visit(static_cast<std::size_t>(node.child + q), i, px, py, theta2, fx, fy, sum_w);
  }

  const std::vector<double>& y_;
  std::vector<std::int64_t> next_;
  std::vector<Node> nodes_;
};

// Barnes-Hut: attraction over the sparse P exactly, repulsion through the quadtree.
void barnes_hut_gradient(const SparseP& p, const std::vector<double>& y, std::int64_t n, double exaggeration, double theta,
                         std::vector<double>& grad) {
  const QuadTree tree(y, n);
  std::vector<double> sum_w(static_cast<std::size_t>(n)), rep(static_cast<std::size_t>(2 * n));
  at::parallel_for(0, n, 64, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      double fx = 0, fy = 0, s = 0;
      tree.repulsion(i, theta, fx, fy, s);
      rep[static_cast<std::size_t>(2 * i)] = fx;
      rep[static_cast<std::size_t>(2 * i + 1)] = fy;
      sum_w[static_cast<std::size_t>(i)] = s;
      double ax = 0, ay = 0;
      for (std::int64_t t = p.row_begin[static_cast<std::size_t>(i)]; t < p.row_begin[static_cast<std::size_t>(i + 1)]; ++t) {
        const std::int64_t j = p.column[static_cast<std::size_t>(t)];
        const double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
        const double m = exaggeration * p.value[static_cast<std::size_t>(t)] / (1.0 + dx * dx + dy * dy);
        ax += m * dx;
        ay += m * dy;
      }
      grad[static_cast<std::size_t>(2 * i)] = ax;
      grad[static_cast<std::size_t>(2 * i + 1)] = ay;
    }
  });
  double z = 0.0;
  for (double s : sum_w) z += s;
  for (std::int64_t c = 0; c < 2 * n; ++c) grad[static_cast<std::size_t>(c)] = 4.0 * (grad[static_cast<std::size_t>(c)] - rep[static_cast<std::size_t>(c)] / z);
}

// ---- initialisation -------------------------------------------------------------------------------

std::vector<double> random_init(std::int64_t n, std::uint64_t seed) {
  NumpyRandom rng(static_cast<std::uint32_t>(seed ^ (seed >> 32)));
  std::vector<double> y(static_cast<std::size_t>(2 * n));
  for (std::size_t c = 0; c < y.size(); c += 2) {  // Box-Muller: two normals from two uniforms
    const double u1 = 1.0 - rng.next_double(), u2 = rng.next_double();
    const double r = std::sqrt(-2.0 * std::log(u1));
    y[c] = 1e-4 * r * std::cos(2 * kPi * u2);
    y[c + 1] = 1e-4 * r * std::sin(2 * kPi * u2);
  }
  return y;
}

// The first two principal components, each with its sign fixed (largest |score| positive), scaled so
// that the first has standard deviation 1e-4 (sklearn's PCA initialisation).
std::vector<double> pca_init(const torch::Tensor& x, std::uint64_t seed) {
  const std::int64_t n = x.size(0), d = x.size(1);
  const auto centred = x - x.mean(0, /*keepdim=*/true);
  torch::Tensor scores;
  if (d <= n) {
    const auto eig = torch::linalg_eigh(torch::matmul(centred.t(), centred));  // ascending eigenvalues
    auto vectors = std::get<1>(eig).flip({1});
    if (vectors.size(1) < 2) vectors = torch::cat({vectors, torch::zeros({d, 1}, vectors.options())}, 1);
    scores = torch::matmul(centred, vectors.slice(1, 0, 2));
  } else {
    const auto eig = torch::linalg_eigh(torch::matmul(centred, centred.t()));
    const auto values = std::get<0>(eig).flip({0}).slice(0, 0, 2).clamp_min(0.0);
    scores = std::get<1>(eig).flip({1}).slice(1, 0, 2) * values.sqrt().unsqueeze(0);
  }
  scores = scores.contiguous();
  const double sd = scores.select(1, 0).std().item<double>();
  if (!(sd > 1e-12) || !std::isfinite(sd)) return random_init(n, seed);  // constant features: nothing to project
  for (int c = 0; c < 2; ++c) {
    auto col = scores.select(1, c);
    const auto at = col.abs().argmax().item<std::int64_t>();
    if (col[at].item<double>() < 0) col.neg_();
  }
  scores = scores / sd * 1e-4;
  std::vector<double> y(static_cast<std::size_t>(2 * n));
  std::copy(scores.data_ptr<double>(), scores.data_ptr<double>() + 2 * n, y.begin());
  return y;
}

}  // namespace

torch::Tensor tsne(const torch::Tensor& features, const TsneOptions& options) try {
  const auto x = checked_features(features, "features");
  const std::int64_t n = x.size(0);
  validate(options, n);
  const bool exact = options.method() == TsneMethod::kExact;

  std::vector<double> dense_p;
  SparseP sparse_p;
  if (exact)
    dense_p = dense_affinities(x, options.perplexity());
  else
    sparse_p = sparse_affinities(x, options.perplexity());

  std::vector<double> y = options.init() == TsneInit::kPca ? pca_init(x, options.seed()) : random_init(n, options.seed());
  const double learning_rate = options.learning_rate() > 0.0
                                   ? options.learning_rate()
                                   : std::max(static_cast<double>(n) / options.early_exaggeration() / 4.0, 50.0);
  std::vector<double> grad(y.size()), update(y.size()), gains(y.size());
  std::optional<ProgressLine> progress;
  if (!options.progress_label().empty()) progress.emplace(options.progress_label(), options.iterations(), "iterations");
  for (std::int64_t it = 0; it < options.iterations(); ++it) {
    const bool early = it < options.exaggeration_iterations();
    if (it == 0 || it == options.exaggeration_iterations()) {  // each phase starts afresh, as sklearn
      std::fill(update.begin(), update.end(), 0.0);
      std::fill(gains.begin(), gains.end(), 1.0);
    }
    const double exaggeration = early ? options.early_exaggeration() : 1.0;
    const double momentum = early ? 0.5 : 0.8;
    if (exact)
      exact_gradient(dense_p, y, n, exaggeration, grad);
    else
      barnes_hut_gradient(sparse_p, y, n, exaggeration, options.theta(), grad);
    for (std::size_t c = 0; c < y.size(); ++c) {
      // Delta-bar-delta gains: grow where the step keeps its direction, shrink where it flips.
      gains[c] = (update[c] * grad[c] < 0.0) ? gains[c] + 0.2 : gains[c] * 0.8;
      gains[c] = std::max(gains[c], 0.01);
      update[c] = momentum * update[c] - learning_rate * gains[c] * grad[c];
      y[c] += update[c];
    }
    if (progress) progress->advance(1, early ? "early exaggeration" : "");
  }
  if (progress) progress->finish();
  for (double v : y)
    if (!std::isfinite(v))
      throw InvalidArgument(fmt::format("tsne: the optimisation diverged (learning_rate {}); try a smaller learning rate", learning_rate));
  return torch::from_blob(y.data(), {n, 2}, torch::kFloat64).clone();
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("tsne");
}

double tsne_kl_divergence(const torch::Tensor& features, const torch::Tensor& embedding, double perplexity) try {
  const auto x = checked_features(features, "features");
  const auto e = checked_features(embedding, "embedding");
  const std::int64_t n = x.size(0);
  if (e.size(0) != n || e.size(1) != 2)
    throw InvalidArgument(fmt::format("tsne_kl_divergence: embedding must be [{}, 2], got [{}, {}]", n, e.size(0), e.size(1)));
  check_perplexity(perplexity, n);
  const auto p = dense_affinities(x, perplexity);
  const double* y = e.data_ptr<double>();
  double z = 0.0;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      if (i != j) {
        const double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
        z += 1.0 / (1.0 + dx * dx + dy * dy);
      }
  double kl = 0.0;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      if (i != j) {
        const double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
        const double q = std::max(1.0 / (1.0 + dx * dx + dy * dy) / z, kMachineEpsilon);
        const double pij = p[static_cast<std::size_t>(i * n + j)];
        kl += pij * std::log(std::max(pij, kMachineEpsilon) / q);
      }
  return kl;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("tsne_kl_divergence");
}

torch::Tensor tsne_place(const torch::Tensor& reference_features, const torch::Tensor& reference_embedding, const torch::Tensor& new_features,
                         const TsnePlaceOptions& options) try {
  const auto reference = checked_features(reference_features, "reference_features", "tsne_place");
  const std::int64_t n = reference.size(0), d = reference.size(1);
  const auto map = checked_features(reference_embedding, "reference_embedding", "tsne_place", 2);
  if (map.size(0) != n)
    throw InvalidArgument(fmt::format("tsne_place: reference_embedding has {} rows but reference_features {}", map.size(0), n));
  const auto fresh = checked_features(new_features, "new_features", "tsne_place", d, /*min_rows=*/0);
  const std::int64_t m = fresh.size(0);
  if (!(options.perplexity() > 0.0) || !(options.perplexity() < static_cast<double>(n) / 3.0))
    throw InvalidArgument(fmt::format("tsne_place: perplexity {} must be above 0 and below N/3 = {:.4g} for N = {} reference points",
                                      options.perplexity(), static_cast<double>(n) / 3.0, n));
  if (options.iterations() < 1) throw InvalidArgument(fmt::format("tsne_place: iterations {} must be at least 1", options.iterations()));
  if (!(options.learning_rate() > 0.0) || !std::isfinite(options.learning_rate()))
    throw InvalidArgument(fmt::format("tsne_place: learning_rate {} must be a finite number > 0", options.learning_rate()));
  auto placed = torch::zeros({m, 2}, torch::kFloat64);
  if (m == 0) return placed;

  const std::int64_t k = std::min<std::int64_t>(n, static_cast<std::int64_t>(3.0 * options.perplexity() + 1.0));
  const double* y_ref = map.data_ptr<double>();
  double* out = placed.data_ptr<double>();
  const auto reference_sq = (reference * reference).sum(1);
  std::optional<ProgressLine> progress;
  if (!options.progress_label().empty()) progress.emplace(options.progress_label(), m, "points");
  constexpr std::int64_t kBlock = 256;
  for (std::int64_t begin = 0; begin < m; begin += kBlock) {
    const std::int64_t end = std::min(m, begin + kBlock);
    const auto block = fresh.slice(0, begin, end);
    const auto distances =
        ((block * block).sum(1).unsqueeze(1) + reference_sq.unsqueeze(0) - 2.0 * torch::matmul(block, reference.t())).clamp_min(0.0);
    const auto nearest = torch::topk(distances, k, /*dim=*/1, /*largest=*/false, /*sorted=*/true);
    const auto dist = std::get<0>(nearest).contiguous();
    const auto idx = std::get<1>(nearest).contiguous();
    const double* dd = dist.data_ptr<double>();
    const std::int64_t* ii = idx.data_ptr<std::int64_t>();
    at::parallel_for(begin, end, 1, [&](std::int64_t b, std::int64_t e) {
      std::vector<double> p(static_cast<std::size_t>(k));
      for (std::int64_t i = b; i < e; ++i) {
        const std::int64_t row = i - begin;
        conditional_row(dd + row * k, k, options.perplexity(), p.data());
        const std::int64_t* neighbours = ii + row * k;
        double y[2] = {0.0, 0.0};
        for (std::int64_t t = 0; t < k; ++t)
          for (int c = 0; c < 2; ++c) y[c] += p[static_cast<std::size_t>(t)] * y_ref[2 * neighbours[t] + c];
        double update[2] = {0.0, 0.0}, gains[2] = {1.0, 1.0};
        for (std::int64_t it = 0; it < options.iterations(); ++it) {
          // ∂KL/∂y = 2 Σ_j (p_j − q_j) w_j (y − y_j), w_j = 1/(1 + |y − y_j|²), q_j = w_j / Σ w.
          double z = 0.0, repulse[2] = {0.0, 0.0};
          for (std::int64_t j = 0; j < n; ++j) {
            const double dx = y[0] - y_ref[2 * j], dy = y[1] - y_ref[2 * j + 1];
            const double w = 1.0 / (1.0 + dx * dx + dy * dy);
            z += w;
            repulse[0] += w * w * dx;
            repulse[1] += w * w * dy;
          }
          double grad[2] = {0.0, 0.0};
          for (std::int64_t t = 0; t < k; ++t) {
            const std::int64_t j = neighbours[t];
            const double dx = y[0] - y_ref[2 * j], dy = y[1] - y_ref[2 * j + 1];
            const double w = 1.0 / (1.0 + dx * dx + dy * dy);
            grad[0] += p[static_cast<std::size_t>(t)] * w * dx;
            grad[1] += p[static_cast<std::size_t>(t)] * w * dy;
          }
          const double momentum = it < 50 ? 0.5 : 0.8;
          for (int c = 0; c < 2; ++c) {
            const double g = 2.0 * (grad[c] - repulse[c] / z);
            gains[c] = (update[c] * g < 0.0) ? gains[c] + 0.2 : std::max(gains[c] * 0.8, 0.01);
            update[c] = momentum * update[c] - options.learning_rate() * gains[c] * g;
            y[c] += update[c];
          }
        }
        out[2 * i] = y[0];
        out[2 * i + 1] = y[1];
      }
    });
    if (progress) progress->advance(end - begin);
  }
  if (progress) progress->finish();
  if (!torch::isfinite(placed).all().item<bool>())
    throw InvalidArgument(fmt::format("tsne_place: the descent diverged (learning_rate {}); try a smaller learning rate", options.learning_rate()));
  return placed;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("tsne_place");
}

}  // namespace labelrep::analysis
