// The speech-label pipeline and its inverse. Each stage follows LABELS-SPEC.md; the section numbers
// below refer to it. Numerics are double precision except where the original was float32 and that
// rounding is visible in the authors' files (the resampler's accumulator, §2).
#include "labelrep/audio/speech.hpp"

#include <fftw3.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <map>
#include <memory>
#include <mutex>

#include "labelrep/core/error.hpp"
#include "labelrep/core/random.hpp"
#include "core/boundary.hpp"

namespace labelrep::audio {
namespace {

constexpr int kMaxRate = 384000;

// numpy 'reflect' / ndimage 'mirror': mirror about the edge samples without repeating them,
// as often as needed (the pad may exceed the length).
inline std::int64_t mirror(std::int64_t i, std::int64_t n) {
  if (n == 1) return 0;
  const std::int64_t period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

void require_rate(int rate, const char* what) {
  if (rate < 1 || rate > kMaxRate) throw InvalidArgument(fmt::format("{}: sample rate {} outside [1, {}]", what, rate, kMaxRate));
}
void require_fft(int n_fft, int hop, const char* what) {
  if (n_fft < 2 || n_fft % 2 != 0 || n_fft > (1 << 20))
    throw InvalidArgument(fmt::format("{}: n_fft must be even and in [2, 2^20], got {}", what, n_fft));
  if (hop < 1 || hop > n_fft) throw InvalidArgument(fmt::format("{}: hop_length must be in [1, n_fft], got {}", what, hop));
}

torch::Tensor cpu_double_2d(const torch::Tensor& t, const char* what) {
  if (!t.defined() || t.dim() != 2 || t.size(0) < 1 || t.size(1) < 1)
    throw InvalidArgument(fmt::format("{} must be a non-empty 2-D tensor, got {} dimensions", what, t.defined() ? t.dim() : 0));
  if (!t.is_floating_point())
    throw InvalidArgument(fmt::format("{} must be a floating-point tensor, got {}", what, c10::toString(t.scalar_type())));
  torch::Tensor d = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  if (!torch::isfinite(d).all().item<bool>()) throw InvalidArgument(fmt::format("{} has NaN or infinite values", what));
  return d;
}

// ---- §2 resampler table ---------------------------------------------------------------------

// Modified Bessel function I0 by its power series (converges fast for the β used here).
double bessel_i0(double x) {
  double sum = 1.0, term = 1.0;
  const double q = x * x / 4.0;
  for (int k = 1; k < 500; ++k) {
    term *= q / (static_cast<double>(k) * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

constexpr int kZeroCrossings = 64;
constexpr int kTableRate = 512;  // taps per zero crossing (resampy "precision" 9)
// At most this many samples out of the resampler: about 50 minutes at 22,050 Hz, far beyond a spoken word.
constexpr std::int64_t kMaxResampledSamples = std::int64_t{1} << 26;

// resampy 0.2.2's kaiser_best half-window: ρ·sinc(ρ·m/P) · I0(β·sqrt(1 − (m/n)²)) / I0(β), m = 0..n,
// evaluated in the order numpy/scipy do so that the table equals the shipped .npz to rounding.
const std::vector<double>& kaiser_best_window() {
  static const std::vector<double> window = [] {
    constexpr double beta = 14.769656459379492, rolloff = 0.9475937167399596;
    const int n = kZeroCrossings * kTableRate;
    std::vector<double> w(static_cast<std::size_t>(n) + 1);
    const double i0_beta = bessel_i0(beta);
    for (int m = 0; m <= n; ++m) {
      const double u = rolloff * (static_cast<double>(m) / kTableRate);
      const double y = M_PI * (m == 0 ? 1e-20 : u);
      const double sinc = std::sin(y) / y;
      const double ratio = static_cast<double>(m) / n;
      const double taper = bessel_i0(beta * std::sqrt(1.0 - ratio * ratio)) / i0_beta;
      w[static_cast<std::size_t>(m)] = taper * (rolloff * sinc);
    }
    return w;
  }();
  return window;
}

// ---- FFT plans ------------------------------------------------------------------------------

// FFTW's planner is not thread-safe, its executor is: plans are made once per size under a mutex and
// then run with fftw_execute_dft_* on per-call buffers (fftw_malloc'ed, so alignment matches the plan's).
struct FftPlans {
  fftw_plan forward = nullptr;  // r2c
  fftw_plan inverse = nullptr;  // c2r
};
std::mutex g_fftw_mutex;

// The plans of every size used so far, destroyed at exit (fftw_destroy_plan, like planning, under the
// planner mutex), so that a leak checker sees nothing of FFTW's left over.
class FftPlanCache {
 public:
  FftPlanCache() = default;
  FftPlanCache(const FftPlanCache&) = delete;
  FftPlanCache& operator=(const FftPlanCache&) = delete;
  ~FftPlanCache() {
    std::lock_guard<std::mutex> lock(g_fftw_mutex);
    for (auto& [n, p] : plans_) destroy(p);
  }
  // Requires g_fftw_mutex held.
  const FftPlans& get(int n) {
    auto it = plans_.find(n);
    if (it != plans_.end()) return it->second;
    double* real = fftw_alloc_real(static_cast<std::size_t>(n));
    fftw_complex* spec = fftw_alloc_complex(static_cast<std::size_t>(n / 2 + 1));
    if (real == nullptr || spec == nullptr) {
      fftw_free(real);
      fftw_free(spec);
      throw OutOfMemory(fmt::format("labelrep: cannot allocate FFT buffers of size {}", n));
    }
    // FFTW_ESTIMATE: no timing-based choice, so the same plan (and the same bits) on every run.
    FftPlans p;
    p.forward = fftw_plan_dft_r2c_1d(n, real, spec, FFTW_ESTIMATE);
    p.inverse = fftw_plan_dft_c2r_1d(n, spec, real, FFTW_ESTIMATE);
    fftw_free(real);
    fftw_free(spec);
    if (p.forward == nullptr || p.inverse == nullptr) {
      destroy(p);
      throw InternalError(fmt::format("labelrep: FFTW could not plan a size-{} FFT", n));
    }
    return plans_.emplace(n, p).first->second;
  }

 private:
  static void destroy(FftPlans& p) {
    if (p.forward != nullptr) fftw_destroy_plan(p.forward);
    if (p.inverse != nullptr) fftw_destroy_plan(p.inverse);
    p = FftPlans{};
  }
  std::map<int, FftPlans> plans_;
};

const FftPlans& plans_for(int n) {
  std::lock_guard<std::mutex> lock(g_fftw_mutex);
  static FftPlanCache cache;
  return cache.get(n);
}

struct FftwDeleter {
  void operator()(void* p) const { fftw_free(p); }
};
using RealBuffer = std::unique_ptr<double, FftwDeleter>;
using ComplexBuffer = std::unique_ptr<fftw_complex, FftwDeleter>;

std::vector<double> hann_periodic(int n) {
  std::vector<double> w(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) w[static_cast<std::size_t>(i)] = 0.5 - 0.5 * std::cos(2.0 * M_PI * i / n);
  return w;
}

// Centred STFT frames of `x` (§4): frame t covers padded samples [hop·t, hop·t + n_fft).
// Calls `use(t, spectrum)` with the n_fft/2+1 bins of each frame.
template <typename Use>
void stft_frames(const std::vector<double>& x, int n_fft, int hop, PadMode pad, Use&& use) {
  const auto n = static_cast<std::int64_t>(x.size());
  const std::int64_t frames = 1 + n / hop;
  const std::vector<double> window = hann_periodic(n_fft);
  const FftPlans& plans = plans_for(n_fft);
  RealBuffer in(fftw_alloc_real(static_cast<std::size_t>(n_fft)));
  ComplexBuffer out(fftw_alloc_complex(static_cast<std::size_t>(n_fft / 2 + 1)));
  if (!in || !out) throw OutOfMemory("labelrep: cannot allocate FFT buffers");
  const std::int64_t half = n_fft / 2;
  for (std::int64_t t = 0; t < frames; ++t) {
    for (int m = 0; m < n_fft; ++m) {
      const std::int64_t i = hop * t + m - half;
      double v = 0.0;
      if (i >= 0 && i < n) v = x[static_cast<std::size_t>(i)];
      else if (pad == PadMode::kReflect) v = x[static_cast<std::size_t>(mirror(i, n))];
      in.get()[m] = window[static_cast<std::size_t>(m)] * v;
    }
    fftw_execute_dft_r2c(plans.forward, in.get(), out.get());
    use(t, out.get());
  }
}

// ---- §7 resize --------------------------------------------------------------------------------

// Resizes the last axis of a row-major [rows, in_cols] array to out_cols columns as skimage does on
// one axis: Gaussian anti-aliasing when shrinking, then linear interpolation with mirrored edges.
std::vector<double> resize_columns(const std::vector<double>& in, std::int64_t rows, std::int64_t in_cols, std::int64_t out_cols) {
  const double s = static_cast<double>(in_cols) / static_cast<double>(out_cols);
  std::vector<double> blurred = in;
  if (s > 1.0) {
    const double sigma = (s - 1.0) / 2.0;
    const auto radius = static_cast<std::int64_t>(4.0 * sigma + 0.5);  // ndimage truncate = 4
    if (radius > 0) {
      std::vector<double> g(static_cast<std::size_t>(2 * radius + 1));
      double total = 0.0;
      for (std::int64_t j = -radius; j <= radius; ++j)
        total += g[static_cast<std::size_t>(j + radius)] = std::exp(-0.5 * static_cast<double>(j * j) / (sigma * sigma));
      for (double& v : g) v /= total;
      for (std::int64_t r = 0; r < rows; ++r) {
        const double* src = in.data() + r * in_cols;
        double* dst = blurred.data() + r * in_cols;
        for (std::int64_t t = 0; t < in_cols; ++t) {
          double acc = 0.0;
          for (std::int64_t j = -radius; j <= radius; ++j) acc += g[static_cast<std::size_t>(j + radius)] * src[mirror(t + j, in_cols)];
          dst[t] = acc;
        }
      }
    }
  }
  std::vector<double> out(static_cast<std::size_t>(rows * out_cols));
  for (std::int64_t j = 0; j < out_cols; ++j) {
    const double c = s * (static_cast<double>(j) + 0.5) - 0.5;
    const double lo = std::floor(c), hi = std::ceil(c), d = c - lo;
    const std::int64_t a = mirror(static_cast<std::int64_t>(lo), in_cols), b = mirror(static_cast<std::int64_t>(hi), in_cols);
    for (std::int64_t r = 0; r < rows; ++r) {
      const double* src = blurred.data() + r * in_cols;
      out[static_cast<std::size_t>(r * out_cols + j)] = (1.0 - d) * src[a] + d * src[b];
    }
  }
  return out;
}

std::vector<double> transpose(const std::vector<double>& in, std::int64_t rows, std::int64_t cols) {
  std::vector<double> out(in.size());
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) out[static_cast<std::size_t>(c * rows + r)] = in[static_cast<std::size_t>(r * cols + c)];
  return out;
}

// ---- §5 mel scale (librosa, Slaney) -------------------------------------------------------------

constexpr double kMelLinearStep = 200.0 / 3.0;  // Hz per mel below 1 kHz
constexpr double kMinLogHz = 1000.0;
const double kMinLogMel = kMinLogHz / kMelLinearStep;
const double kLogStep = std::log(6.4) / 27.0;

double hz_to_mel(double f) { return f >= kMinLogHz ? kMinLogMel + std::log(f / kMinLogHz) / kLogStep : f / kMelLinearStep; }
double mel_to_hz(double m) { return m >= kMinLogMel ? kMinLogHz * std::exp(kLogStep * (m - kMinLogMel)) : kMelLinearStep * m; }

}  // namespace

// ---- §2 -------------------------------------------------------------------------------------------

Waveform resample_kaiser_best(const Waveform& input, int target_rate) try {
  require_rate(input.sample_rate, "resample_kaiser_best (input)");
  require_rate(target_rate, "resample_kaiser_best (target)");
  if (input.sample_rate == target_rate) return input;
  const std::vector<float>& x = input.samples;
  const auto n_in = static_cast<std::int64_t>(x.size());
  const double ratio = static_cast<double>(target_rate) / static_cast<double>(input.sample_rate);
  const auto n_out = static_cast<std::int64_t>(std::floor(static_cast<double>(n_in) * ratio));
  const auto n_fix = static_cast<std::int64_t>(std::ceil(static_cast<double>(n_in) * ratio));
  // Downsampling scales the table (and so the cut-off) by the ratio, as resampy does.
  const double scale = std::min(1.0, ratio);
  const std::vector<double>& base = kaiser_best_window();
  const auto nwin = static_cast<std::int64_t>(base.size());
  std::vector<double> h(base.size()), delta(base.size(), 0.0);
  for (std::size_t m = 0; m < base.size(); ++m) h[m] = ratio < 1.0 ? base[m] * ratio : base[m];
  for (std::size_t m = 0; m + 1 < base.size(); ++m) delta[m] = h[m + 1] - h[m];
  const auto step = static_cast<std::int64_t>(scale * kTableRate);
  // The filter table has kTableRate entries per zero crossing: below 1/kTableRate a downsampling step
  // would be 0 entries (resampy divides by zero there too).
  if (step < 1)
    throw InvalidArgument(fmt::format("resample_kaiser_best: {} Hz to {} Hz is a ratio below 1/{}, which the filter table cannot resolve",
                                      input.sample_rate, target_rate, kTableRate));
  // Without a bound a tiny file at 1 Hz would ask for gigabytes at the target rate.
  if (n_fix > kMaxResampledSamples)
    throw InvalidArgument(fmt::format("resample_kaiser_best: {} samples at {} Hz would become {} at {} Hz, more than the limit of {}",
                                      n_in, input.sample_rate, n_fix, target_rate, kMaxResampledSamples));
  const double increment = 1.0 / ratio;

  Waveform out;
  out.sample_rate = target_rate;
  out.samples.assign(static_cast<std::size_t>(std::max<std::int64_t>(n_fix, 0)), 0.0f);
  double time = 0.0;  // a running sum, not t·increment: its rounding is part of the result
  for (std::int64_t t = 0; t < n_out; ++t) {
    const auto k = static_cast<std::int64_t>(time);
    float acc = 0.0f;  // float32, as resampy's output array: each term is rounded into it
    double frac = scale * (time - static_cast<double>(k));
    double index = frac * kTableRate;
    auto offset = static_cast<std::int64_t>(index);
    double eta = index - static_cast<double>(offset);
    const std::int64_t left = std::min(k + 1, (nwin - offset) / step);
    for (std::int64_t i = 0; i < left; ++i) {
      const auto m = static_cast<std::size_t>(offset + i * step);
      const double weight = h[m] + eta * delta[m];
      acc = static_cast<float>(static_cast<double>(acc) + weight * static_cast<double>(x[static_cast<std::size_t>(k - i)]));
    }
    frac = scale - frac;
    index = frac * kTableRate;
    offset = static_cast<std::int64_t>(index);
    eta = index - static_cast<double>(offset);
    const std::int64_t right = std::min(n_in - k - 1, (nwin - offset) / step);
    for (std::int64_t j = 0; j < right; ++j) {
      const auto m = static_cast<std::size_t>(offset + j * step);
      const double weight = h[m] + eta * delta[m];
      acc = static_cast<float>(static_cast<double>(acc) + weight * static_cast<double>(x[static_cast<std::size_t>(k + 1 + j)]));
    }
    out.samples[static_cast<std::size_t>(t)] = acc;
    time += increment;
  }
  return out;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("resample_kaiser_best");
}

// ---- §3 -------------------------------------------------------------------------------------------

SampleRange silence_bounds(const std::vector<float>& samples, double top_db, int frame_length, int hop_length) try {
  if (frame_length < 2 || frame_length % 2 != 0 || hop_length < 1)
    throw InvalidArgument(fmt::format("silence_bounds: need an even frame_length >= 2 and hop_length >= 1, got {} and {}",
                                      frame_length, hop_length));
  if (!(top_db > 0)) throw InvalidArgument(fmt::format("silence_bounds: top_db must be positive, got {}", top_db));
  const auto n = static_cast<std::int64_t>(samples.size());
  if (n == 0) return {};
  const std::int64_t frames = 1 + n / hop_length, half = frame_length / 2;
  std::vector<double> energy(static_cast<std::size_t>(frames));
  for (std::int64_t q = 0; q < frames; ++q) {
    double sum = 0.0;
    for (std::int64_t m = 0; m < frame_length; ++m) {
      const double v = samples[static_cast<std::size_t>(mirror(hop_length * q + m - half, n))];
      sum += v * v;
    }
    energy[static_cast<std::size_t>(q)] = sum / frame_length;
  }
  const double ref_db = 10.0 * std::log10(std::max(1e-10, *std::max_element(energy.begin(), energy.end())));
  std::int64_t first = -1, last = -1;
  for (std::int64_t q = 0; q < frames; ++q) {
    if (10.0 * std::log10(std::max(1e-10, energy[static_cast<std::size_t>(q)])) - ref_db > -top_db) {
      if (first < 0) first = q;
      last = q;
    }
  }
  if (first < 0) return {};
  // Frame index × hop, without undoing the centring: librosa's mapping, kept for exactness.
  return {hop_length * first, std::min(n, hop_length * (last + 1))};
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("silence_bounds");
}

// ---- §4–§6 ----------------------------------------------------------------------------------------

torch::Tensor power_spectrogram(const std::vector<float>& samples, int n_fft, int hop_length, PadMode pad) try {
  require_fft(n_fft, hop_length, "power_spectrogram");
  if (samples.empty()) throw InvalidArgument("power_spectrogram: no samples");
  const std::vector<double> x(samples.begin(), samples.end());
  const std::int64_t bins = n_fft / 2 + 1, frames = 1 + static_cast<std::int64_t>(x.size()) / hop_length;
  torch::Tensor power = torch::empty({bins, frames}, torch::kFloat64);
  double* p = power.data_ptr<double>();
  stft_frames(x, n_fft, hop_length, pad, [&](std::int64_t t, const fftw_complex* spectrum) {
    for (std::int64_t k = 0; k < bins; ++k) p[k * frames + t] = spectrum[k][0] * spectrum[k][0] + spectrum[k][1] * spectrum[k][1];
  });
  return power;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("power_spectrogram");
}

torch::Tensor mel_filterbank(int sample_rate, int n_fft, int n_mels, double fmin, double fmax) try {
  require_rate(sample_rate, "mel_filterbank");
  require_fft(n_fft, 1, "mel_filterbank");
  if (n_mels < 1 || n_mels > 4096) throw InvalidArgument(fmt::format("mel_filterbank: n_mels must be in [1, 4096], got {}", n_mels));
  if (!(fmin >= 0 && fmin < fmax && fmax <= sample_rate / 2.0))
    throw InvalidArgument(fmt::format("mel_filterbank: need 0 <= fmin < fmax <= {} Hz, got {} and {}", sample_rate / 2.0, fmin, fmax));
  const std::int64_t bins = n_fft / 2 + 1;
  // Band edges evenly spaced in mel (numpy.linspace, last point exact), and bin centre frequencies.
  const double lo = hz_to_mel(fmin), hi = hz_to_mel(fmax);
  std::vector<double> edges(static_cast<std::size_t>(n_mels) + 2);
  const double mel_step = (hi - lo) / (n_mels + 1);
  for (int i = 0; i < n_mels + 2; ++i) edges[static_cast<std::size_t>(i)] = mel_to_hz(i == n_mels + 1 ? hi : lo + i * mel_step);
  const double bin_step = (sample_rate / 2.0) / static_cast<double>(bins - 1);
  torch::Tensor weights = torch::zeros({n_mels, bins}, torch::kFloat64);
  double* w = weights.data_ptr<double>();
  for (int i = 0; i < n_mels; ++i) {
    const double f0 = edges[static_cast<std::size_t>(i)], f1 = edges[static_cast<std::size_t>(i) + 1], f2 = edges[static_cast<std::size_t>(i) + 2];
    const double area = 2.0 / (f2 - f0);  // Slaney normalisation: each filter has unit area
    for (std::int64_t k = 0; k < bins; ++k) {
      const double f = static_cast<double>(k) * bin_step;
      const double rise = (f - f0) / (f1 - f0), fall = (f2 - f) / (f2 - f1);
      w[i * bins + k] = std::max(0.0, std::min(rise, fall)) * area;
    }
  }
  return weights;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("mel_filterbank");
}

torch::Tensor power_to_db(const torch::Tensor& power, double amin, double top_db) try {
  if (!(amin > 0)) throw InvalidArgument(fmt::format("power_to_db: amin must be positive, got {}", amin));
  if (!power.defined() || power.numel() == 0) throw InvalidArgument("power_to_db: power is empty or undefined");
  const torch::Tensor x = power.detach().to(torch::kCPU, torch::kFloat64);
  const double ref = std::max(amin, x.max().item<double>());
  torch::Tensor db = 10.0 * torch::log10(torch::clamp_min(x, amin)) - 10.0 * std::log10(ref);
  if (top_db > 0) db = torch::clamp_min(db, db.max().item<double>() - top_db);
  return db;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("power_to_db");
}

torch::Tensor resize_label(const torch::Tensor& image, std::int64_t height, std::int64_t width) try {
  if (height < 1 || width < 1 || height > 65536 || width > 65536)
    throw InvalidArgument(fmt::format("resize_label: height and width must be in [1, 65536], got {}x{}", height, width));
  const torch::Tensor in = cpu_double_2d(image, "resize_label: image");
  const std::int64_t rows = in.size(0), cols = in.size(1);
  std::vector<double> data(in.data_ptr<double>(), in.data_ptr<double>() + in.numel());
  const auto [lo, hi] = std::minmax_element(data.begin(), data.end());
  const double low = *lo, high = *hi;
  // Time (columns) first, then the mel axis: each axis is independent in skimage's separable filter
  // and bilinear weights.
  if (cols != width) data = resize_columns(data, rows, cols, width);
  if (rows != height) data = transpose(resize_columns(transpose(data, rows, width), width, rows, height), width, height);
  for (double& v : data) v = std::clamp(v, low, high);  // clip = True (a no-op for linear interpolation)
  return torch::from_blob(data.data(), {height, width}, torch::kFloat64).clone();
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("resize_label");
}

// ---- the pipeline ----------------------------------------------------------------------------------

SpeechLabelStages speech_label_stages(const Waveform& waveform, const SpeechLabelOptions& o) try {
  require_rate(o.sample_rate(), "speech_label");
  require_fft(o.n_fft(), o.hop_length(), "speech_label");
  if (o.size() < 1 || o.size() > 4096) throw InvalidArgument(fmt::format("speech_label: size must be in [1, 4096], got {}", o.size()));
  if (!(o.top_db() > 0)) throw InvalidArgument(fmt::format("speech_label: top_db must be positive, got {}", o.top_db()));
  if (waveform.samples.empty()) throw InvalidArgument("speech_label: the waveform is empty");
  bool audible = false;
  for (float v : waveform.samples) {
    if (!std::isfinite(v)) throw InvalidArgument("speech_label: the waveform has NaN or infinite samples");
    audible = audible || v != 0.0f;
  }
  // librosa's trim keeps an all-zero signal whole (every frame is 0 dB below its max), which would
  // give a label of zeros that says nothing: refuse it.
  if (!audible) throw InvalidArgument("speech_label: the waveform is all zeros");
  // The filter bank checks fmin/fmax against the target rate: before the (costly) resampling.
  const torch::Tensor filter_bank = mel_filterbank(o.sample_rate(), o.n_fft(), o.n_mels(), o.fmin(), o.fmax());
  SpeechLabelStages s;
  s.resampled = resample_kaiser_best(waveform, o.sample_rate());
  const std::vector<float>& y = s.resampled.samples;
  s.trim = o.trim() ? silence_bounds(y, o.trim_top_db()) : SampleRange{0, static_cast<std::int64_t>(y.size())};
  if (s.trim.end <= s.trim.start) throw InvalidArgument("speech_label: the waveform is silent (nothing above the trim threshold)");
  const std::vector<float> kept(y.begin() + s.trim.start, y.begin() + s.trim.end);
  s.power = power_spectrogram(kept, o.n_fft(), o.hop_length(), o.pad_mode());
  s.mel = torch::matmul(filter_bank, s.power);
  s.db = power_to_db(s.mel, 1e-10, o.top_db());
  s.label = resize_label(s.db, o.size(), o.size()).to(torch::kFloat32);
  return s;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("speech_label_stages");
}

torch::Tensor speech_label(const Waveform& waveform, const SpeechLabelOptions& options) try {
  return speech_label_stages(waveform, options).label;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("speech_label");
}

// ---- inversion -------------------------------------------------------------------------------------

std::vector<float> griffin_lim(const torch::Tensor& magnitude, const GriffinLimOptions& o) try {
  require_fft(o.n_fft(), o.hop_length(), "griffin_lim");
  if (o.iterations() < 1 || o.iterations() > 100000)
    throw InvalidArgument(fmt::format("griffin_lim: iterations must be in [1, 100000], got {}", o.iterations()));
  if (!(o.momentum() >= 0 && o.momentum() < 1.0))
    throw InvalidArgument(fmt::format("griffin_lim: momentum must be in [0, 1), got {}", o.momentum()));
  const torch::Tensor mag = cpu_double_2d(magnitude, "griffin_lim: magnitude");
  const std::int64_t bins = o.n_fft() / 2 + 1, frames = mag.size(1);
  if (mag.size(0) != bins)
    throw InvalidArgument(fmt::format("griffin_lim: magnitude has {} rows, n_fft {} needs {}", mag.size(0), o.n_fft(), bins));
  if (frames < 2) throw InvalidArgument("griffin_lim: need at least 2 frames");
  if ((mag < 0).any().item<bool>()) throw InvalidArgument("griffin_lim: magnitudes must be non-negative");
  const double* S = mag.data_ptr<double>();
  const int n_fft = o.n_fft(), hop = o.hop_length();
  const std::int64_t length = static_cast<std::int64_t>(hop) * (frames - 1);
  const std::vector<double> window = hann_periodic(n_fft);
  using Complex = std::complex<double>;
  const auto cells = static_cast<std::size_t>(bins * frames);

  // Window-sum-square normalisation of the overlap-add (librosa.filters.window_sumsquare).
  std::vector<double> norm(static_cast<std::size_t>(n_fft + hop * (frames - 1)), 0.0);
  for (std::int64_t t = 0; t < frames; ++t)
    for (int m = 0; m < n_fft; ++m) norm[static_cast<std::size_t>(t * hop + m)] += window[static_cast<std::size_t>(m)] * window[static_cast<std::size_t>(m)];

  const FftPlans& plans = plans_for(n_fft);
  RealBuffer real(fftw_alloc_real(static_cast<std::size_t>(n_fft)));
  ComplexBuffer spec(fftw_alloc_complex(static_cast<std::size_t>(bins)));
  if (!real || !spec) throw OutOfMemory("labelrep: cannot allocate FFT buffers");
  // Inverse STFT of magnitude × phase: windowed overlap-add, normalised, centre padding removed.
  auto istft = [&](const std::vector<Complex>& phase) {
    std::vector<double> y(norm.size(), 0.0);
    for (std::int64_t t = 0; t < frames; ++t) {
      for (std::int64_t k = 0; k < bins; ++k) {
        const Complex v = S[k * frames + t] * phase[static_cast<std::size_t>(k * frames + t)];
        spec.get()[k][0] = v.real();
        spec.get()[k][1] = v.imag();
      }
      fftw_execute_dft_c2r(plans.inverse, spec.get(), real.get());
      for (int m = 0; m < n_fft; ++m)
        y[static_cast<std::size_t>(t * hop + m)] += window[static_cast<std::size_t>(m)] * real.get()[m] / n_fft;
    }
    for (std::size_t i = 0; i < y.size(); ++i)
      if (norm[i] > 1.1754944e-38) y[i] /= norm[i];  // float32 tiny, as librosa
    return std::vector<double>(y.begin() + n_fft / 2, y.begin() + n_fft / 2 + length);
  };

  NumpyRandom random(static_cast<std::uint32_t>(o.seed() & 0xffffffffULL));
  std::vector<Complex> angles(cells), rebuilt(cells, Complex(0.0, 0.0)), previous(cells);
  for (auto& a : angles) a = std::polar(1.0, 2.0 * M_PI * random.next_double());
  const double beta = o.momentum() / (1.0 + o.momentum());
  for (int it = 0; it < o.iterations(); ++it) {
    previous.swap(rebuilt);
    const std::vector<double> signal = istft(angles);
    stft_frames(signal, n_fft, hop, PadMode::kReflect, [&](std::int64_t t, const fftw_complex* x) {
      for (std::int64_t k = 0; k < bins; ++k) rebuilt[static_cast<std::size_t>(k * frames + t)] = Complex(x[k][0], x[k][1]);
    });
    for (std::size_t i = 0; i < cells; ++i) {
      const Complex a = rebuilt[i] - beta * previous[i];
      angles[i] = a / (std::abs(a) + 1e-16);
    }
  }
  const std::vector<double> y = istft(angles);
  return std::vector<float>(y.begin(), y.end());
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("griffin_lim");
}

torch::Tensor mel_to_power(const torch::Tensor& mel_power, const torch::Tensor& filterbank, MelInversion method, int iterations) try {
  const torch::Tensor M = cpu_double_2d(mel_power, "mel_to_power: mel_power");
  const torch::Tensor W = cpu_double_2d(filterbank, "mel_to_power: filterbank");
  if (W.size(0) != M.size(0))
    throw InvalidArgument(fmt::format("mel_to_power: {} mel bands but the filterbank has {}", M.size(0), W.size(0)));
  if (iterations < 0 || iterations > 100000)
    throw InvalidArgument(fmt::format("mel_to_power: iterations must be in [0, 100000], got {}", iterations));
  torch::Tensor S = torch::clamp_min(torch::matmul(torch::pinverse(W), M), 0.0);
  if (method == MelInversion::kPseudoInverse) return S;
  // Non-negative least squares by accelerated projected gradient (FISTA) from the clipped
  // pseudo-inverse. The step is 1/L with L the largest eigenvalue of WᵀW, found by power iteration on
  // the small n_mels × n_mels matrix W·Wᵀ (same non-zero spectrum); the gradient Wᵀ(W·Y − M) is formed
  // through W, never through the large WᵀW.
  const torch::Tensor small_gram = torch::matmul(W, W.t());
  torch::Tensor v = torch::ones({W.size(0), 1}, torch::kFloat64);
  double lipschitz = 0.0;
  for (int i = 0; i < 200; ++i) {
    const torch::Tensor next = torch::matmul(small_gram, v);
    lipschitz = next.norm().item<double>() / std::max(1e-300, v.norm().item<double>());
    v = next / std::max(1e-300, next.norm().item<double>());
  }
  if (!(lipschitz > 0)) return S;
  const double step = 1.0 / (lipschitz * (1.0 + 1e-9));  // a hair below 1/L: the power iteration approaches L from below
  const torch::Tensor Wt = W.t().contiguous();
  torch::Tensor Y = S.clone();
  double t = 1.0;
  for (int i = 0; i < iterations; ++i) {
    const torch::Tensor next = torch::clamp_min(Y - step * torch::matmul(Wt, torch::matmul(W, Y) - M), 0.0);
    const double t_next = (1.0 + std::sqrt(1.0 + 4.0 * t * t)) / 2.0;
    Y = next + ((t - 1.0) / t_next) * (next - S);
    S = next;
    t = t_next;
  }
  return S;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("mel_to_power");
}

Waveform label_to_audio(const torch::Tensor& label, const InversionOptions& o) try {
  const torch::Tensor db = cpu_double_2d(label, "label_to_audio: label");
  const std::int64_t frames = o.frames() == 0 ? db.size(1) : o.frames();
  // 65536: resize_label's limit, which the label is resized to frames with.
  if (frames < 2 || frames > 65536) throw InvalidArgument(fmt::format("label_to_audio: frames must be in [2, 65536], got {}", frames));
  if (!(o.peak() > 0 && o.peak() <= 1.0)) throw InvalidArgument(fmt::format("label_to_audio: peak must be in (0, 1], got {}", o.peak()));
  const GriffinLimOptions& gl = o.griffin_lim();
  const torch::Tensor fb = mel_filterbank(o.sample_rate(), gl.n_fft(), o.n_mels(), o.fmin(), o.fmax());
  // dB relative to the maximum (ref = max): a model's output may be offset, only differences matter.
  torch::Tensor spectrogram = resize_label(db, o.n_mels(), frames);
  spectrogram = torch::pow(10.0, (spectrogram - spectrogram.max()) / 10.0);
  const torch::Tensor magnitude = torch::sqrt(mel_to_power(spectrogram, fb, o.mel_inversion(), o.nnls_iterations()));
  Waveform w;
  w.sample_rate = o.sample_rate();
  w.samples = griffin_lim(magnitude, gl);
  float peak = 0.0f;
  for (float v : w.samples) peak = std::max(peak, std::abs(v));
  if (peak > 0)
    for (float& v : w.samples) v = static_cast<float>(v * o.peak() / peak);
  return w;
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("label_to_audio");
}

}  // namespace labelrep::audio
