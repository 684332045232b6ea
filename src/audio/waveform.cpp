// WAV files (own RIFF pre-check, then libsndfile on the checked bytes) and text-to-speech (espeak-ng).
// Each library is optional at configure time; without it the functions throw a labelrep::Error.
#include "labelrep/audio/waveform.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>

#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/error.hpp"
#include "core/boundary.hpp"

#ifdef LABELREP_HAS_SNDFILE
#include <sndfile.h>
#endif
#ifdef LABELREP_HAS_ESPEAK
#include <espeak-ng/speak_lib.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#endif

namespace labelrep::audio {

bool has_wav_io() noexcept {
#ifdef LABELREP_HAS_SNDFILE
  return true;
#else
  return false;
#endif
}

bool has_text_to_speech() noexcept {
#ifdef LABELREP_HAS_ESPEAK
  return true;
#else
  return false;
#endif
}

namespace {

constexpr int kMaxChannels = 64;
constexpr std::uint32_t kMaxRate = 384000;

std::uint32_t le32(const std::string& b, std::uint64_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data() + at);
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}
std::uint16_t le16(const std::string& b, std::uint64_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data() + at);
  return static_cast<std::uint16_t>(p[0] | p[1] << 8);
}

// What the RIFF pre-check learnt; read_wav compares libsndfile's view against it.
struct WavLayout {
  int channels = 0;
  std::uint32_t sample_rate = 0;
  int bits = 0;
  std::uint16_t format = 0;        // 1 (PCM) or 3 (IEEE float), after resolving EXTENSIBLE
  std::uint64_t frames = 0;        // whole frames in the data chunk
  std::uint64_t data_offset = 0;   // where the data chunk's body starts
};

std::string format_name(std::uint16_t tag) {
  switch (tag) {
    case 0x0002: return "MS ADPCM";
    case 0x0006: return "A-law";
    case 0x0007: return "mu-law";
    case 0x0011: return "IMA ADPCM";
    case 0x0031: return "GSM 6.10";
    case 0x0055: return "MPEG layer 3";
    default: return "unknown";
  }
}

