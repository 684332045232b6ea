// `labelrep labels KIND --classes ... --out FILE.npy`: make a label set, save it, optionally draw it.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "labelrep/core/class_names.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/labels/factory.hpp"
#include "labelrep/labels/label_image.hpp"
#include "labelrep/labels/speech.hpp"
#include "labelrep/audio/waveform.hpp"

namespace labelrep::cli {

void add_labels_command(CLI::App& app) {
  struct Args {
    std::string kind, classes, out, png_dir, voice = "en-us", wav_dir, save_wav_dir, glove, bert;
    bool bert_raw = false;
    std::uint64_t seed = 0;
    std::int64_t size = 64, dimension = 10, bert_tokens = 0;
    double range = 80.0, smoothing = 0.0;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("labels", "Make a label set (one label per class) and save it as .npy");
  cmd->add_option("kind", args->kind, fmt::format("Label kind: {}", fmt::join(labels::label_kinds(), ", ")))->required();
  cmd->add_option("--classes", args->classes, "cifar10, cifar100, cifar100-coarse, fashion-mnist, a count N, or \"name,name,...\"")->required();
  cmd->add_option("--out", args->out, "Output .npy file (metadata goes to FILE.npy.json)")->required();
  auto* seed = cmd->add_option("--seed", args->seed, "Seed of random kinds (default: the kind's; 48 = the authors')");
  cmd->add_option("--size", args->size, "Side of square labels")->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_option("--dimension", args->dimension, "Length of lowdim vectors")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--range", args->range, "Value range [0, R] of matrix kinds")->capture_default_str();
  cmd->add_option("--smoothing", args->smoothing, "Label smoothing of category labels")->capture_default_str();
  cmd->add_option("--png", args->png_dir, "Also draw each label as a PNG into this directory");
  cmd->add_option("--voice", args->voice, "speech, shuffle: espeak-ng voice or language (en-us, en-gb, de, fr, ...)")->capture_default_str();
  cmd->add_option("--wav-dir", args->wav_dir, "speech, shuffle: make the labels from the WAVs in this directory (file-name order) "
                  "instead of text-to-speech");
  cmd->add_option("--save-wav", args->save_wav_dir, "speech, shuffle: also write each class's audio as <i>_<name>.wav into this directory");
  cmd->add_option("--glove", args->glove, "glove: the GloVe text file (e.g. glove.6B.50d.txt)");
  cmd->add_option("--bert", args->bert, "bert: BERT hidden states, a [C, tokens, 768] .npy or a directory of [tokens, 768] .npy files");
  cmd->add_flag("--bert-raw", args->bert_raw, "bert: do not min-max scale to [0, range] (as the authors' cifar10_bert.npy)");
  cmd->add_option("--bert-tokens", args->bert_tokens, "bert: keep the first N tokens of each class (0: all; the authors' CIFAR-100 labels: 3)")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 20));
  cmd->callback([args, seed] {
    if (args->smoothing != 0 && args->kind != "category")
      throw InvalidArgument(fmt::format("--smoothing applies to category labels only, not to '{}'", args->kind));
    // Every output place before the first file, so a failure never leaves some outputs written. --out is a
    // file in an existing directory (a typo there should not create directories); --png and --save-wav
    // directories are created.
    if (const auto parent = std::filesystem::path(args->out).parent_path(); !parent.empty() && !std::filesystem::is_directory(parent))
      throw IoError(args->out, "cannot write the labels: the directory " + parent.string() + " does not exist");
    if (!args->png_dir.empty()) create_output_directory(args->png_dir);
    if (!args->save_wav_dir.empty()) create_output_directory(args->save_wav_dir);
    labels::LabelSpec spec;
    spec.kind = args->kind;
    spec.class_names = resolve_class_names(args->classes);
    spec.size = args->size;
    spec.dimension = args->dimension;
    spec.value_range = args->range;
    spec.smoothing = args->smoothing;
    spec.has_seed = seed->count() > 0;
    spec.seed = args->seed;
    spec.voice = args->voice;
    spec.wav_dir = args->wav_dir;
    spec.glove_file = args->glove;
    spec.bert_file = args->bert;
    spec.bert_rescale = !args->bert_raw;
    spec.bert_max_tokens = args->bert_tokens;
    std::shared_ptr<const labels::LabelRepresentation> labels;
    if (spec.kind == "speech" || spec.kind == "shuffle") {
      // Built here rather than by make_labels so that the audio is at hand for --save-wav.
      auto options = labels::SpeechLabelsOptions(spec.class_names).wav_dir(spec.wav_dir).tts(audio::TtsOptions().voice(spec.voice));
      options.pipeline().size(spec.size);
      const auto speech = std::make_shared<const labels::SpeechLabels>(options);
      if (!args->save_wav_dir.empty()) {
        for (std::size_t i = 0; i < speech->waveforms().size(); ++i) {
          std::string name = speech->metadata().class_names[i];
          for (char& c : name)
            if (c == '/' || c == ' ') c = '_';
          audio::write_wav((std::filesystem::path(args->save_wav_dir) / fmt::format("{}_{}.wav", i, name)).string(), speech->waveforms()[i]);
        }
        std::cout << fmt::format("wrote {} WAVs to {}\n", speech->waveforms().size(), args->save_wav_dir);
      }
      labels = speech;
      if (spec.kind == "shuffle") {
        labels::ShuffledSpeechLabelsOptions so;
        if (spec.has_seed) so.seed(spec.seed);
        labels = std::make_shared<const labels::ShuffledSpeechLabels>(*speech, so);
      }
    } else {
      labels = labels::make_labels(spec);
    }
    labels->save(args->out);
    std::cout << fmt::format("wrote {}: {} labels of shape [{}] ({})\n", args->out, labels->num_classes(),
                             fmt::join(labels->label_shape(), ", "), labels->metadata().description);
    if (!args->png_dir.empty()) {
      const auto files = labels::write_label_images(*labels, args->png_dir);
      std::cout << fmt::format("wrote {} images to {}\n", files.size(), args->png_dir);
    }
  });
}

}  // namespace labelrep::cli
