#pragma once
/// \file speech.hpp  The speech-label pipeline (resample, trim, power spectrogram, mel, dB, resize) and
/// its inverse (label → audio with Griffin-Lim).
///
/// With the default options, speech_label() computes exactly what the authors' librosa 0.7.1 +
/// resampy 0.2.2 + scikit-image 0.16 pipeline computed (LABELS-SPEC.md §2–§7): from their WAVs it
/// reproduces `cifar10_speech.npy` to float32 rounding. Every stage is also a function of its own.
///
/// Example:
/// \code
///   namespace audio = labelrep::audio;
///   torch::Tensor label = audio::speech_label(audio::read_wav("0_airplane.wav"));   // [64, 64] dB
///   audio::Waveform say = audio::label_to_audio(label, audio::InversionOptions().frames(65));
/// \endcode
///
/// Thread-safety: every function is reentrant (FFT plans are made under an internal mutex).
/// Tensors returned are CPU float64 unless stated; inputs may be on any device and of any float type.

#include <cstdint>
#include <vector>
#include <torch/arg.h>
#include <torch/types.h>

#include "labelrep/audio/waveform.hpp"
#include "labelrep/export.hpp"

namespace labelrep::audio {

/// Resamples as resampy 0.2.2 `kaiser_best` followed by librosa's fix_length did (LABELS-SPEC §2): a
/// 64-zero-crossing Kaiser-windowed sinc table interpolated linearly, accumulated in float32, then
/// zero-padded to ceil(N·r) samples. The same rate returns the input unchanged (librosa skips it).
/// Throws InvalidArgument for a rate outside [1, 384000], a downsampling ratio below 1/512 (the
/// filter table's resolution) or an output of more than 2^26 samples.
LABELREP_API Waveform resample_kaiser_best(const Waveform& input, int target_rate = 22050);

/// [start, end) of the non-silent part as librosa.effects.trim (ref = max, frame 2048, hop 512):
/// frames `top_db` or more below the loudest are silent. {0, 0} for empty samples only: a signal of
/// zeros is kept whole ({0, n}), every frame being 0 dB below its maximum, as in librosa.
/// Throws InvalidArgument for a frame_length below 2 or odd, a hop_length below 1, or top_db not > 0.
struct SampleRange {
  std::int64_t start = 0;
  std::int64_t end = 0;
};
LABELREP_API SampleRange silence_bounds(const std::vector<float>& samples, double top_db = 60.0,
                                        int frame_length = 2048, int hop_length = 512);

/// How the signal is padded by n_fft/2 on each side before framing (center = true).
enum class PadMode {
  kReflect,   ///< mirror without repeating the edge: librosa < 0.9, and the authors' labels
  kConstant,  ///< zeros: librosa >= 0.9 (0.10's default)
};

/// |STFT|² with a periodic Hann window, centred frames: `[n_fft/2 + 1, 1 + len/hop]` float64.
/// Computed with FFTW in double precision. Throws InvalidArgument for empty samples, an n_fft that is
/// odd or outside [2, 2^20], or a hop_length outside [1, n_fft].
LABELREP_API torch::Tensor power_spectrogram(const std::vector<float>& samples, int n_fft = 2048,
                                             int hop_length = 256, PadMode pad = PadMode::kReflect);

/// Slaney-scale, area-normalised mel filters (librosa.filters.mel, htk = False, norm = 1):
/// `[n_mels, n_fft/2 + 1]` float64. Throws InvalidArgument for a rate outside [1, 384000], an n_fft
/// that is odd or outside [2, 2^20], n_mels outside [1, 4096], or unless 0 <= fmin < fmax <= rate/2.
LABELREP_API torch::Tensor mel_filterbank(int sample_rate = 22050, int n_fft = 2048, int n_mels = 64,
                                          double fmin = 0.0, double fmax = 8000.0);

/// librosa.power_to_db with ref = max: 10·log10(max(amin, x)) − 10·log10(max(amin, max x)), then floored
/// at max − top_db (no floor when top_db <= 0). Result in [−top_db, 0] when top_db > 0, float64.
/// Throws InvalidArgument for amin not > 0 or an undefined or empty `power`.
LABELREP_API torch::Tensor power_to_db(const torch::Tensor& power, double amin = 1e-10, double top_db = 80.0);

/// skimage.transform.resize(order = 1, mode = 'reflect', anti_aliasing = True, clip = True) of a 2-D
/// image to [height, width] (LABELS-SPEC §7): a Gaussian pre-filter with σ = (s − 1)/2 on each axis that
/// shrinks by s > 1, then bilinear sampling at s·(j + ½) − ½ with mirrored edges. Float64 result.
/// Throws InvalidArgument unless height and width are in [1, 65536] and `image` is a non-empty 2-D
/// floating-point tensor of finite values.
LABELREP_API torch::Tensor resize_label(const torch::Tensor& image, std::int64_t height, std::int64_t width);

/// Parameters of speech_label(). The defaults are the paper's; change them for other label sizes,
/// mel counts or librosa >= 0.10-style padding.
struct LABELREP_API SpeechLabelOptions {
  TORCH_ARG(int, sample_rate) = 22050;    ///< audio is resampled to this rate first
  TORCH_ARG(bool, trim) = true;           ///< cut leading and trailing silence
  TORCH_ARG(double, trim_top_db) = 60.0;
  TORCH_ARG(int, n_fft) = 2048;
  TORCH_ARG(int, hop_length) = 256;
  TORCH_ARG(PadMode, pad_mode) = PadMode::kReflect;
  TORCH_ARG(int, n_mels) = 64;
  TORCH_ARG(double, fmin) = 0.0;
  TORCH_ARG(double, fmax) = 8000.0;
  TORCH_ARG(double, top_db) = 80.0;       ///< dynamic range of the label: values lie in [−top_db, 0]
  TORCH_ARG(std::int64_t, size) = 64;     ///< the label is size × size
};

/// Every intermediate of the pipeline, for tests, plots and inversion.
struct LABELREP_API SpeechLabelStages {
  Waveform resampled;         ///< at options.sample_rate, fix_length applied
  SampleRange trim;           ///< kept part of `resampled`
  torch::Tensor power;        ///< [n_fft/2+1, T] |STFT|² of the trimmed audio
  torch::Tensor mel;          ///< [n_mels, T] mel power
  torch::Tensor db;           ///< [n_mels, T] dB, ref = max
  torch::Tensor label;        ///< [size, size] float32: the label
  std::int64_t frames() const { return db.defined() ? db.size(1) : 0; }
};

/// Runs the pipeline and keeps every stage. Throws InvalidArgument for an empty waveform, one of zeros
/// only, NaN or infinite samples, trimming that leaves nothing, a resampling that resample_kaiser_best()
/// refuses, or invalid options (rate, n_fft and hop_length, n_mels, fmin and fmax, size outside
/// [1, 4096], top_db or trim_top_db not > 0).
LABELREP_API SpeechLabelStages speech_label_stages(const Waveform& waveform,
                                                   const SpeechLabelOptions& options = SpeechLabelOptions());

/// The speech label of a waveform: `[size, size]` float32 dB in [−top_db, 0], row 0 the lowest mel band,
/// column 0 the earliest time. Throws as speech_label_stages().
LABELREP_API torch::Tensor speech_label(const Waveform& waveform, const SpeechLabelOptions& options = SpeechLabelOptions());

// ---- inversion -----------------------------------------------------------------------------------

/// Options of griffin_lim().
struct LABELREP_API GriffinLimOptions {
  TORCH_ARG(int, iterations) = 64;        ///< in [1, 100000]; 32 or more for intelligible speech
  TORCH_ARG(double, momentum) = 0.99;     ///< "fast Griffin-Lim" (Perraudin et al. 2013); 0 = classic
  TORCH_ARG(int, n_fft) = 2048;
  TORCH_ARG(int, hop_length) = 256;
  TORCH_ARG(std::uint64_t, seed) = 0;     ///< random initial phases from labelrep::NumpyRandom(seed)
};

/// Finds a signal whose |STFT| (periodic Hann, centred, reflect padding) approximates `magnitude`
/// `[n_fft/2+1, T]`. Returns hop·(T − 1) samples. Deterministic for a given seed.
/// Throws InvalidArgument unless `magnitude` is a floating-point `[n_fft/2+1, T >= 2]` tensor of finite,
/// non-negative values, iterations is in [1, 100000], momentum in [0, 1), n_fft even in [2, 2^20] and
/// hop_length in [1, n_fft].
LABELREP_API std::vector<float> griffin_lim(const torch::Tensor& magnitude, const GriffinLimOptions& options = GriffinLimOptions());

/// How mel power is mapped back to linear-frequency power.
enum class MelInversion {
  kNonNegativeLeastSquares,  ///< argmin ||W·S − M||² over S >= 0 (as librosa.feature.inverse.mel_to_stft)
  kPseudoInverse,            ///< max(0, pinv(W)·M): faster, slightly noisier
};

/// Options of label_to_audio().
struct LABELREP_API InversionOptions {
  /// Frame count of the spectrogram the label was resized from (the label's original length); 0 keeps
  /// the label's width. The CIFAR-10 labels came from 43..65 frames.
  TORCH_ARG(std::int64_t, frames) = 0;
  TORCH_ARG(int, sample_rate) = 22050;
  TORCH_ARG(int, n_mels) = 64;            ///< mel bands of the spectrogram (the label's rows are resized back to this)
  TORCH_ARG(double, fmin) = 0.0;
  TORCH_ARG(double, fmax) = 8000.0;
  TORCH_ARG(MelInversion, mel_inversion) = MelInversion::kNonNegativeLeastSquares;
  TORCH_ARG(int, nnls_iterations) = 300;
  TORCH_ARG(GriffinLimOptions, griffin_lim) = GriffinLimOptions();
  TORCH_ARG(double, peak) = 0.5;          ///< the result is scaled to this peak amplitude (dB labels are relative)
};

/// Mel power `[n_mels, T]` back to linear power `[n_fft/2+1, T]` through `filterbank` `[n_mels, n_fft/2+1]`.
/// Throws InvalidArgument unless both are non-empty 2-D floating-point tensors of finite values with
/// the same number of rows (n_mels), and iterations is in [0, 100000].
LABELREP_API torch::Tensor mel_to_power(const torch::Tensor& mel_power, const torch::Tensor& filterbank,
                                        MelInversion method = MelInversion::kNonNegativeLeastSquares, int iterations = 300);

/// Turns a dB label — one of a label set's, or a model's prediction of one — back into audio: resize to
/// [n_mels, frames], dB → power (relative to the label's maximum, so any offset is harmless), mel →
/// linear power, square root, Griffin-Lim, peak-normalise. `label` is any 2-D tensor (any device, any
/// float dtype) with finite values. Returns hop·(frames − 1) samples at options.sample_rate.
/// Throws InvalidArgument for a non-2-D or non-finite label, frames (or the label's width when 0)
/// outside [2, 65536], a peak outside (0, 1], or bad mel or Griffin-Lim options.
LABELREP_API Waveform label_to_audio(const torch::Tensor& label, const InversionOptions& options = InversionOptions());

}  // namespace labelrep::audio