// Checks the RIFF/WAVE structure and the fmt chunk (RELIABILITY.md G1.4). Every chunk up to the end
// of the RIFF data is walked, not only those up to 'data', because libsndfile would parse chunks after
// it (a second 'fmt ' there could describe a codec labelrep refuses).
WavLayout check_riff(const std::string& b, const std::string& path) {
  const std::uint64_t size = b.size();
  if (size < 12) throw FormatError(path, size, fmt::format("a WAV file needs a 12-byte RIFF header, the file has {} bytes", size));
  if (b.compare(0, 4, "RIFF") != 0) throw FormatError(path, 0, "not a RIFF file (no 'RIFF' magic)");
  const std::uint64_t riff_size = le32(b, 4);
  if (riff_size < 4 || riff_size + 8 > size)
    throw FormatError(path, 4, fmt::format("RIFF size says {} bytes follow but the file has {}", riff_size, size - 8));
  if (b.compare(8, 4, "WAVE") != 0) throw FormatError(path, 8, "RIFF form type is not 'WAVE'");
  const std::uint64_t end = 8 + riff_size;
  WavLayout layout;
  bool have_fmt = false, have_data = false;
  std::uint64_t pos = 12;
  while (pos + 8 <= end) {
    const std::string id = b.substr(pos, 4);
    const std::uint64_t chunk = le32(b, pos + 4);
    const std::uint64_t body = pos + 8;
    if (chunk > end - body)
      throw FormatError(path, pos + 4, fmt::format("chunk '{}' of {} bytes runs past the end of the RIFF data ({} bytes left)",
                                                   id, chunk, end - body));
    if (id == "fmt ") {
      if (have_fmt) throw FormatError(path, pos, "a second 'fmt ' chunk");
      if (chunk < 16) throw FormatError(path, pos + 4, fmt::format("'fmt ' chunk of {} bytes, need at least 16", chunk));
      std::uint16_t tag = le16(b, body);
      std::uint64_t tag_offset = body;
      if (tag == 0xFFFE) {  // WAVE_FORMAT_EXTENSIBLE: the real format is the first 2 bytes of a GUID
        static const unsigned char kGuidTail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
        if (chunk < 40 || le16(b, body + 16) < 22)
          throw FormatError(path, pos + 4, "EXTENSIBLE 'fmt ' chunk shorter than 40 bytes");
        if (std::memcmp(b.data() + body + 26, kGuidTail, sizeof kGuidTail) != 0)
          throw FormatError(path, body + 24, "EXTENSIBLE sub-format is not a standard KSDATAFORMAT GUID");
        tag = le16(b, body + 24);
        tag_offset = body + 24;
      }
      if (tag != 1 && tag != 3)
        throw FormatError(path, tag_offset,
                          fmt::format("format 0x{:04X} ({}) is not supported: only PCM (1) and IEEE float (3)", tag, format_name(tag)));
      const int channels = le16(b, body + 2);
      if (channels < 1 || channels > kMaxChannels)
        throw FormatError(path, body + 2, fmt::format("{} channels, need 1..{}", channels, kMaxChannels));
      const std::uint32_t rate = le32(b, body + 4);
      if (rate < 1 || rate > kMaxRate) throw FormatError(path, body + 4, fmt::format("sample rate {} Hz outside [1, {}]", rate, kMaxRate));
      const int bits = le16(b, body + 14);
      const bool bits_ok = tag == 1 ? (bits == 8 || bits == 16 || bits == 24 || bits == 32) : (bits == 32 || bits == 64);
      if (!bits_ok) throw FormatError(path, body + 14, fmt::format("{} bits per sample is not valid for {}", bits, tag == 1 ? "PCM" : "float"));
      const int block_align = le16(b, body + 12);
      if (block_align != channels * bits / 8)
        throw FormatError(path, body + 12, fmt::format("block align {} but {} channels of {} bits need {}", block_align, channels, bits,
                                                       channels * bits / 8));
      layout.format = tag;
      layout.channels = channels;
      layout.sample_rate = rate;
      layout.bits = bits;
      have_fmt = true;
    } else if (id == "data") {
      if (!have_fmt) throw FormatError(path, pos, "'data' chunk before the 'fmt ' chunk");
      if (have_data) throw FormatError(path, pos, "a second 'data' chunk");
      const std::uint64_t block_align = static_cast<std::uint64_t>(layout.channels) * static_cast<std::uint64_t>(layout.bits / 8);
      layout.frames = chunk / block_align;
      if (layout.frames == 0)
        throw FormatError(path, pos + 4, fmt::format("the 'data' chunk holds {} bytes, less than one frame of {}: no samples", chunk, block_align));
      layout.data_offset = body;
      have_data = true;
    }
    pos = body + chunk + (chunk & 1);  // chunks are padded to an even size
  }
  if (!have_data) throw FormatError(path, std::min(pos, end), have_fmt ? "no 'data' chunk" : "no 'fmt ' chunk");
  return layout;
}

// The only bytes libsndfile is given: a canonical RIFF/WAVE file rebuilt from the checked fields, a
// 16-byte 'fmt ' chunk (PCM or IEEE float, so EXTENSIBLE reaches libsndfile as its checked sub-format)
// and the whole frames of the 'data' chunk. Whatever else the file holds (LIST, cue, smpl, trailing
// bytes) never reaches libsndfile's chunk parsers.
std::string canonical_wav(const std::string& b, const WavLayout& layout) {
  const std::uint64_t block_align = static_cast<std::uint64_t>(layout.channels) * static_cast<std::uint64_t>(layout.bits / 8);
  const std::uint64_t data_bytes = layout.frames * block_align;
  std::string out;
  out.reserve(static_cast<std::size_t>(44 + data_bytes));
  auto put16 = [&](std::uint32_t v) { out.push_back(static_cast<char>(v & 0xff)), out.push_back(static_cast<char>((v >> 8) & 0xff)); };
  auto put32 = [&](std::uint64_t v) { put16(static_cast<std::uint32_t>(v & 0xffff)), put16(static_cast<std::uint32_t>((v >> 16) & 0xffff)); };
  out += "RIFF";
  put32(36 + data_bytes);  // fits in 32 bits: decode_wav refuses inputs over kMaxWavBytes (1 GiB)
  out += "WAVEfmt ";
  put32(16);
  put16(layout.format);
  put16(static_cast<std::uint32_t>(layout.channels));
  put32(layout.sample_rate);
  put32(layout.sample_rate * block_align);
  put16(static_cast<std::uint32_t>(block_align));
  put16(static_cast<std::uint32_t>(layout.bits));
  out += "data";
  put32(data_bytes);
  out.append(b, static_cast<std::size_t>(layout.data_offset), static_cast<std::size_t>(data_bytes));
  return out;
}

