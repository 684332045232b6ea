#pragma once
/// \file waveform.hpp  Mono audio in memory, WAV files, offline text-to-speech, and which of them this
/// build has.
///
/// WAV I/O uses libsndfile and text-to-speech uses libespeak-ng; both are optional when labelrep is
/// configured (LABELREP_WITH_SNDFILE, LABELREP_WITH_ESPEAK). A build without one still has every
/// function: calling it throws labelrep::Error saying what was compiled out. Ask first with
/// has_wav_io() / has_text_to_speech().
///
/// Example:
/// \code
///   namespace audio = labelrep::audio;
///   audio::Waveform w = audio::text_to_speech("airplane", audio::TtsOptions().voice("en-us"));
///   audio::write_wav("airplane.wav", w);                       // 16-bit PCM, atomic
///   audio::Waveform back = audio::read_wav("airplane.wav");    // mono, samples in [-1, 1)
/// \endcode

#include <cstdint>
#include <string>
#include <vector>
#include <torch/arg.h>

#include "labelrep/export.hpp"

namespace labelrep::audio {

/// Mono samples (nominally in [-1, 1]) and their rate.
struct LABELREP_API Waveform {
  std::vector<float> samples;
  int sample_rate = 22050;
  /// Length in seconds.
  double seconds() const { return sample_rate > 0 ? static_cast<double>(samples.size()) / sample_rate : 0.0; }
};

/// Whether this build reads and writes WAV files (labelrep configured with libsndfile).
LABELREP_API bool has_wav_io() noexcept;
/// Whether this build speaks text (labelrep configured with libespeak-ng).
LABELREP_API bool has_text_to_speech() noexcept;

// ---- WAV files ----------------------------------------------------------------------------------

/// Largest WAV file read_wav accepts (bytes); longer audio is not a label's spoken class name.
inline constexpr std::uint64_t kMaxWavBytes = std::uint64_t{1} << 30;

/// Reads a WAV file and mixes it down to mono (the mean of the channels, as librosa's to_mono).
/// Before libsndfile sees a byte, labelrep's own bounded RIFF parser checks the file: a `RIFF`/`WAVE`
/// header whose size fits the file, chunks inside it, a `fmt ` chunk with format PCM (1), IEEE float
/// (3) or EXTENSIBLE with one of those, 1..64 channels, a rate in [1, 384000], a consistent block
/// alignment and bit depth (PCM 8/16/24/32, float 32/64), exactly one `data` chunk, and every chunk
/// inside the RIFF data. libsndfile is then given only a canonical file rebuilt from the checked
/// fields (a 16-byte `fmt ` chunk and the data chunk's whole frames), never the original bytes; the
/// frame count it reports must equal the data chunk's, checked before any buffer is allocated.
/// 16-bit samples become int16/32768 exactly.
/// Throws IoError if the file cannot be read or is larger than kMaxWavBytes, FormatError (path and
/// byte offset) for any violation (float samples that are NaN or infinite included), and Error if this
/// build has no WAV support.
LABELREP_API Waveform read_wav(const std::string& path);

/// read_wav() on the bytes of a WAV file held in memory; `name` stands for the path in error messages.
/// Throws FormatError (never IoError) for any violation, bytes over kMaxWavBytes included, and Error
/// if this build has no WAV support.
LABELREP_API Waveform decode_wav(const std::string& bytes, const std::string& name);

/// Sample encodings write_wav can write.
enum class WavEncoding { kPcm16, kFloat32 };

/// Writes mono audio as a WAV file atomically (see write_file_atomically). PCM16 stores x·32768
/// rounded and clamped to [-32768, 32767], so that read_wav() gives back every sample in [-1, 1).
/// Throws InvalidArgument for an empty waveform, a NaN or infinite sample, a rate outside
/// [1, 384000] or an empty path; IoError if the file cannot be written; Error if this build has no
/// WAV support.
LABELREP_API void write_wav(const std::string& path, const Waveform& waveform,
                            WavEncoding encoding = WavEncoding::kPcm16);

namespace detail {
/// How many times labelrep has handed a file to libsndfile (sf_open_virtual) in this process: a test
/// hook showing that rejected files never reach it.
LABELREP_API std::uint64_t sndfile_open_count() noexcept;
}  // namespace detail

// ---- text-to-speech -----------------------------------------------------------------------------

/// Options of text_to_speech(). Example: `TtsOptions().voice("en-gb").rate(150).pitch(40)`.
struct LABELREP_API TtsOptions {
  /// An espeak-ng voice or language name: "en-us", "en-gb", "de", "fr", "es", ... (`espeak-ng --voices`).
  TORCH_ARG(std::string, voice) = "en-us";
  /// Speaking rate in words per minute, [80, 450] (espeak-ng's default is 175).
  TORCH_ARG(int, rate) = 175;
  /// Base pitch, [0, 100] (espeak-ng's default is 50).
  TORCH_ARG(int, pitch) = 50;
};

/// Speaks `text` (UTF-8) with libespeak-ng, offline, and returns its PCM at espeak-ng's native rate
/// (22,050 Hz), scaled from int16 by 1/32768. The same text and options give the same samples, bit for
/// bit: espeak-ng keeps state between utterances that no API resets, so each utterance is spoken in a
/// short-lived fork() of this process whose engine has never spoken. Serialised internally: espeak-ng
/// is one global, non-thread-safe engine.
/// Throws InvalidArgument for empty or whitespace-only text, text over 10,000 bytes, an empty or
/// unknown voice, a rate outside [80, 450] or a pitch outside [0, 100]; Error if espeak-ng fails
/// (initialisation, the synthesis process, no audio) or this build has no text-to-speech.
LABELREP_API Waveform text_to_speech(const std::string& text, const TtsOptions& options = TtsOptions());

/// The voice names espeak-ng offers (for `--voice`), sorted. Throws Error without text-to-speech or
/// if espeak-ng cannot initialise (its data missing).
LABELREP_API std::vector<std::string> list_voices();

}  // namespace labelrep::audio
