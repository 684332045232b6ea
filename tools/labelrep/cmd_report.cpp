// `labelrep report RUNS_DIR --out DIR`: every finished run under RUNS_DIR as an HTML and Markdown report.
#include <iostream>

#include "commands.hpp"
#include "labelrep/report/report.hpp"

namespace labelrep::cli {

void add_report_command(CLI::App& app) {
  struct Args {
    std::string runs, out = "report", title = "labelrep report";
    bool no_labels = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("report", "Write an HTML + Markdown report of the finished runs under a directory");
  cmd->add_option("runs", args->runs, "Directory holding run directories (each with result.json)")->required();
  cmd->add_option("--out", args->out, "Report directory (index.html, report.md, figures)")->capture_default_str();
  cmd->add_option("--title", args->title, "Report title")->capture_default_str();
  cmd->add_flag("--no-labels", args->no_labels, "Skip the label statistics and pictures");
  cmd->callback([args] {
    report::ReportOptions options;
    options.title = args->title;
    options.label_sections = !args->no_labels;
    const auto n = report::write_report(args->runs, args->out, options);
    std::cout << "report of " << n << " run(s): " << args->out << "/index.html\n";
  });
}

}  // namespace labelrep::cli