std::atomic<std::uint64_t> g_sndfile_opens{0};

#ifdef LABELREP_HAS_SNDFILE
// libsndfile reads from and writes to a std::string through its virtual I/O, so it sees exactly the
// bytes that were checked (no second open of the path, no race with a writer).
struct MemoryFile {
  std::string* bytes;
  sf_count_t position = 0;
};
sf_count_t vio_length(void* user) { return static_cast<sf_count_t>(static_cast<MemoryFile*>(user)->bytes->size()); }
sf_count_t vio_seek(sf_count_t offset, int whence, void* user) {
  auto* f = static_cast<MemoryFile*>(user);
  const sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? f->position : static_cast<sf_count_t>(f->bytes->size());
  if (base + offset < 0) return -1;
  f->position = base + offset;
  return f->position;
}
sf_count_t vio_read(void* out, sf_count_t count, void* user) {
  auto* f = static_cast<MemoryFile*>(user);
  const auto size = static_cast<sf_count_t>(f->bytes->size());
  const sf_count_t n = std::max<sf_count_t>(0, std::min(count, size - f->position));
  if (n > 0) std::memcpy(out, f->bytes->data() + f->position, static_cast<std::size_t>(n));
  f->position += n;
  return n;
}
sf_count_t vio_write(const void* in, sf_count_t count, void* user) {
  auto* f = static_cast<MemoryFile*>(user);
  const auto end = static_cast<std::size_t>(f->position + count);
  if (f->bytes->size() < end) f->bytes->resize(end);
  std::memcpy(f->bytes->data() + f->position, in, static_cast<std::size_t>(count));
  f->position += count;
  return count;
}
sf_count_t vio_tell(void* user) { return static_cast<MemoryFile*>(user)->position; }
SF_VIRTUAL_IO memory_io() { return SF_VIRTUAL_IO{vio_length, vio_seek, vio_read, vio_write, vio_tell}; }

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
#endif

#ifndef LABELREP_HAS_SNDFILE
[[noreturn]] void no_wav(const std::string& what) {
  throw Error(fmt::format("labelrep: {}: this labelrep was built without libsndfile, so it cannot read or write WAV files "
                          "(reconfigure with libsndfile1-dev installed and LABELREP_WITH_SNDFILE=ON)", what));
}
#endif

}  // namespace

namespace detail {
std::uint64_t sndfile_open_count() noexcept { return g_sndfile_opens.load(); }
}  // namespace detail

Waveform read_wav(const std::string& path) try {
  return decode_wav(read_file(path, kMaxWavBytes), path);
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error(fmt::format("read_wav({})", path));
}

