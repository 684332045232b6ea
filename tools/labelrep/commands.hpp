#pragma once
// Each subcommand registers itself on the app; its callback does the work through the public API.
#include <CLI/CLI.hpp>

namespace labelrep::cli {
void add_labels_command(CLI::App& app);
void add_stats_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_speak_command(CLI::App& app);
void add_data_command(CLI::App& app);
}  // namespace labelrep::cli
