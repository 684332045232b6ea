#pragma once
// Each subcommand registers itself on the app; its callback does the work through the public API.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>

#include "labelrep/train/experiment.hpp"

namespace labelrep::cli {
void add_labels_command(CLI::App& app);
void add_stats_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_speak_command(CLI::App& app);
void add_data_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_efficiency_command(CLI::App& app);
void add_tsne_command(CLI::App& app);
void add_gradcam_command(CLI::App& app);
void add_attack_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);
void add_sweep_command(CLI::App& app);
void add_radius_command(CLI::App& app);

// Shared by the commands that run experiments (train, demo).
void add_experiment_options(CLI::App& command, train::ExperimentConfig& config);
void print_experiment_result(const train::ExperimentResult& result);
// Sets libtorch's intra-op threads for commands with --threads: `requested`, or one per hardware thread
// for 0 (Debian's libtorch starts with one thread whatever the machine has).
void use_threads(int requested);
// Creates `directory` and its parents for a command's outputs; throws IoError naming it if that fails or a
// file is in the way. Commands call it after their inputs are known to be good and before the work, so a
// long job never fails at its end for want of a directory.
void create_output_directory(const std::filesystem::path& directory);
}  // namespace labelrep::cli