Waveform decode_wav(const std::string& file_bytes, const std::string& path) try {
  if (file_bytes.size() > kMaxWavBytes)
    throw FormatError(path, FormatError::kNoOffset, fmt::format("{} bytes, more than the WAV limit of {}", file_bytes.size(), kMaxWavBytes));
  const WavLayout layout = check_riff(file_bytes, path);
#ifdef LABELREP_HAS_SNDFILE
  std::string bytes = canonical_wav(file_bytes, layout);
  MemoryFile file{&bytes};
  SF_VIRTUAL_IO io = memory_io();
  SF_INFO info{};
  ++g_sndfile_opens;
  std::unique_ptr<SNDFILE, SndfileCloser> sf(sf_open_virtual(&io, SFM_READ, &info, &file));
  if (!sf) throw FormatError(path, FormatError::kNoOffset, fmt::format("libsndfile cannot read it: {}", sf_strerror(nullptr)));
  // libsndfile's view must agree with the pre-check before anything is allocated from its numbers.
  if (info.channels != layout.channels || info.samplerate != static_cast<int>(layout.sample_rate))
    throw FormatError(path, FormatError::kNoOffset,
                      fmt::format("libsndfile reports {} channels at {} Hz, the header says {} at {}", info.channels, info.samplerate,
                                  layout.channels, layout.sample_rate));
  if (info.frames < 0 || static_cast<std::uint64_t>(info.frames) != layout.frames)
    throw FormatError(path, FormatError::kNoOffset,
                      fmt::format("libsndfile reports {} frames but the data chunk holds {}", info.frames, layout.frames));
  const auto frames = static_cast<std::size_t>(info.frames);
  const auto channels = static_cast<std::size_t>(info.channels);
  std::vector<float> interleaved(frames * channels);
  if (frames > 0 && sf_readf_float(sf.get(), interleaved.data(), info.frames) != info.frames)
    throw FormatError(path, FormatError::kNoOffset, fmt::format("libsndfile could not read {} frames: {}", frames, sf_strerror(sf.get())));
  // A float WAV can hold NaN or infinities; nothing downstream can use them.
  if (layout.format == 3)
    for (std::size_t i = 0; i < interleaved.size(); ++i)
      if (!std::isfinite(interleaved[i]))
        throw FormatError(path, layout.data_offset + i * static_cast<std::uint64_t>(layout.bits / 8),
                          fmt::format("sample {} of channel {} is {}", i / channels, i % channels, interleaved[i]));
  Waveform w;
  w.sample_rate = info.samplerate;
  if (channels == 1) {
    w.samples = std::move(interleaved);
  } else {
    w.samples.resize(frames);
    for (std::size_t i = 0; i < frames; ++i) {
      double sum = 0.0;
      for (std::size_t c = 0; c < channels; ++c) sum += interleaved[i * channels + c];
      w.samples[i] = static_cast<float>(sum / static_cast<double>(channels));
    }
  }
  return w;
#else
  (void)layout;
  no_wav("read_wav(" + path + ")");
#endif
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error(fmt::format("decode_wav({})", path));
}

void write_wav(const std::string& path, const Waveform& waveform, WavEncoding encoding) try {
  if (waveform.samples.empty()) throw InvalidArgument(fmt::format("write_wav({}): the waveform is empty", path));
  if (waveform.sample_rate < 1 || waveform.sample_rate > static_cast<int>(kMaxRate))
    throw InvalidArgument(fmt::format("write_wav({}): sample rate {} outside [1, {}]", path, waveform.sample_rate, kMaxRate));
  for (float x : waveform.samples)
    if (!std::isfinite(x)) throw InvalidArgument(fmt::format("write_wav({}): the waveform has a NaN or infinite sample", path));
#ifdef LABELREP_HAS_SNDFILE
  std::string bytes;
  MemoryFile file{&bytes};
  SF_VIRTUAL_IO io = memory_io();
  SF_INFO info{};
  info.samplerate = waveform.sample_rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | (encoding == WavEncoding::kPcm16 ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT);
  ++g_sndfile_opens;
  std::unique_ptr<SNDFILE, SndfileCloser> sf(sf_open_virtual(&io, SFM_WRITE, &info, &file));
  if (!sf) throw IoError(path, fmt::format("libsndfile cannot encode the WAV: {}", sf_strerror(nullptr)));
  const auto n = static_cast<sf_count_t>(waveform.samples.size());
  sf_count_t written = 0;
  if (encoding == WavEncoding::kPcm16) {
    // x·32768 rounded, so that int16/32768 read back is the same number (libsndfile would scale by 32767).
    std::vector<short> pcm(waveform.samples.size());
    for (std::size_t i = 0; i < pcm.size(); ++i)
      pcm[i] = static_cast<short>(std::clamp(std::lrint(static_cast<double>(waveform.samples[i]) * 32768.0), -32768L, 32767L));
    written = sf_writef_short(sf.get(), pcm.data(), n);
  } else {
    written = sf_writef_float(sf.get(), waveform.samples.data(), n);
  }
  if (written != n) throw IoError(path, fmt::format("libsndfile wrote {} of {} frames: {}", written, n, sf_strerror(sf.get())));
  sf.reset();  // sf_close writes the final header sizes
  write_file_atomically(path, bytes);
#else
  (void)encoding;
  no_wav("write_wav(" + path + ")");
#endif
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error(fmt::format("write_wav({})", path));
}

