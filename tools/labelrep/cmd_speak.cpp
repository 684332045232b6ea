// `labelrep speak LABELS.npy --class i --out say.wav`: hear a label (Griffin-Lim inversion).
// `labelrep speak --run RUN_DIR --image i --out say.wav`: hear what a trained model outputs for a test image.
// `labelrep speak --list-voices`: the espeak-ng voices `labelrep labels speech --voice` accepts.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>

#include "commands.hpp"
#include "labelrep/audio/speech.hpp"
#include "labelrep/audio/waveform.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/eval/nearest_neighbor.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/train/trained_run.hpp"
#include "labelrep/train/trainer.hpp"

namespace labelrep::cli {

void add_speak_command(CLI::App& app) {
  struct Args {
    std::string labels, out, run;
    std::int64_t class_index = -1, image = -1, frames = 0;
    int iterations = 64;
    double momentum = 0.99;
    std::uint64_t seed = 0;
    bool pinv = false, float_wav = false, list_voices = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("speak", "Turn a speech label back into audio (mel inversion + Griffin-Lim) and write a WAV");
  cmd->add_option("labels", args->labels, "A label set .npy whose labels are [mels, frames] dB spectrograms (e.g. speech.npy)");
  cmd->add_option("--class", args->class_index, "Index of the class whose label to speak")->check(CLI::NonNegativeNumber);
  cmd->add_option("--run", args->run, "A run directory of a model trained on speech-like labels (instead of LABELS.npy)");
  cmd->add_option("--image", args->image, "With --run: index of the test image whose model output to speak")->check(CLI::NonNegativeNumber);
  cmd->add_option("--out", args->out, "Output WAV file (22,050 Hz)");
  cmd->add_option("--frames", args->frames,
                  "Spectrogram frames to stretch the label back to (its length before the 64-column resize; 0: the label's width)")
      ->capture_default_str();
  cmd->add_option("--iterations", args->iterations, "Griffin-Lim iterations (32 or more)")->capture_default_str()->check(CLI::Range(1, 100000));
  cmd->add_option("--momentum", args->momentum, "Griffin-Lim momentum in [0, 1) (0: classic Griffin-Lim)")->capture_default_str();
  cmd->add_option("--seed", args->seed, "Seed of the initial random phases")->capture_default_str();
  cmd->add_flag("--pinv", args->pinv, "Invert the mel filters with the pseudo-inverse instead of non-negative least squares");
  cmd->add_flag("--float", args->float_wav, "Write 32-bit float samples instead of 16-bit PCM");
  cmd->add_flag("--list-voices", args->list_voices, "List the espeak-ng voices and languages, then exit");
  cmd->callback([args] {
    if (args->list_voices) {
      for (const auto& v : audio::list_voices()) std::cout << v << '\n';
      return;
    }
    if (args->out.empty()) throw InvalidArgument("labelrep speak: --out FILE.wav is required");
    torch::Tensor label;
    std::string what;
    if (!args->run.empty()) {
      if (!args->labels.empty() || args->class_index >= 0)
        throw InvalidArgument("labelrep speak: give either --run RUN_DIR --image i or LABELS.npy --class i, not both");
      if (args->image < 0) throw InvalidArgument("labelrep speak: --run needs --image i (a test image index)");
      auto run = train::load_trained_run(args->run);
      if (run.labels->label_shape().size() != 2)
        throw InvalidArgument(fmt::format("{} trained on {} labels of shape [{}]; speak needs [mels, frames] spectrogram labels", args->run,
                                          run.labels->name(), fmt::join(run.labels->label_shape(), ", ")));
      const auto test = train::load_experiment_data(run.config, data::Split::kTest);
      if (args->image >= test.size())
        throw InvalidArgument(fmt::format("--image {}: the {} test set has images 0..{}", args->image, run.config.dataset, test.size() - 1));
      auto batches = train::evaluation_batches(test, torch::tensor({args->image}), run.statistics, 1);
      data::Batch batch;
      batches.start_epoch(0);
      batches.next(batch);
      torch::NoGradGuard no_grad;
      label = run.model->forward(batch.images)[0].to(torch::kCPU);
      const eval::NearestNeighborEvaluator evaluator(run.labels);
      const auto predicted = evaluator.predict(label.unsqueeze(0))[0].item<std::int64_t>();
      const auto truth = batch.targets[0].item<std::int64_t>();
      const auto& names = test.class_names();
      what = fmt::format("the model's output for test image {} (a {}; nearest label: {})", args->image,
                         names[static_cast<std::size_t>(truth)], names[static_cast<std::size_t>(predicted)]);
    } else {
      if (args->labels.empty() || args->class_index < 0)
        throw InvalidArgument("labelrep speak: give LABELS.npy --class i, or --run RUN_DIR --image i (or --list-voices)");
      const labels::FileLabels labels(args->labels);
      if (args->class_index >= labels.num_classes())
        throw InvalidArgument(fmt::format("--class {}: {} has classes 0..{}", args->class_index, args->labels, labels.num_classes() - 1));
      if (labels.label_shape().size() != 2)
        throw InvalidArgument(fmt::format("{} holds labels of shape [{}]; speak needs [mels, frames] spectrogram labels", args->labels,
                                          fmt::join(labels.label_shape(), ", ")));
      label = labels.matrix()[args->class_index];
      what = static_cast<std::size_t>(args->class_index) < labels.metadata().class_names.size()
                 ? labels.metadata().class_names[static_cast<std::size_t>(args->class_index)]
                 : fmt::format("class {}", args->class_index);
    }
    audio::InversionOptions options;
    options.frames(args->frames).n_mels(static_cast<int>(label.size(0)));
    options.mel_inversion(args->pinv ? audio::MelInversion::kPseudoInverse : audio::MelInversion::kNonNegativeLeastSquares);
    options.griffin_lim().iterations(args->iterations).momentum(args->momentum).seed(args->seed);
    const audio::Waveform w = audio::label_to_audio(label, options);
    audio::write_wav(args->out, w, args->float_wav ? audio::WavEncoding::kFloat32 : audio::WavEncoding::kPcm16);
    std::cout << fmt::format("wrote {}: {} ({:.2f} s at {} Hz, {} Griffin-Lim iterations)\n", args->out, what, w.seconds(),
                             w.sample_rate, args->iterations);
  });
}

}  // namespace labelrep::cli