// ---- text-to-speech -----------------------------------------------------------------------------

namespace {
#ifdef LABELREP_HAS_ESPEAK
// espeak-ng is one global engine with global settings and a global callback: every use holds this.
std::mutex g_espeak_mutex;
std::vector<short>* g_espeak_sink = nullptr;  // guarded by g_espeak_mutex (or private to a child process)

// Called from espeak-ng's C code: no exception may cross it. An allocation failure stops the synthesis.
int collect_samples(short* wav, int count, espeak_EVENT*) noexcept {
  try {
    if (wav != nullptr && count > 0 && g_espeak_sink != nullptr) g_espeak_sink->insert(g_espeak_sink->end(), wav, wav + count);
  } catch (...) {
    g_espeak_sink = nullptr;  // marks the failure for the caller
    return 1;                 // non-zero: abort synthesis
  }
  return 0;  // 0: continue synthesis
}

// Called with g_espeak_mutex held. Returns the output rate (22050).
int espeak_rate_locked() {
  static int rate = 0;
  if (rate <= 0) {
    // DONT_EXIT: without its data directory espeak-ng would otherwise call exit() inside the library.
    rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr, espeakINITIALIZE_DONT_EXIT);
    if (rate <= 0)
      throw Error("labelrep: espeak-ng failed to initialise (is its data installed? Debian/Ubuntu: espeak-ng-data)");
    espeak_SetSynthCallback(collect_samples);
  }
  return rate;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// How a --voice is selected: a language ("en-gb", matched through the voices' language lists, which is
// what `espeak-ng -v` accepts) or a voice name / identifier ("English (America)", "gmw/en-US").
struct VoiceChoice {
  bool by_language = false;
  std::string value;
};
VoiceChoice resolve_voice_locked(const std::string& wanted) {
  const std::string key = lower(wanted);
  for (const espeak_VOICE** v = espeak_ListVoices(nullptr); v != nullptr && *v != nullptr; ++v)
    for (const char* p = (*v)->languages; p != nullptr && *p != 0; p += std::strlen(p + 1) + 2)
      if (lower(p + 1) == key) return {true, p + 1};
  for (const espeak_VOICE** v = espeak_ListVoices(nullptr); v != nullptr && *v != nullptr; ++v)
    if (((*v)->name != nullptr && lower((*v)->name) == key) || ((*v)->identifier != nullptr && lower((*v)->identifier) == key))
      return {false, (*v)->identifier};
  throw InvalidArgument(fmt::format("text_to_speech: espeak-ng has no voice '{}' (see `labelrep speak --list-voices`)", wanted));
}

// The synthesis itself, in a child process. espeak-ng keeps state between utterances that no API
// resets (the same text spoken twice gives different samples, and re-initialising hangs), so each
// utterance is spoken by a fork of this process whose engine was initialised but has never spoken:
// the same input then always gives the same samples. The child writes its status and the PCM to a
// pipe and leaves with _exit, running no destructors of the parent's objects.
std::vector<short> synthesise_in_child(const std::string& text, const TtsOptions& options, const VoiceChoice& voice) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw Error(fmt::format("labelrep: text_to_speech: pipe failed: {}", std::strerror(errno)));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw Error(fmt::format("labelrep: text_to_speech: fork failed: {}", std::strerror(errno)));
  }
  if (pid == 0) {
    // The child runs a copy of this process: an exception must not unwind into the caller's frames
    // (it would go on running the parent's program), so any failure ends the child with code 4.
    try {
      ::close(fds[0]);
      std::vector<short> pcm;
      g_espeak_sink = &pcm;
      espeak_ERROR status = EE_OK;
      if (voice.by_language) {
        espeak_VOICE spec{};
        spec.languages = voice.value.c_str();
        status = espeak_SetVoiceByProperties(&spec);
      } else {
        status = espeak_SetVoiceByName(voice.value.c_str());
      }
      if (status == EE_OK) {
        espeak_SetParameter(espeakRATE, options.rate(), 0);
        espeak_SetParameter(espeakPITCH, options.pitch(), 0);
        status = espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, nullptr, nullptr);
        espeak_Synchronize();
      }
      if (g_espeak_sink == nullptr) ::_exit(4);  // collect_samples could not store the samples
      const std::int32_t code = status;
      auto write_all = [&](const void* data, std::size_t size) {
        const char* p = static_cast<const char*>(data);
        while (size > 0) {
          const ssize_t n = ::write(fds[1], p, size);
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) ::_exit(3);
          p += n;
          size -= static_cast<std::size_t>(n);
        }
      };
      write_all(&code, sizeof code);
      write_all(pcm.data(), pcm.size() * sizeof(short));
    } catch (...) {
      ::_exit(4);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string bytes;
  char buffer[65536];
  while (true) {
    const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    bytes.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0 || bytes.size() < sizeof(std::int32_t))
    throw Error(fmt::format("labelrep: espeak-ng's synthesis process failed for '{}'", text));
  std::int32_t code = 0;
  std::memcpy(&code, bytes.data(), sizeof code);
  if (code != EE_OK) throw Error(fmt::format("labelrep: espeak-ng failed to speak '{}' (error {})", text, code));
  std::vector<short> pcm((bytes.size() - sizeof code) / sizeof(short));
  std::memcpy(pcm.data(), bytes.data() + sizeof code, pcm.size() * sizeof(short));
  return pcm;
}
#endif

#ifndef LABELREP_HAS_ESPEAK
[[noreturn]] void no_tts(const std::string& what) {
  throw Error(fmt::format("labelrep: {}: this labelrep was built without espeak-ng, so it cannot speak text "
                          "(reconfigure with libespeak-ng-dev installed and LABELREP_WITH_ESPEAK=ON, or give one WAV per class)",
                          what));
}
#endif
}  // namespace

Waveform text_to_speech(const std::string& text, const TtsOptions& options) try {
  if (text.empty() || text.find_first_not_of(" \t\r\n") == std::string::npos)
    throw InvalidArgument("text_to_speech: the text is empty");
  if (text.size() > 10000) throw InvalidArgument(fmt::format("text_to_speech: {} bytes of text, at most 10000", text.size()));
  if (options.rate() < 80 || options.rate() > 450)
    throw InvalidArgument(fmt::format("text_to_speech: rate must be in [80, 450] words per minute, got {}", options.rate()));
  if (options.pitch() < 0 || options.pitch() > 100)
    throw InvalidArgument(fmt::format("text_to_speech: pitch must be in [0, 100], got {}", options.pitch()));
  if (options.voice().empty()) throw InvalidArgument("text_to_speech: the voice name is empty");
#ifdef LABELREP_HAS_ESPEAK
  std::lock_guard<std::mutex> lock(g_espeak_mutex);
  const int rate = espeak_rate_locked();
  const VoiceChoice voice = resolve_voice_locked(options.voice());
  const std::vector<short> pcm = synthesise_in_child(text, options, voice);
  if (pcm.empty()) throw Error(fmt::format("labelrep: espeak-ng produced no audio for '{}'", text));
  Waveform w;
  w.sample_rate = rate;
  w.samples.resize(pcm.size());
  for (std::size_t i = 0; i < pcm.size(); ++i) w.samples[i] = static_cast<float>(pcm[i]) / 32768.0f;
  return w;
#else
  no_tts("text_to_speech(\"" + text + "\")");
#endif
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("text_to_speech");
}

std::vector<std::string> list_voices() try {
#ifdef LABELREP_HAS_ESPEAK
  std::lock_guard<std::mutex> lock(g_espeak_mutex);
  espeak_rate_locked();
  std::vector<std::string> names;
  for (const espeak_VOICE** v = espeak_ListVoices(nullptr); v != nullptr && *v != nullptr; ++v) {
    // `languages` is a list of (priority byte, NUL-terminated language name) pairs ending with a 0 byte.
    for (const char* p = (*v)->languages; p != nullptr && *p != 0; p += std::strlen(p + 1) + 2) names.emplace_back(p + 1);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
#else
  no_tts("list_voices()");
#endif
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("list_voices");
}

}  // namespace labelrep::audio
