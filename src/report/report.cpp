#include "labelrep/report/report.hpp"

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <limits>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "labelrep/analysis/plot.hpp"
#include "labelrep/core/atomic_file.hpp"
#include "labelrep/core/class_names.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"
#include "labelrep/eval/paired_comparison.hpp"
#include "labelrep/labels/factory.hpp"
#include "labelrep/labels/kinds.hpp"
#include "labelrep/labels/label_image.hpp"
#include "labelrep/labels/statistics.hpp"
#include "labelrep/train/experiment.hpp"
#include "labelrep/train/run_directory.hpp"
#include "core/boundary.hpp"
#include "core/json_document.hpp"

namespace labelrep::report {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string base64(const std::string& bytes) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto n = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                   static_cast<unsigned char>(bytes[i + 2]);
    out += table[(n >> 18) & 63], out += table[(n >> 12) & 63], out += table[(n >> 6) & 63], out += table[n & 63];
  }
  if (i + 1 == bytes.size()) {
    const auto n = static_cast<unsigned char>(bytes[i]) << 16;
    out += table[(n >> 18) & 63], out += table[(n >> 12) & 63], out += "==";
  } else if (i + 2 == bytes.size()) {
    const auto n = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += table[(n >> 18) & 63], out += table[(n >> 12) & 63], out += table[(n >> 6) & 63], out += '=';
  }
  return out;
}

struct Stat {
  double mean = 0, std = 0;
  std::size_t n = 0;
};
Stat stat(const std::vector<double>& v) {
  Stat s;
  s.n = v.size();
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / static_cast<double>(v.size()));
  return s;
}
std::string percent(const Stat& s) {
  return s.n == 0 ? "–" : s.n == 1 ? fmt::format("{:.2f}", 100 * s.mean) : fmt::format("{:.2f} ± {:.2f}", 100 * s.mean, 100 * s.std);
}
// A file-name part from any text: letters and digits kept, each run of anything else one '_' (so
// "fgsm, bim" is "fgsm_bim", not "fgsm__bim"), none at the end. A long text keeps its first
// 80 characters and gets its hash (FNV-1a) appended, so names stay far below the 255-byte limit of
// file systems and distinct texts still get distinct names.
std::string safe_name(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c))) out += c;
    else if (out.empty() || out.back() != '_') out += '_';
  }
  if (out.size() > 1 && out.back() == '_') out.pop_back();  // "pgd (5 steps)": "pgd_5_steps", not "pgd_5_steps_"
  if (out.size() <= 100) return out;
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ULL;
  return fmt::format("{}_{:016x}", out.substr(0, 80), hash);
}
// Text as one cell of a Markdown table: a '|' would end the cell, a line break the row.
std::string markdown_cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += "\\|";
    else out += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return out;
}
std::string str(const json& j, const char* key, const std::string& fallback = "") {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : fallback;
}

// What a sweep's ε bounds: its unit ("normalized" or "pixel") and its ball's norm ("linf", also for
// sweeps written before labelrep had L2 attacks, or "l2").
struct ThreatModel {
  std::string unit, norm;
  // What curve names carry, so that sweeps of other threat models are other curves ("" for the
  // paper's: normalised units, L∞).
  std::string suffix() const {
    if (norm == "linf") return unit == "normalized" ? "" : " (" + unit + " ε)";
    return " (L2, " + unit + " ε)";
  }
  std::string axis() const { return fmt::format("ε ({} units{})", unit, norm == "l2" ? ", L2" : ""); }
  std::string describe() const { return fmt::format("ε in {} units{}", unit, norm == "l2" ? ", L2 ball" : ""); }
};
ThreatModel threat_model_of(const json& sweep) { return {str(sweep, "epsilon_unit", "normalized"), str(sweep, "norm", "linf")}; }

// A run's label seed as text ("default": the kind's own seed).
std::string label_seed_text(const json& config) { return config.contains("label_seed") ? config["label_seed"].dump() : "default"; }

// The fields that name a row of the accuracy table; with the seed (a row's runs differ in it) they are
// left out of the recipe that tells experiments apart.
constexpr const char* kRowFields[] = {"seed", "dataset", "encoder", "label", "level", "standardize_labels", "mirror_evaluation"};

// A group of runs that differ only in the seed.
struct Group {
  std::string dataset, encoder, label, label_kind;
  double level = 100;
  bool categorical = false;        // the runs' labels are categorical (the paired sections' reference)
  bool mirror_evaluation = false;  // tested on the mean of image and mirror image
  std::vector<const RunRecord*> runs;
  std::vector<double> accuracy, threshold_accuracy;
};

std::string group_name(const Group& g) {
  return fmt::format("{}{}", g.label_kind, g.level != 100 ? fmt::format(" {:g}%", g.level) : std::string());
}

// One attack's points over the seeds of a group: ε -> accuracies (one per run).
struct AttackCurves {
  std::string description;  // "eps in normalized units, 5 steps"
  std::map<double, std::vector<double>> accuracy, threshold_accuracy;
  // Each run's 95% Wilson interval of the accuracy over its images (the sweep's "accuracy_ci95"; NaN
  // when a sweep written before it has none).
  std::map<double, std::vector<std::pair<double, double>>> interval;
  std::map<double, std::int64_t> images;
};

// A point's "accuracy_ci95" as (low, high); NaNs when absent or null.
std::pair<double, double> interval_of(const json& point) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (!point.contains("accuracy_ci95")) return {nan, nan};
  const auto& ci = point["accuracy_ci95"];
  if (!ci.is_array() || ci.size() != 2 || !ci[0].is_number() || !ci[1].is_number()) return {nan, nan};
  return {ci[0].get<double>(), ci[1].get<double>()};
}

// The interval column: the 95% interval over the images when there is one run (with several, the
// spread over seeds is the std beside the mean, and the runs' image intervals do not combine into one).
std::string interval_cell(const std::vector<std::pair<double, double>>& intervals) {
  if (intervals.size() != 1 || !std::isfinite(intervals[0].first) || !std::isfinite(intervals[0].second)) return "–";
  return fmt::format("{:.1f}–{:.1f}", 100.0 * intervals[0].first, 100.0 * intervals[0].second);
}

double json_number(const json& j, const char* key, const std::string& file) {
  if (!j.contains(key) || !j[key].is_number()) throw FormatError(file, FormatError::kNoOffset, fmt::format("not an attack sweep: no number '{}'", key));
  return j[key].get<double>();
}
// An optional count of an attack sweep: 0 when absent; a value of another type is the file's fault.
std::int64_t json_count(const json& j, const char* key, const std::string& file) {
  return j.contains(key) ? static_cast<std::int64_t>(labelrep::detail::json_unsigned(j[key], key, file)) : 0;
}

// The target classes of a sweep's attack entry if it is APGD-T, else 0. APGD-T entries ("apgd-t")
// carry their own; sweeps written before APGD-T had a name of its own give one `target_classes` for
// the whole sweep, which turned each untargeted APGD into APGD-T.
std::int64_t apgd_target_classes(const json& attack, const json& sweep, const std::string& file) {
  if (!attack.contains("method")) return 0;
  if (attack["method"] == "apgd-t") return json_count(attack, "target_classes", file);
  const bool targeted = attack.contains("targeted") && attack["targeted"].is_boolean() && attack["targeted"].get<bool>();
  return attack["method"] == "apgd" && !targeted ? json_count(sweep, "target_classes", file) : 0;
}
// The name suffix of APGD-T over `target_classes` classes ("" for 0: plain APGD).
std::string target_classes_suffix(std::int64_t target_classes) {
  return target_classes > 0 ? fmt::format(" (top-{} targets)", target_classes) : "";
}

// Every run's attack sweeps, parsed once for the sections that read them: file -> its JSON object.
using Sweeps = std::map<std::string, json>;
Sweeps read_sweeps(const std::map<std::string, Group>& groups) {
  Sweeps sweeps;
  for (const auto& [id, g] : groups)
    for (const auto* run : g.runs)
      for (const auto& file : run->attack_files) {
        json sweep;
        try {
          sweep = json::parse(read_file(file, 1 << 26));
        } catch (const json::exception& e) {
          throw FormatError(file, FormatError::kNoOffset, std::string("invalid JSON: ") + e.what());
        }
        if (!sweep.is_object() || !sweep.contains("attacks") || !sweep["attacks"].is_array())
          throw FormatError(file, FormatError::kNoOffset, "not an attack sweep (no 'attacks' list)");
        sweeps.emplace(file, std::move(sweep));
      }
  return sweeps;
}

// Accuracy under attack (Figure 3): per dataset and encoder, one plot per attack with a colour per
// label kind (threshold accuracy solid, nearest-label accuracy dotted, ± std over seeds), and a table.
void write_robustness(const std::map<std::string, Group>& groups, const Sweeps& parsed, const std::string& out_dir, std::ostringstream& html,
                      std::ostringstream& md) {
  // setting ("dataset · encoder") -> attack -> group name -> curves
  std::map<std::string, std::map<std::string, std::map<std::string, AttackCurves>>> sweeps;
  std::map<std::string, int> colour_of;  // a label kind keeps its colour in every plot
  // The sweeps' gradient-masking checks (attack::check_gradient_masking): all counted, failures listed.
  struct FailedCheck {
    std::string file, check, attack, detail;
  };
  std::vector<FailedCheck> failed_checks;
  std::int64_t checks_run = 0, sweeps_checked = 0;
  for (const auto& [id, g] : groups) {
    for (const auto* run : g.runs) {
      for (const auto& file : run->attack_files) {
        const json& sweep = parsed.at(file);
        const std::string setting = g.dataset + " · " + g.encoder;
        if (sweep.contains("masking_checks")) {  // absent from sweeps written before the checks existed
          const auto& checks = sweep["masking_checks"];
          if (!checks.is_array()) throw FormatError(file, FormatError::kNoOffset, "'masking_checks' is not a list");
          ++sweeps_checked;
          for (const auto& c : checks) {
            if (!c.is_object() || !c.contains("check") || !c["check"].is_string() || !c.contains("passed") || !c["passed"].is_boolean())
              throw FormatError(file, FormatError::kNoOffset, "a masking check without a name or a boolean 'passed'");
            ++checks_run;
            if (!c["passed"].get<bool>()) failed_checks.push_back({file, c["check"].get<std::string>(), str(c, "attack"), str(c, "detail")});
          }
        }
        // An iterative attack's steps: its own (APGD's may differ from the sweep's), or, in sweeps
        // written before they were recorded per curve, the sweep's; 0 for other attacks.
        const auto steps_of = [&](const json& a) -> std::int64_t {
          const std::string method = str(a, "method");
          if (method != "iterative" && method != "pgd" && method != "apgd" && method != "apgd-t") return 0;
          return a.contains("steps") ? json_count(a, "steps", file) : json_count(sweep, "steps", file);
        };
        // What makes an attack's curve another curve than its name says: APGD's and APGD-T's steps,
        // PGD's, APGD's and APGD-T's restarts, APGD-T's target classes, Square's queries.
        struct Settings {
          std::int64_t steps = 0, restarts = 0, target_classes = 0, queries = 0;
          std::string suffix() const {
            return (steps > 0 ? fmt::format(" ({} steps)", steps) : "") + target_classes_suffix(target_classes) +
                   (restarts > 1 ? fmt::format(" ({} restarts)", restarts) : "") + (queries > 0 ? fmt::format(" ({} queries)", queries) : "");
          }
        };
        const auto settings_of = [&](const json& a) {
          const std::string method = str(a, "method");
          Settings s;
          if (method == "apgd" || method == "apgd-t") s.steps = steps_of(a);
          s.target_classes = apgd_target_classes(a, sweep, file);
          if (method == "pgd" || method == "apgd" || method == "apgd-t") s.restarts = json_count(sweep, "restarts", file);
          if (method == "square") s.queries = json_count(sweep, "queries", file);
          return s;
        };
        for (const auto& a : sweep["attacks"]) {
          if (!a.is_object() || !a.contains("attack") || !a["attack"].is_string() || !a.contains("points") || !a["points"].is_array() ||
              a["points"].empty())
            throw FormatError(file, FormatError::kNoOffset, "not an attack sweep (an attack without name or points)");
          const auto threat = threat_model_of(sweep);
          // Sweeps that differ in the unit, the norm, APGD's steps, PGD's and APGD's restarts or Square's queries are different curves.
          const std::string attack = a["attack"].get<std::string>() + threat.suffix() + settings_of(a).suffix();
          auto& curves = sweeps[setting][attack][group_name(g)];
          const std::int64_t steps = steps_of(a);
          curves.description = fmt::format("{}{}{}", threat.describe(), steps > 0 ? fmt::format(", {} steps", steps) : "",
                                           str(a, "objective") == "margin" ? ", on the decision margin"
                                           : str(a, "objective") == "dlr"  ? ", on the DLR loss"
                                                                           : "");
          colour_of.emplace(group_name(g), static_cast<int>(colour_of.size()));
          for (const auto& p : a["points"]) {
            const double eps = json_number(p, "epsilon", file);
            curves.accuracy[eps].push_back(json_number(p, "accuracy", file));
            curves.interval[eps].push_back(interval_of(p));
            if (p.contains("threshold_accuracy") && p["threshold_accuracy"].is_number())
              curves.threshold_accuracy[eps].push_back(p["threshold_accuracy"].get<double>());
            curves.images[eps] = json_count(sweep, "images", file);
          }
        }
        // The worst case over the sweep's attacks (an image robust only if no attack broke it): a
        // curve of its own, named by the attacks it is the worst case of.
        if (sweep.contains("worst_case") && sweep["attacks"].size() > 1) {
          const auto& worst = sweep["worst_case"];
          if (!worst.is_array()) throw FormatError(file, FormatError::kNoOffset, "'worst_case' is not a list");
          std::string names;
          Settings settings;
          for (const auto& a : sweep["attacks"]) {
            names += (names.empty() ? "" : ", ") + a["attack"].get<std::string>();
            const auto s = settings_of(a);
            settings.steps = std::max(settings.steps, s.steps);
            settings.restarts = std::max(settings.restarts, s.restarts);
            settings.target_classes = std::max(settings.target_classes, s.target_classes);
            settings.queries = std::max(settings.queries, s.queries);
          }
          // Settings that make the curves of single attacks different curves make their worst case one too.
          const auto threat = threat_model_of(sweep);
          const std::string name = "worst case of " + names + threat.suffix() + settings.suffix();
          auto& curves = sweeps[setting][name][group_name(g)];
          curves.description = threat.describe() + "; an image counts only if every attack left it correct";
          colour_of.emplace(group_name(g), static_cast<int>(colour_of.size()));
          for (const auto& p : worst) {
            if (!p.is_object()) throw FormatError(file, FormatError::kNoOffset, "a 'worst_case' point is not an object");
            const double eps = json_number(p, "epsilon", file);
            curves.accuracy[eps].push_back(json_number(p, "accuracy", file));
            curves.interval[eps].push_back(interval_of(p));
            curves.images[eps] = json_count(sweep, "images", file);
          }
        }
      }
    }
  }
  if (sweeps.empty()) return;
  html << "<h2>Accuracy under adversarial attack (Figure 3 form)</h2>\n<p>From the runs' <code>attack*.json</code> sweeps "
          "(<code>labelrep attack --run RUN</code>): test accuracy against the attack strength ε. Threshold accuracy solid, "
          "nearest-label accuracy dotted, bands ± std over seeds. Only initially correct images are attacked; the others count as "
          "failures.</p>\n";
  md << "## Accuracy under adversarial attack (Figure 3 form)\n\nFrom the runs' `attack*.json` sweeps: test accuracy against ε; "
        "threshold accuracy solid, nearest-label accuracy dotted (± std over seeds).\n\n";
  std::ostringstream table_html, table_md;
  table_html << "<table><tr><th>dataset · encoder</th><th>attack</th><th>label</th><th>ε</th><th>images</th><th>seeds</th>"
                "<th>accuracy</th><th>95% interval (one seed)</th><th>threshold accuracy</th></tr>\n";
  table_md << "| dataset · encoder | attack | label | ε | images | seeds | accuracy | 95% interval (one seed) | threshold accuracy |\n"
              "|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& [setting, attacks] : sweeps) {
    for (const auto& [attack, by_group] : attacks) {
      std::string description;
      analysis::LinePlot plot(attack + ": " + setting, "ε", "test accuracy");
      plot.set_y_range(0.0, 1.0);
      for (const auto& [name, curves] : by_group) {
        description = curves.description;
        const int colour = colour_of.at(name);
        std::vector<double> x, y, e;
        for (const auto& [eps, values] : curves.accuracy) {
          const auto s = stat(values);
          x.push_back(eps), y.push_back(s.mean), e.push_back(s.std);
        }
        if (!curves.threshold_accuracy.empty()) {
          std::vector<double> tx, ty, te;
          for (const auto& [eps, values] : curves.threshold_accuracy) {
            const auto s = stat(values);
            tx.push_back(eps), ty.push_back(s.mean), te.push_back(s.std);
          }
          plot.add_series(name + " threshold", tx, ty, te, analysis::SeriesStyle{false, colour});
        }
        plot.add_series(name + " nearest", x, y, e, analysis::SeriesStyle{true, colour});
        for (const auto& [eps, values] : curves.accuracy) {
          const auto it = curves.threshold_accuracy.find(eps);
          const std::string threshold = it == curves.threshold_accuracy.end() ? "–" : percent(stat(it->second));
          const std::string interval = interval_cell(curves.interval.at(eps));
          table_html << fmt::format(
              "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:g}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
              analysis::escape_xml(setting), analysis::escape_xml(attack), analysis::escape_xml(name), eps, curves.images.at(eps), values.size(),
              percent(stat(values)), interval, threshold);
          table_md << fmt::format("| {} | {} | {} | {:g} | {} | {} | {} | {} | {} |\n", setting, attack, name, eps, curves.images.at(eps),
                                  values.size(), percent(stat(values)), interval, threshold);
        }
      }
      const std::string svg = plot.svg(640, 380);
      std::string plain = setting;  // "dataset · encoder" -> "dataset_encoder" in file names
      if (const auto dot = plain.find(" · "); dot != std::string::npos) plain.replace(dot, std::string(" · ").size(), "_");
      const std::string file = "attack_" + safe_name(plain + "_" + attack) + ".svg";
      write_file_atomically((fs::path(out_dir) / file).string(), svg);
      html << "<figure>" << svg << "<figcaption>" << analysis::escape_xml(attack + ", " + description) << "</figcaption></figure>\n";
      md << "![" << attack << ": " << setting << "](" << file << ")\n\n";
    }
  }
  html << "<h3>Accuracy under attack (percent, mean ± std over seeds)</h3>\n" << table_html.str() << "</table>\n";
  md << "### Accuracy under attack\n\nPercent, mean ± std over seeds.\n\n" << table_md.str() << "\n";
  if (sweeps_checked == 0) return;
  const std::string summary = fmt::format("{} checks in {} sweep{} (zero gradients, an unbounded attack leaving images correct, random "
                                          "noise or Square beating an attack, an iterative attack weaker than FGSM, accuracy rising "
                                          "with ε; see docs/robustness.md): ",
                                          checks_run, sweeps_checked, sweeps_checked == 1 ? "" : "s");
  html << "<h3>Gradient-masking checks</h3>\n<p>" << analysis::escape_xml(summary);
  md << "### Gradient-masking checks\n\n" << summary;
  if (failed_checks.empty()) {
    html << "all passed.</p>\n";
    md << "all passed.\n\n";
    return;
  }
  html << fmt::format("<strong>{} failed</strong>: these robustness numbers may overstate robustness.</p>\n<table><tr><th>sweep</th>"
                      "<th>check</th><th>attack</th><th>what was found</th></tr>\n",
                      failed_checks.size());
  md << fmt::format("**{} failed**: these robustness numbers may overstate robustness.\n\n| sweep | check | attack | what was found |\n"
                    "|---|---|---|---|\n",
                    failed_checks.size());
  for (const auto& f : failed_checks) {
    html << fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", analysis::escape_xml(f.file), analysis::escape_xml(f.check),
                        analysis::escape_xml(f.attack), analysis::escape_xml(f.detail));
    md << fmt::format("| {} | {} | {} | {} |\n", markdown_cell(f.file), markdown_cell(f.check), markdown_cell(f.attack), markdown_cell(f.detail));
  }
  html << "</table>\n";
  md << "\n";
}

// Calls visit(group, categorical group, run, categorical run, seed) for each run with labels other than
// categorical and each categorical run of the same dataset, encoder, data level, evaluation (mirror or
// not) and seed: the pairs the paired sections compare. Recipes may differ (the paper trains
// categorical labels for 200 epochs, the others for 600): the pair's name carries both groups' names.
template <class Visit>
void for_each_categorical_pair(const std::map<std::string, Group>& groups, Visit visit) {
  const auto seed_of = [](const RunRecord* run) { return json::parse(run->config_json).value("seed", json()).dump(); };
  for (const auto& [id, other] : groups) {
    if (other.categorical) continue;
    for (const auto& [category_id, category] : groups) {
      if (!category.categorical || category.dataset != other.dataset || category.encoder != other.encoder || category.level != other.level ||
          category.mirror_evaluation != other.mirror_evaluation)
        continue;
      for (const auto* run : other.runs)
        for (const auto* reference : category.runs)
          if (seed_of(run) == seed_of(reference)) visit(other, category, *run, *reference, seed_of(run));
    }
  }
}

// A paired comparison's verdict at p < 0.05.
std::string paired_verdict(const eval::PairedComparison& c, const char* better, const char* worse) {
  return c.p_value >= 0.05 ? "no significant difference" : c.difference > 0 ? better : worse;
}

// As accurate? Each run against the categorical run of its dataset, encoder, level and seed on every
// test image (the runs' test_predictions.npy): the claim of the paper's Table 1, tested image by image.
void write_paired_accuracy(const std::map<std::string, Group>& groups, std::ostringstream& html, std::ostringstream& md) {
  std::ostringstream rows_html, rows_md;
  std::vector<std::string> left_out;
  std::set<std::string> without_predictions;
  std::size_t rows = 0;
  // A run's true and predicted classes, or an undefined tensor when it has none.
  const auto predictions_of = [&](const RunRecord& run) {
    const auto file = (fs::path(run.directory) / train::kTestPredictionsFile).string();
    std::error_code error;
    if (!fs::is_regular_file(file, error)) {
      without_predictions.insert(run.directory);
      return torch::Tensor();
    }
    auto p = read_npy(file);
    if (p.scalar_type() != torch::kLong || p.dim() != 2 || p.size(1) != 2 || p.size(0) < 1)
      throw FormatError(file, FormatError::kNoOffset, "not a run's test predictions: expected int64 [N, 2] (true class, predicted class)");
    return p;
  };
  for_each_categorical_pair(groups, [&](const Group& other, const Group& category, const RunRecord& run, const RunRecord& reference,
                                        const std::string& seed) {
    const auto a = predictions_of(run), b = predictions_of(reference);
    if (!a.defined() || !b.defined()) return;
    if (a.size(0) != b.size(0) || !torch::equal(a.select(1, 0), b.select(1, 0))) {
      left_out.push_back(fmt::format("{} and {} (their test sets differ)", run.directory, reference.directory));
      return;
    }
    const auto c = eval::compare_paired(a.select(1, 0) == a.select(1, 1), b.select(1, 0) == b.select(1, 1));
    const std::string pair = other.label_kind + " vs " + category.label_kind;
    const std::string verdict = paired_verdict(c, "more accurate", "less accurate");
    rows_html << fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2f}</td><td>{:.2f}</td><td>{:+.2f} [{:+.2f}, {:+.2f}]</td>"
                             "<td>{} / {}</td><td>{:.2g}</td><td>{}</td></tr>\n",
                             analysis::escape_xml(other.dataset + " · " + other.encoder), analysis::escape_xml(pair), analysis::escape_xml(seed),
                             c.images, 100 * c.first_accuracy, 100 * c.second_accuracy, 100 * c.difference, 100 * c.low, 100 * c.high,
                             c.only_first, c.only_second, c.p_value, verdict);
    rows_md << fmt::format("| {} | {} | {} | {} | {:.2f} | {:.2f} | {:+.2f} [{:+.2f}, {:+.2f}] | {} / {} | {:.2g} | {} |\n",
                           markdown_cell(other.dataset + " · " + other.encoder), markdown_cell(pair), seed, c.images, 100 * c.first_accuracy,
                           100 * c.second_accuracy, 100 * c.difference, 100 * c.low, 100 * c.high, c.only_first, c.only_second, c.p_value, verdict);
    ++rows;
  });
  if (!without_predictions.empty())
    left_out.push_back(fmt::format("{} run(s) without {} (trained by an earlier labelrep; `labelrep evaluate --run RUN --views image "
                                   "--predictions RUN/{}` writes it): {}",
                                   without_predictions.size(), train::kTestPredictionsFile, train::kTestPredictionsFile,
                                   fmt::join(without_predictions, ", ")));
  if (rows == 0 && left_out.empty()) return;
  const std::string intro =
      "Each run against the categorical run of its dataset, encoder, data level and seed, on every test image (the runs' "
      "test_predictions.npy). Difference = its test accuracy minus the categorical run's, in points, with its 95% interval (a paired "
      "bootstrap over the images); only this / only category: the images only one of the two classifies correctly; p: McNemar's exact "
      "test on those. \"About as accurate\" (the paper's Table 1) is a claim this tests.";
  html << "<h2>As accurate on the same images? (paired, against categorical labels)</h2>\n<p>" << analysis::escape_xml(intro) << "</p>\n";
  md << "## As accurate on the same images? (paired, against categorical labels)\n\n" << intro << "\n\n";
  if (rows > 0) {
    html << "<table><tr><th>dataset · encoder</th><th>labels</th><th>seed</th><th>images</th><th>accuracy</th><th>category's</th>"
            "<th>difference [95% interval]</th><th>only this / only category</th><th>p</th><th>verdict (p &lt; 0.05)</th></tr>\n"
         << rows_html.str() << "</table>\n";
    md << "| dataset · encoder | labels | seed | images | accuracy | category's | difference [95% interval] | only this / only category | p | "
          "verdict (p < 0.05) |\n|---|---|---|---|---|---|---|---|---|---|\n"
       << rows_md.str() << "\n";
  }
  for (const auto& note : left_out) {
    html << "<p>Left out: " << analysis::escape_xml(note) << "</p>\n";
    md << "Left out: " << markdown_cell(note) << "\n\n";
  }
}

// One attack sweep's per-image outcomes (`labelrep attack --per-image`), to pair runs image by image.
struct PerImageSweep {
  std::string file;                  // the sweep's JSON
  std::vector<std::string> attacks;  // in the order of the outcomes' first axis
  std::vector<double> epsilons;      // of the second axis
  ThreatModel threat;
  std::string apgd_targets;  // " (top-K targets)" when it holds an APGD-T over K target classes, else empty
  std::int64_t images = 0;
  // Everything that makes two sweeps' attacks the same attacks: per attack its name, method, objective,
  // steps and target classes (APGD-T); the sweep's unit, norm, steps, step fraction, restarts, queries, seed (targets, random starts)
  // and images.
  json settings;
  torch::Tensor correct;             // bool [attacks, epsilons, images]
};

// Where a sweep's per-image file is: as recorded when that is absolute (labelrep attack records it so),
// else relative to the sweep's folder; failing both, the file of that name beside the sweep (runs
// copied elsewhere keep working). Empty when none exists.
std::string find_per_image_file(const std::string& sweep_file, const fs::path& recorded) {
  const auto folder = fs::path(sweep_file).parent_path();
  std::error_code error;
  for (const auto& candidate : {recorded.is_absolute() ? recorded : folder / recorded, folder / recorded.filename()})
    if (fs::is_regular_file(candidate, error)) return candidate.string();
  return {};
}

// The sweeps of a run that kept their per-image outcomes; a sweep whose file is gone is left out and
// named in `missing`. A file of the wrong shape or type, or a sweep without attacks, is the sweep's fault.
std::vector<PerImageSweep> per_image_sweeps(const RunRecord& run, const Sweeps& parsed, std::vector<std::string>& missing) {
  std::vector<PerImageSweep> sweeps;
  for (const auto& file : run.attack_files) {
    const json& sweep = parsed.at(file);
    if (!sweep.contains("per_image")) continue;
    const auto& per_image = sweep["per_image"];
    if (!per_image.is_object() || !per_image.contains("correct") || !per_image["correct"].is_string())
      throw FormatError(file, FormatError::kNoOffset, "'per_image' has no file name 'correct'");
    const fs::path recorded = per_image["correct"].get<std::string>();
    const auto path = find_per_image_file(file, recorded);
    if (path.empty()) {
      missing.push_back(fmt::format("{} (its per-image file {} is gone)", file, recorded.string()));
      continue;
    }
    if (!sweep.contains("attacks") || !sweep["attacks"].is_array() || sweep["attacks"].empty())
      throw FormatError(file, FormatError::kNoOffset, "a sweep with per-image outcomes but no attacks");
    PerImageSweep s;
    s.file = file;
    s.threat = threat_model_of(sweep);
    s.images = json_count(sweep, "images", file);
    const auto value_of = [](const json& j, const char* key) { return j.contains(key) ? j.at(key) : json(); };
    for (const char* key : {"epsilon_unit", "steps", "step_fraction", "restarts", "queries", "seed", "images"}) s.settings[key] = value_of(sweep, key);
    s.settings["norm"] = s.threat.norm;  // absent in older sweeps: L∞
    for (const auto& a : sweep.at("attacks")) {
      const auto target_classes = apgd_target_classes(a, sweep, file);
      if (target_classes > 0) s.apgd_targets = target_classes_suffix(target_classes);
      s.attacks.push_back(a.at("attack").get<std::string>());
      s.settings["attacks"].push_back({{"attack", s.attacks.back()},
                                       {"method", value_of(a, "method")},
                                       {"objective", value_of(a, "objective")},
                                       {"steps", value_of(a, "steps")},
                                       {"target_classes", target_classes}});
      std::vector<double> epsilons;
      for (const auto& p : a.at("points")) epsilons.push_back(json_number(p, "epsilon", file));
      if (s.epsilons.empty()) s.epsilons = epsilons;
      if (epsilons != s.epsilons)
        throw FormatError(file, FormatError::kNoOffset, fmt::format("attack '{}' has other ε than the first attack", s.attacks.back()));
    }
    s.correct = read_npy(path);
    if (s.correct.scalar_type() != torch::kBool ||
        s.correct.sizes() != torch::IntArrayRef({static_cast<std::int64_t>(s.attacks.size()), static_cast<std::int64_t>(s.epsilons.size()), s.images}))
      throw FormatError(path, FormatError::kNoOffset,
                        fmt::format("not the per-image outcomes of {}: expected bool [{}, {}, {}] (attacks, eps, images)", file, s.attacks.size(),
                                    s.epsilons.size(), s.images));
    sweeps.push_back(std::move(s));
  }
  return sweeps;
}

// Robust on the same images? For each run with labels other than categorical and the categorical run of
// the same dataset, encoder, level, evaluation and seed, the sweeps that ran the same attacks with the
// same settings at the same ε on the same images (the first N test images) are compared image by image: the worst case over the attacks
// (an image counts if no attack broke it) of both, the difference with its paired 95% interval and
// McNemar's exact test. Two percentages side by side cannot say whether 2 points are luck; this can.
void write_paired_robustness(const std::map<std::string, Group>& groups, const Sweeps& parsed, const std::string& out_dir,
                             std::ostringstream& html, std::ostringstream& md) {
  std::map<const RunRecord*, std::vector<PerImageSweep>> sweeps_of;
  std::vector<std::string> missing;
  for (const auto& [id, g] : groups)
    for (const auto* run : g.runs) sweeps_of[run] = per_image_sweeps(*run, parsed, missing);
  std::ostringstream rows_html, rows_md, figures_html, figures_md;
  std::size_t rows = 0;
  for_each_categorical_pair(groups, [&](const Group& other, const Group& category, const RunRecord& run, const RunRecord& reference,
                                        const std::string& seed) {
    for (const auto& a : sweeps_of[&run])
      for (const auto& b : sweeps_of[&reference]) {
        if (a.settings != b.settings || a.epsilons != b.epsilons) continue;
        const std::string attacks = fmt::format("{}", fmt::join(a.attacks, ", ")) + a.threat.suffix() + a.apgd_targets;
        const std::string pair = other.label_kind + " vs " + category.label_kind;
        std::vector<double> x, difference, low, high;
        for (std::size_t e = 0; e < a.epsilons.size(); ++e) {
          const auto e_index = static_cast<std::int64_t>(e);
          const auto c = eval::compare_paired(a.correct.select(1, e_index).all(0), b.correct.select(1, e_index).all(0));
          x.push_back(a.epsilons[e]), difference.push_back(100 * c.difference), low.push_back(100 * c.low), high.push_back(100 * c.high);
          // At ε = 0 nothing was attacked: the comparison is of clean accuracy.
          const bool clean = a.epsilons[e] == 0.0;
          const std::string verdict = paired_verdict(c, clean ? "more accurate" : "more robust", clean ? "less accurate" : "less robust");
          rows_html << fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:g}</td><td>{}</td><td>{:.2f}</td><td>{:.2f}</td>"
                                   "<td>{:+.2f} [{:+.2f}, {:+.2f}]</td><td>{} / {}</td><td>{:.2g}</td><td>{}</td></tr>\n",
                                   analysis::escape_xml(other.dataset + " · " + other.encoder), analysis::escape_xml(pair), analysis::escape_xml(seed),
                                   analysis::escape_xml(attacks), a.epsilons[e], c.images, 100 * c.first_accuracy, 100 * c.second_accuracy,
                                   100 * c.difference, 100 * c.low, 100 * c.high, c.only_first, c.only_second, c.p_value, verdict);
          rows_md << fmt::format("| {} | {} | {} | {} | {:g} | {} | {:.2f} | {:.2f} | {:+.2f} [{:+.2f}, {:+.2f}] | {} / {} | {:.2g} | {} |\n",
                                 markdown_cell(other.dataset + " · " + other.encoder), markdown_cell(pair), seed, markdown_cell(attacks),
                                 a.epsilons[e], c.images, 100 * c.first_accuracy, 100 * c.second_accuracy, 100 * c.difference, 100 * c.low,
                                 100 * c.high, c.only_first, c.only_second, c.p_value, verdict);
          ++rows;
        }
        analysis::LinePlot plot(fmt::format("{}, seed {}: worst-case accuracy difference, {} images", pair, seed, a.images),
                                a.threat.axis(), "difference (points)");
        plot.add_series("difference", x, difference, {}, analysis::SeriesStyle{false, 0});
        plot.add_series("95% interval, low", x, low, {}, analysis::SeriesStyle{true, 0});
        plot.add_series("95% interval, high", x, high, {}, analysis::SeriesStyle{true, 0});
        plot.add_series("no difference", {x.front(), x.back()}, {0.0, 0.0}, {}, analysis::SeriesStyle{true, 1});
        const std::string svg = plot.svg(560, 340);
        // Named by both sweeps' files too: two pairs of sweeps of the same attacks get two plots.
        const std::string file = "paired_" + safe_name(other.dataset + "_" + other.encoder + "_" + pair + "_" + seed + "_" + attacks + "_" +
                                                       fs::path(a.file).stem().string() + "_" + fs::path(b.file).stem().string()) + ".svg";
        write_file_atomically((fs::path(out_dir) / file).string(), svg);
        figures_html << "<figure>" << svg << "<figcaption>" << analysis::escape_xml(pair + ": " + attacks) << "</figcaption></figure>\n";
        figures_md << "![" << pair << ": " << attacks << "](" << file << ")\n\n";
      }
  });
  if (rows == 0 && missing.empty()) return;
  const auto intro = [](const std::string& command) {
    return "The same test images, attacked by the same attacks at the same ε, for a run and the categorical run of its dataset, encoder, "
           "level and seed (sweeps written with " + command + "). An image counts as robust if no attack broke it. "
           "Difference = this run's robust accuracy minus the categorical run's, in points, with its 95% interval (a paired bootstrap "
           "over the images); only this / only category: the images only one of the two keeps; p: McNemar's exact test on those. ε = 0 "
           "compares the clean accuracy on these images.";
  };
  html << "<h2>Robust on the same images? (paired, against categorical labels)</h2>\n<p>" << intro("<code>labelrep attack --per-image</code>")
       << "</p>\n";
  md << "## Robust on the same images? (paired, against categorical labels)\n\n" << intro("`labelrep attack --per-image`") << "\n\n";
  if (rows > 0) {
    html << figures_html.str()
         << "<table><tr><th>dataset · encoder</th><th>labels</th><th>seed</th><th>attacks</th><th>ε</th><th>images</th><th>accuracy</th>"
            "<th>category's</th><th>difference [95% interval]</th><th>only this / only category</th><th>p</th><th>verdict (p &lt; 0.05)</th></tr>\n"
         << rows_html.str() << "</table>\n";
    md << figures_md.str()
       << "| dataset · encoder | labels | seed | attacks | ε | images | accuracy | category's | difference [95% interval] | only this / only "
          "category | p | verdict (p < 0.05) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n"
       << rows_md.str() << "\n";
  } else {
    html << "<p>No pair of runs has sweeps of the same attacks, ε and images.</p>\n";
    md << "No pair of runs has sweeps of the same attacks, ε and images.\n\n";
  }
  for (const auto& m : missing) {
    html << "<p>Left out: " << analysis::escape_xml(m) << "</p>\n";
    md << "Left out: " << markdown_cell(m) << "\n\n";
  }
}

// One radius file (`labelrep radius`): what makes two files' radii comparable, and each image's radius.
struct RadiusFile {
  std::string file;
  json settings;       // attack, norm, unit, steps, step fraction, queries, seed, max ε, bisections, images
  std::string attack;  // its name with its threat model's suffix
  std::int64_t images = 0, attacked = 0, unbroken = 0;
  double max_epsilon = 0, median = 0, low_quartile = 0, high_quartile = 0;  // NaN where the file has null (+∞)
  torch::Tensor radius;  // float64 [images]; undefined when the per-image file is gone
};

RadiusFile read_radius_file(const std::string& file, std::vector<std::string>& missing) {
  json j;
  try {
    j = json::parse(read_file(file, 1 << 26));
  } catch (const json::exception& e) {
    throw FormatError(file, FormatError::kNoOffset, std::string("invalid JSON: ") + e.what());
  }
  const auto fail = [&](const std::string& what) { throw FormatError(file, FormatError::kNoOffset, "not a labelrep radius file: " + what); };
  if (!j.is_object()) fail("not a JSON object");
  const auto number_or_nan = [&](const json& v, const char* what) {
    if (v.is_null()) return std::nan("");
    if (!v.is_number()) fail(fmt::format("'{}' is not a number", what));
    return v.get<double>();
  };
  RadiusFile r;
  r.file = file;
  for (const char* key : {"attack", "per_image"})
    if (!j.contains(key) || !j[key].is_string()) fail(fmt::format("no text '{}'", key));
  for (const char* key : {"max_epsilon", "images", "attacked", "unbroken", "bisections"})
    if (!j.contains(key) || !j[key].is_number()) fail(fmt::format("no number '{}'", key));
  r.images = static_cast<std::int64_t>(labelrep::detail::json_unsigned(j["images"], "images", file));
  r.attacked = static_cast<std::int64_t>(labelrep::detail::json_unsigned(j["attacked"], "attacked", file));
  r.unbroken = static_cast<std::int64_t>(labelrep::detail::json_unsigned(j["unbroken"], "unbroken", file));
  r.max_epsilon = j["max_epsilon"].get<double>();
  r.median = number_or_nan(j.value("median_radius", json()), "median_radius");
  if (!j.contains("quartiles") || !j["quartiles"].is_array() || j["quartiles"].size() != 2) fail("'quartiles' is not a pair");
  r.low_quartile = number_or_nan(j["quartiles"][0], "quartiles");
  r.high_quartile = number_or_nan(j["quartiles"][1], "quartiles");
  const auto threat = threat_model_of(j);
  const auto target_classes = json_count(j, "target_classes", file);
  r.attack = j["attack"].get<std::string>() + threat.suffix() + target_classes_suffix(target_classes);
  for (const char* key : {"attack", "steps", "step_fraction", "queries", "seed", "max_epsilon", "bisections", "images"})
    r.settings[key] = j.contains(key) ? j[key] : json();
  r.settings["target_classes"] = target_classes;  // absent in older files: 0
  r.settings["norm"] = threat.norm;
  r.settings["epsilon_unit"] = threat.unit;
  const fs::path recorded = j["per_image"].get<std::string>();
  const auto path = find_per_image_file(file, recorded);
  if (path.empty()) {
    missing.push_back(fmt::format("{} (its per-image file {} is gone)", file, recorded.string()));
    return r;
  }
  r.radius = read_npy(path);
  if (r.radius.scalar_type() != torch::kDouble || r.radius.dim() != 1 || r.radius.size(0) != r.images ||
      !(r.radius.ge(0) & (r.radius.le(r.max_epsilon) | torch::isinf(r.radius))).all().item<bool>())
    throw FormatError(path, FormatError::kNoOffset,
                      fmt::format("not the radii of {}: expected float64 [{}] in [0, {:g}] or +inf", file, r.images, r.max_epsilon));
  return r;
}

// How far is each image from being broken? The runs' `radius*.json` files (labelrep radius): each image's
// smallest breaking ε under one attack. A table of the medians, one plot per attack of the accuracy at
// every ε the radii give, and each run against the categorical run of its dataset, encoder, level and
// seed on the same images: how many images need a larger ε in one model than in the other (a sign
// test), a comparison that needs no choice of ε.
void write_radius(const std::map<std::string, Group>& groups, const std::string& out_dir, std::ostringstream& html, std::ostringstream& md) {
  std::map<const RunRecord*, std::vector<RadiusFile>> files_of;
  std::vector<std::string> missing;
  std::size_t files = 0;
  for (const auto& [id, g] : groups)
    for (const auto* run : g.runs)
      for (const auto& file : run->radius_files) {
        files_of[run].push_back(read_radius_file(file, missing));
        ++files;
      }
  if (files == 0) return;
  const auto radius_text = [](double v) { return std::isnan(v) ? std::string("not broken") : fmt::format("{:.4g}", v); };
  std::ostringstream table_html, table_md, figures_html, figures_md, paired_html, paired_md;
  // One plot per dataset, encoder and settings: each run's accuracy against ε from its radii.
  struct RadiusPlot {
    std::string caption, file_base;
    analysis::LinePlot plot;
  };
  std::map<std::string, RadiusPlot> plots;
  for (const auto& [id, g] : groups)
    for (const auto* run : g.runs)
      for (const auto& r : files_of[run]) {
        const std::string seed = json::parse(run->config_json).value("seed", json()).dump();
        table_html << fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} [{}, {}]</td><td>{}</td></tr>\n",
                                  analysis::escape_xml(g.dataset + " · " + g.encoder), analysis::escape_xml(group_name(g)), analysis::escape_xml(seed),
                                  analysis::escape_xml(r.attack), r.images, r.attacked, radius_text(r.median), radius_text(r.low_quartile),
                                  radius_text(r.high_quartile), r.unbroken);
        table_md << fmt::format("| {} | {} | {} | {} | {} | {} | {} [{}, {}] | {} |\n", markdown_cell(g.dataset + " · " + g.encoder),
                                markdown_cell(group_name(g)), seed, markdown_cell(r.attack), r.images, r.attacked, radius_text(r.median),
                                radius_text(r.low_quartile), radius_text(r.high_quartile), r.unbroken);
        if (!r.radius.defined() || r.images == 0) continue;
        const std::string key = g.dataset + " · " + g.encoder + ": " + r.attack + " " + r.settings.dump();
        auto it = plots.find(key);
        if (it == plots.end())
          it = plots
                   .emplace(key, RadiusPlot{g.dataset + " · " + g.encoder + ": " + r.attack, safe_name(g.dataset + "_" + g.encoder + "_" + r.attack),
                                            analysis::LinePlot(fmt::format("{} · {}: accuracy from the radii under {}", g.dataset, g.encoder, r.attack),
                                                               fmt::format("ε (up to {:g})", r.max_epsilon), "accuracy")})
                   .first;
        std::vector<double> x, y;
        for (int k = 0; k <= 64; ++k) {
          const double eps = r.max_epsilon * k / 64.0;
          x.push_back(eps);
          y.push_back((r.radius > eps).to(torch::kDouble).mean().item<double>());
        }
        it->second.plot.add_series(group_name(g) + ", seed " + seed, x, y);
      }
  std::size_t plot_number = 0;
  for (auto& [key, named] : plots) {
    const std::string svg = named.plot.svg(560, 340);
    // Numbered: two files of one attack with other settings (largest ε, steps, seed) are two plots.
    const std::string file = fmt::format("radius_{}_{}.svg", ++plot_number, named.file_base);
    write_file_atomically((fs::path(out_dir) / file).string(), svg);
    figures_html << "<figure>" << svg << "<figcaption>" << analysis::escape_xml(named.caption) << "</figcaption></figure>\n";
    figures_md << "![" << named.caption << "](" << file << ")\n\n";
  }
  std::size_t pairs = 0;
  for_each_categorical_pair(groups, [&](const Group& other, const Group& category, const RunRecord& run, const RunRecord& reference,
                                        const std::string& seed) {
    for (const auto& a : files_of[&run])
      for (const auto& b : files_of[&reference]) {
        if (a.settings != b.settings || !a.radius.defined() || !b.radius.defined()) continue;
        const auto larger = (a.radius > b.radius).sum().item<std::int64_t>(), smaller = (a.radius < b.radius).sum().item<std::int64_t>();
        const double p = eval::mcnemar_exact_p_value(larger, smaller);
        const std::string verdict = p >= 0.05 ? "no significant difference" : larger > smaller ? "larger radii" : "smaller radii";
        const std::string pair = other.label_kind + " vs " + category.label_kind;
        paired_html << fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td>"
                                   "<td>{:.2g}</td><td>{}</td></tr>\n",
                                   analysis::escape_xml(other.dataset + " · " + other.encoder), analysis::escape_xml(pair), analysis::escape_xml(seed),
                                   analysis::escape_xml(a.attack), a.images, radius_text(a.median), radius_text(b.median), larger, smaller, p, verdict);
        paired_md << fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} / {} | {:.2g} | {} |\n", markdown_cell(other.dataset + " · " + other.encoder),
                                 markdown_cell(pair), seed, markdown_cell(a.attack), a.images, radius_text(a.median), radius_text(b.median), larger,
                                 smaller, p, verdict);
        ++pairs;
      }
  });
  const char* intro =
      "Each image's robust radius (<code>labelrep radius</code>): the smallest ε, found by bisection, at which the attack breaks it — an "
      "upper bound of how far the image is from the decision boundary. Median and quartiles over the images not broken without attack; "
      "not broken: images the attack leaves correct at its largest ε. The plots give the accuracy at every ε up to that largest one.";
  html << "<h2>How far from being broken? (robust radius)</h2>\n<p>" << intro << "</p>\n"
       << figures_html.str()
       << "<table><tr><th>dataset · encoder</th><th>labels</th><th>seed</th><th>attack</th><th>images</th><th>attacked</th>"
          "<th>median radius [quartiles]</th><th>not broken</th></tr>\n"
       << table_html.str() << "</table>\n";
  std::string intro_md = intro;
  for (const auto& [tag, text] : {std::pair<std::string, std::string>{"<code>", "`"}, {"</code>", "`"}})
    for (auto at = intro_md.find(tag); at != std::string::npos; at = intro_md.find(tag)) intro_md.replace(at, tag.size(), text);
  md << "## How far from being broken? (robust radius)\n\n" << intro_md << "\n\n" << figures_md.str()
     << "| dataset · encoder | labels | seed | attack | images | attacked | median radius [quartiles] | not broken |\n"
        "|---|---|---|---|---|---|---|---|\n"
     << table_md.str() << "\n";
  if (pairs > 0) {
    const char* paired_intro =
        "Against the categorical run of the same dataset, encoder, level and seed, with the same attack and search on the same images: "
        "the images whose radius is larger in this run, and those whose radius is smaller (ties, such as two images broken without "
        "attack, are left out); p: the two-sided sign test on those counts.";
    html << "<p>" << paired_intro << "</p>\n<table><tr><th>dataset · encoder</th><th>labels</th><th>seed</th><th>attack</th><th>images</th>"
         << "<th>median radius</th><th>category's</th><th>larger / smaller</th><th>p</th><th>verdict (p &lt; 0.05)</th></tr>\n"
         << paired_html.str() << "</table>\n";
    md << paired_intro << "\n\n| dataset · encoder | labels | seed | attack | images | median radius | category's | larger / smaller | p | "
          "verdict (p < 0.05) |\n|---|---|---|---|---|---|---|---|---|---|\n"
       << paired_md.str() << "\n";
  }
  for (const auto& m : missing) {
    html << "<p>Left out: " << analysis::escape_xml(m) << "</p>\n";
    md << "Left out: " << markdown_cell(m) << "\n\n";
  }
}

// How faithful the runs' Grad-CAM maps are (`labelrep gradcam --faithfulness`, ROAD): one row per check,
// so that the maps of the speech-label and the categorical model can be trusted, or not, side by side.
void write_faithfulness(const std::vector<RunRecord>& runs, std::ostringstream& html, std::ostringstream& md) {
  bool any = false;
  for (const auto& run : runs) any = any || !run.faithfulness_files.empty();
  if (!any) return;
  html << "<h2>Are the Grad-CAM maps faithful? (ROAD)</h2>\n<p>Pixels removed in the order of each image's map and imputed from their "
          "neighbours (ROAD, <code>labelrep gradcam --faithfulness</code>): the share of images still decoded as their class, averaged "
          "over the removed fractions, with the most relevant pixels first (MoRF; low for a faithful map) and the least relevant first "
          "(LeRF; high), each against the same order by another image's map (the baseline). ROAD combined = mean of (LeRF − MoRF)/2; "
          "beyond the baseline = minus the baseline's, about 0 for a map that knows nothing about the image, with its 95% interval (a "
          "paired bootstrap over the images). Faithful: MoRF below and LeRF above the baseline's, and the interval above 0; not "
          "significant: the areas favour the map, but the interval reaches 0.</p>\n"
          "<table><tr><th>run</th><th>labels</th><th>map</th><th>imputation</th><th>images</th><th>MoRF</th><th>baseline MoRF</th>"
          "<th>LeRF</th><th>baseline LeRF</th><th>ROAD combined</th><th>beyond the baseline</th><th>faithful</th></tr>\n";
  md << "## Are the Grad-CAM maps faithful? (ROAD)\n\nShare of images still decoded as their class, averaged over the removed fractions "
        "(`labelrep gradcam --faithfulness`): most relevant pixels first (MoRF; low for a faithful map) and least relevant first (LeRF; "
        "high), each against the same order by another image's map (the baseline). ROAD combined = mean of (LeRF − MoRF)/2; beyond the "
        "baseline = minus the baseline's, with its 95% interval (a paired bootstrap over the images). Faithful: MoRF below and LeRF above "
        "the baseline's, and the interval above 0; not significant: the areas favour the map, but the interval reaches 0.\n\n"
        "| run | labels | map | imputation | images | MoRF | baseline MoRF | LeRF | baseline LeRF | ROAD combined | beyond the baseline | faithful |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& run : runs) {
    const auto result = json::parse(run.result_json);
    const std::string kind = result["labels"].value("kind", "?");
    for (const auto& file : run.faithfulness_files) {
      json doc;
      try {
        doc = json::parse(read_file(file, 1 << 24));
      } catch (const json::exception& e) {
        throw FormatError(file, FormatError::kNoOffset, std::string("not a ROAD check: ") + e.what());
      }
      const auto fail = [&](const std::string& what) { return FormatError(file, FormatError::kNoOffset, "not a ROAD check: " + what); };
      const auto text = [&](const char* key) {
        if (!doc.contains(key) || !doc[key].is_string()) throw fail(fmt::format("no string '{}'", key));
        return doc[key].get<std::string>();
      };
      const auto area = [&](const char* curve) {
        if (!doc.contains("curves") || !doc["curves"].contains(curve) || !doc["curves"][curve].contains("area") ||
            !doc["curves"][curve]["area"].is_number())
          throw fail(fmt::format("no number curves.{}.area", curve));
        return doc["curves"][curve]["area"].get<double>();
      };
      const auto number = [&](const char* key) {
        if (!doc.contains(key) || !doc[key].is_number()) throw fail(fmt::format("no number '{}'", key));
        return doc[key].get<double>();
      };
      if (!doc.contains("beats_baseline") || !doc["beats_baseline"].is_boolean()) throw fail("no true/false 'beats_baseline'");
      const auto images = labelrep::detail::json_unsigned(doc.contains("images") ? doc["images"] : json(), "images", file);
      const std::string layer = text("layer");
      const std::string map = fmt::format("{} of the {}, {}", text("method"), text("score"), layer.empty() ? "last stage" : layer);
      const std::string imputation = text("imputation");
      const double morf = area("most_relevant_first"), lerf = area("least_relevant_first");
      const double baseline_morf = area("baseline_most_relevant_first"), baseline_lerf = area("baseline_least_relevant_first");
      const double combined = number("road_combined"), beyond = number("combined_beyond_baseline");
      const bool beats = doc["beats_baseline"].get<bool>();
      // The gap's interval and the verdict on it: checks written before labelrep had them show the gap alone.
      std::string gap = fmt::format("{:.3f}", beyond);
      bool significant = beats;
      if (doc.contains("combined_beyond_baseline_ci95")) {
        const auto& ci = doc["combined_beyond_baseline_ci95"];
        if (!ci.is_array() || ci.size() != 2 || !ci[0].is_number() || !ci[1].is_number())
          throw fail("'combined_beyond_baseline_ci95' is not a pair of numbers");
        gap += fmt::format(" [{:.3f}, {:.3f}]", ci[0].get<double>(), ci[1].get<double>());
        if (!doc.contains("significantly_beats_baseline") || !doc["significantly_beats_baseline"].is_boolean())
          throw fail("no true/false 'significantly_beats_baseline' beside the interval");
        significant = doc["significantly_beats_baseline"].get<bool>();
      }
      const char* verdict_html = significant ? "yes" : beats ? "<strong>not significant</strong>" : "<strong>no</strong>";
      const char* verdict_md = significant ? "yes" : beats ? "**not significant**" : "**no**";
      html << fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3f}</td><td>{:.3f}</td><td>{:.3f}</td><td>{:.3f}</td>"
                          "<td>{:.3f}</td><td>{}</td><td>{}</td></tr>\n",
                          analysis::escape_xml(run.directory), analysis::escape_xml(kind), analysis::escape_xml(map), analysis::escape_xml(imputation),
                          images, morf, baseline_morf, lerf, baseline_lerf, combined, gap, verdict_html);
      md << fmt::format("| {} | {} | {} | {} | {} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {} | {} |\n", markdown_cell(run.directory),
                        markdown_cell(kind), markdown_cell(map), markdown_cell(imputation), images, morf, baseline_morf, lerf, baseline_lerf,
                        combined, gap, verdict_md);
    }
  }
  html << "</table>\n";
  md << "\n";
}

// The t-SNE, Grad-CAM and other figures the runs keep in figures/: inline in the HTML (at most
// kMaxPictures PNGs per run, to keep the page light), copied under out_dir/runs/ for the Markdown.
void write_run_figures(const std::vector<RunRecord>& runs, const std::string& root, const std::string& out_dir, std::ostringstream& html,
                       std::ostringstream& md) {
  constexpr std::size_t kMaxPictures = 24;
  bool any = false;
  for (const auto& run : runs) any = any || !run.figure_files.empty();
  if (!any) return;
  html << "<h2>Figures from the runs (t-SNE, Grad-CAM)</h2>\n<p>The SVG and PNG files in each run's <code>figures/</code> "
          "(<code>labelrep tsne --run RUN</code>, <code>labelrep gradcam --run RUN</code>).</p>\n";
  md << "## Figures from the runs (t-SNE, Grad-CAM)\n\n";
  for (const auto& run : runs) {
    if (run.figure_files.empty()) continue;
    const auto result = json::parse(run.result_json);
    const auto config = json::parse(run.config_json);
    const std::string heading = fmt::format("{} ({} labels, {}, seed {})", run.directory, result["labels"].value("kind", "?"),
                                            str(config, "encoder", "?"), config.value("seed", 0));
    html << "<h3>" << analysis::escape_xml(heading) << "</h3>\n";
    md << "### " << heading << "\n\n";
    const fs::path copy_dir = fs::path(out_dir) / "runs" / safe_name(fs::relative(run.directory, root).string());
    std::size_t pictures = 0;
    for (const auto& file : run.figure_files) {
      const auto relative = fs::relative(file, fs::path(run.directory) / "figures");
      const auto copy = copy_dir / relative;
      fs::create_directories(copy.parent_path());
      const std::string bytes = read_file(file, 1 << 26);
      const bool svg = fs::path(file).extension() == ".svg";
      if (!svg && ++pictures > kMaxPictures) continue;
      write_file_atomically(copy.string(), bytes);
      const std::string caption = analysis::escape_xml(relative.string());
      if (svg) {
        html << "<figure>" << bytes << "<figcaption>" << caption << "</figcaption></figure>\n";
      } else {
        html << fmt::format("<figure><img alt=\"{}\" src=\"data:image/png;base64,{}\" width=\"160\"><figcaption>{}</figcaption></figure>\n", caption,
                            base64(bytes), caption);
      }
      md << "![" << relative.string() << "](" << fs::relative(copy, out_dir).string() << ")\n";
    }
    if (pictures > kMaxPictures) html << fmt::format("<p>… and {} more pictures in {}</p>\n", pictures - kMaxPictures, analysis::escape_xml(run.directory));
    md << "\n";
  }
}

}  // namespace

std::vector<RunRecord> find_runs(const std::string& root) try {
  if (!fs::is_directory(root)) throw IoError(root, "runs directory not found");
  std::vector<std::string> candidates;
  if (fs::exists(fs::path(root) / "result.json")) candidates.push_back(root);
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    // depth() 0 is one level below the root: entries at depth 2 (three levels below) are the deepest looked at.
    if (it.depth() >= 2) it.disable_recursion_pending();
    if (it->is_directory() && fs::exists(it->path() / "result.json")) candidates.push_back(it->path().string());
  }
  std::sort(candidates.begin(), candidates.end());
  std::vector<RunRecord> runs;
  for (const auto& dir : candidates) {
    RunRecord r;
    r.directory = dir;
    const auto run = train::RunDirectory::open_read_only(dir);
    r.result_json = run.read_result();
    json result;
    try {
      result = json::parse(r.result_json);
      // Every field the report reads, with its type: a result.json edited by hand or by another tool is
      // named here rather than failing later in the middle of a table.
      const auto want = [&](bool ok, const std::string& what) {
        if (!ok) throw FormatError(run.file("result.json"), FormatError::kNoOffset, "not a labelrep result: " + what);
      };
      want(result.is_object() && result.contains("config") && result["config"].is_object(), "no \"config\" object");
      want(result.contains("labels") && result["labels"].is_object(), "no \"labels\" object");
      want(!result["labels"].contains("kind") || result["labels"]["kind"].is_string(), "\"labels\".\"kind\" is not a string");
      want(result.contains("test") && result["test"].is_object() && result["test"].contains("accuracy") && result["test"]["accuracy"].is_number(),
           "no number \"test\".\"accuracy\"");
      want(!result["test"].contains("threshold_accuracy") || result["test"]["threshold_accuracy"].is_number(),
           "\"test\".\"threshold_accuracy\" is not a number");
      // Accuracies are fractions; a value outside [0, 1] would be tabulated as, say, 750 %.
      const auto fraction = [](const json& v) { return v.get<double>() >= 0 && v.get<double>() <= 1; };
      want(fraction(result["test"]["accuracy"]), "\"test\".\"accuracy\" is not in [0, 1]");
      want(!result["test"].contains("threshold_accuracy") || fraction(result["test"]["threshold_accuracy"]),
           "\"test\".\"threshold_accuracy\" is not in [0, 1]");
      const auto& config = result["config"];
      for (const char* key : {"level", "seed", "label_size", "label_smoothing", "label_seed"})
        want(!config.contains(key) || config[key].is_number(), fmt::format("\"config\".\"{}\" is not a number", key));
      for (const char* key : {"standardize_labels", "mirror_evaluation"})
        want(!config.contains(key) || config[key].is_boolean(), fmt::format("\"config\".\"{}\" is not true or false", key));
      r.config_json = config.dump();
    } catch (const json::exception& e) {
      throw FormatError(run.file("result.json"), FormatError::kNoOffset, std::string("not a labelrep result: ") + e.what());
    }
    for (const auto& row : run.metrics())
      if (row.count("epoch") && row.count("validation_accuracy")) r.validation_curve.emplace_back(row.at("epoch"), row.at("validation_accuracy"));
    for (const auto& entry : fs::directory_iterator(dir)) {
      const auto name = entry.path().filename().string();
      if (entry.is_regular_file() && name.rfind("attack", 0) == 0 && entry.path().extension() == ".json") r.attack_files.push_back(entry.path().string());
    }
    std::sort(r.attack_files.begin(), r.attack_files.end());
    for (const auto& entry : fs::directory_iterator(dir)) {
      const auto name = entry.path().filename().string();
      if (entry.is_regular_file() && name.rfind("radius", 0) == 0 && entry.path().extension() == ".json")
        r.radius_files.push_back(entry.path().string());
    }
    std::sort(r.radius_files.begin(), r.radius_files.end());
    const auto figures = fs::path(dir) / "figures";
    if (fs::is_directory(figures)) {
      for (auto it = fs::recursive_directory_iterator(figures); it != fs::recursive_directory_iterator(); ++it) {
        if (it.depth() >= 2) it.disable_recursion_pending();
        const auto ext = it->path().extension().string();
        if (it->is_regular_file() && (ext == ".svg" || ext == ".png")) r.figure_files.push_back(it->path().string());
        if (it.depth() == 0 && it->is_regular_file() && ext == ".json" && it->path().filename().string().rfind("gradcam_faithfulness", 0) == 0)
          r.faithfulness_files.push_back(it->path().string());
      }
      std::sort(r.figure_files.begin(), r.figure_files.end());
      std::sort(r.faithfulness_files.begin(), r.faithfulness_files.end());
    }
    runs.push_back(std::move(r));
  }
  return runs;
} catch (const fs::filesystem_error& e) {  // a folder below the root that cannot be listed
  throw IoError(e.path1().string(), fmt::format("find_runs: cannot read it: {}", e.code().message()));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("find_runs");
}

std::size_t write_report(const std::string& root, const std::string& out_dir, const ReportOptions& options) try {
  const auto runs = find_runs(root);
  if (runs.empty()) throw InvalidArgument(fmt::format("no finished runs (directories with result.json) under {}", root));
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw IoError(out_dir, "cannot create the report directory: " + ec.message());

  // Group by everything but the seed: dataset, encoder, label and level name a row; any other field of
  // the configuration that differs (epochs, label size, smoothing, learning rate, ...) makes another
  // experiment, never another seed of the same one.
  const auto row_of = [](const json& config) {
    return fmt::format("{}|{}|{}|{:g}|{}|{}", str(config, "dataset", "?"), str(config, "encoder", "?"), str(config, "label", "?"),
                       config.value("level", 100.0), config.value("standardize_labels", false), config.value("mirror_evaluation", false));
  };
  const auto recipe_of = [](const json& config) {
    json recipe = json::object();
    for (const auto& [key, value] : config.items())
      if (!train::ExperimentConfig::is_execution_field(key) && !train::ExperimentConfig::is_recorded_field(key) &&
          std::find(std::begin(kRowFields), std::end(kRowFields), key) == std::end(kRowFields))
        recipe[key] = value;
    return recipe;
  };
  std::map<std::string, std::vector<json>> recipes_of;  // row -> the distinct recipes of its runs
  for (const auto& run : runs) {
    const auto config = json::parse(run.config_json);
    auto& recipes = recipes_of[row_of(config)];
    const auto recipe = recipe_of(config);
    if (std::find(recipes.begin(), recipes.end(), recipe) == recipes.end()) recipes.push_back(recipe);
  }
  std::map<std::string, Group> groups;
  for (const auto& run : runs) {
    const auto config = json::parse(run.config_json);
    const auto result = json::parse(run.result_json);
    Group key;
    key.dataset = str(config, "dataset", "?");
    key.encoder = str(config, "encoder", "?");
    key.label = str(config, "label", "?");
    key.label_kind = result.at("labels").value("kind", key.label);
    // Standardized regression is another method on the same labels: its own group and name.
    if (config.value("standardize_labels", false)) {
      key.label += " (standardized)";
      key.label_kind += " (standardized)";
    }
    // Mirror-averaged evaluation measures another protocol than the paper's single view.
    if (config.value("mirror_evaluation", false)) {
      key.label += " (mirror-evaluated)";
      key.label_kind += " (mirror-evaluated)";
    }
    key.level = config.value("level", 100.0);
    key.categorical = result.at("labels").value("categorical", result.at("labels").value("kind", "") == "category");
    key.mirror_evaluation = config.value("mirror_evaluation", false);
    const json recipe = recipe_of(config);
    if (const auto& recipes = recipes_of.at(row_of(config)); recipes.size() > 1) {
      // Name what tells this recipe apart from the others of its row: the fields whose values are not
      // the same in all of them (a field a recipe lacks counts as unset).
      const auto value_in = [](const json& r, const std::string& field) { return r.contains(field) ? r[field] : json(); };
      std::set<std::string> fields;
      for (const auto& r : recipes)
        for (const auto& [field, value] : r.items()) fields.insert(field);
      std::vector<std::string> differences;
      for (const auto& field : fields) {
        const json mine = value_in(recipe, field);
        if (std::any_of(recipes.begin(), recipes.end(), [&](const json& r) { return value_in(r, field) != mine; }))
          differences.push_back(mine.is_null() ? field + " (unset)" : field + " " + mine.dump());
      }
      const std::string suffix = fmt::format(" [{}]", fmt::join(differences, ", "));
      key.label += suffix;
      key.label_kind += suffix;
    }
    const std::string id = fmt::format("{}|{}|{}|{:g}|{}", key.dataset, key.encoder, key.label, key.level, recipe.dump());
    auto& g = groups.emplace(id, key).first->second;
    g.runs.push_back(&run);
    g.accuracy.push_back(result["test"]["accuracy"].get<double>());
    if (result["test"].contains("threshold_accuracy")) g.threshold_accuracy.push_back(result["test"]["threshold_accuracy"].get<double>());
  }

  std::ostringstream html, md;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" << analysis::escape_xml(options.title)
       << "</title>\n<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
          "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}"
          "th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}img{image-rendering:pixelated;max-width:100%}"
          "figure{display:inline-block;margin:0 1em 1em 0}pre{background:#f8f8f8;padding:8px;overflow-x:auto}</style></head><body>\n";
  html << "<h1>" << analysis::escape_xml(options.title) << "</h1>\n<p>" << runs.size() << " finished run(s) under <code>"
       << analysis::escape_xml(root) << "</code>.</p>\n";
  md << "# " << options.title << "\n\n" << runs.size() << " finished run(s) under `" << root << "`.\n\n";

  // Table 1 form.
  html << "<h2>Test accuracy (Table 1 form)</h2>\n<p>Nearest-label accuracy (argmax for categorical labels) and threshold "
          "accuracy (mean smooth-L1 to the true label below the threshold), in percent, mean ± std over seeds.</p>\n"
          "<table><tr><th>dataset</th><th>encoder</th><th>label</th><th>data level %</th><th>seeds</th><th>accuracy</th>"
          "<th>threshold accuracy</th></tr>\n";
  md << "## Test accuracy (Table 1 form)\n\nPercent, mean ± std over seeds.\n\n| dataset | encoder | label | data level % | seeds | "
        "accuracy | threshold accuracy |\n|---|---|---|---|---|---|---|\n";
  for (const auto& [id, g] : groups) {
    const auto a = stat(g.accuracy), t = stat(g.threshold_accuracy);
    html << fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{:g}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                        analysis::escape_xml(g.dataset), analysis::escape_xml(g.encoder), analysis::escape_xml(g.label_kind), g.level,
                        g.runs.size(), percent(a), percent(t));
    md << fmt::format("| {} | {} | {} | {:g} | {} | {} | {} |\n", g.dataset, g.encoder, g.label_kind, g.level, g.runs.size(), percent(a),
                      percent(t));
  }
  html << "</table>\n";
  md << "\n";

  write_paired_accuracy(groups, html, md);
  const Sweeps sweeps = read_sweeps(groups);
  write_robustness(groups, sweeps, out_dir, html, md);
  write_paired_robustness(groups, sweeps, out_dir, html, md);
  write_radius(groups, out_dir, html, md);

  // Accuracy against data level (Figure 4 form) when there are several levels.
  std::map<std::string, std::map<double, std::vector<double>>> by_level;  // label -> level -> accuracies
  for (const auto& [id, g] : groups)
    for (double acc : g.accuracy) by_level[g.dataset + " " + g.encoder + " " + g.label_kind][g.level].push_back(acc);
  bool several_levels = false;
  for (const auto& [name, levels] : by_level) several_levels = several_levels || levels.size() > 1;
  if (several_levels) {
    analysis::LinePlot plot("Test accuracy against data level", "data level (% of the training pool)", "test accuracy");
    for (const auto& [name, levels] : by_level) {
      std::vector<double> x, y, e;
      for (const auto& [level, accs] : levels) {
        const auto s = stat(accs);
        x.push_back(level), y.push_back(s.mean), e.push_back(s.std);
      }
      plot.add_series(name, x, y, e);
    }
    const std::string svg = plot.svg(760, 420);
    write_file_atomically((fs::path(out_dir) / "data_efficiency.svg").string(), svg);
    html << "<h2>Data efficiency (Figure 4 form)</h2>\n" << svg;
    md << "## Data efficiency (Figure 4 form)\n\n![accuracy against data level](data_efficiency.svg)\n\n";
  }

  // Validation curves per dataset and encoder.
  std::map<std::string, std::vector<const RunRecord*>> by_setting;
  for (const auto& run : runs) {
    const auto config = json::parse(run.config_json);
    by_setting[str(config, "dataset") + " · " + str(config, "encoder")].push_back(&run);
  }
  // Runs without a validation set (--validation 0) have no curve; a report of only such runs has no section.
  const bool any_curve = std::any_of(runs.begin(), runs.end(), [](const RunRecord& run) { return !run.validation_curve.empty(); });
  if (any_curve) {
    html << "<h2>Validation accuracy during training</h2>\n";
    md << "## Validation accuracy during training\n\n";
  }
  for (const auto& [setting, members] : by_setting) {
    analysis::LinePlot plot("Validation accuracy: " + setting, "epoch", "validation accuracy");
    for (const auto* run : members) {
      if (run->validation_curve.empty()) continue;
      const auto config = json::parse(run->config_json);
      const auto result = json::parse(run->result_json);
      std::vector<double> x, y;
      for (const auto& [epoch, acc] : run->validation_curve) x.push_back(epoch), y.push_back(acc);
      plot.add_series(fmt::format("{} s{} {:g}%", result["labels"].value("kind", "?"), config.value("seed", 0), config.value("level", 100.0)), x, y);
    }
    try {
      const std::string svg = plot.svg(760, 400);
      const std::string file = "curves_" + safe_name(setting) + ".svg";
      write_file_atomically((fs::path(out_dir) / file).string(), svg);
      html << svg;
      md << "![" << setting << "](" << file << ")\n\n";
    } catch (const InvalidArgument&) {  // no run of this setting has metrics
    }
  }

  // Labels: Table 2 form and pictures (Figure 1).
  if (options.label_sections) {
    std::map<std::string, std::pair<std::string, json>> label_sets;  // label -> (dataset, a config using it)
    std::map<std::string, std::string> label_files;                  // label -> a run's labels.npy
    for (const auto& run : runs) {
      const auto config = json::parse(run.config_json);
      // Smoothed category labels, and random kinds drawn with another label seed, are label sets of their own.
      const std::string id = str(config, "dataset") + "|" + str(config, "label") + "|" + std::to_string(config.value("label_size", 64)) +
                             "|" + std::to_string(config.value("label_smoothing", 0.0)) + "|" + label_seed_text(config);
      label_sets.emplace(id, std::make_pair(str(config, "dataset"), config));
      const auto saved = fs::path(run.directory) / "labels.npy";
      if (fs::exists(saved)) label_files.emplace(id, saved.string());
    }
    html << "<h2>Label statistics (Table 2 form) and label pictures (Figure 1)</h2>\n<table><tr><th>dataset</th><th>label</th>"
            "<th>shape</th><th>entropy (bits)</th><th>L1</th><th>L2</th></tr>\n";
    md << "## Label statistics (Table 2 form)\n\n| dataset | label | shape | entropy (bits) | L1 | L2 |\n|---|---|---|---|---|---|\n";
    std::ostringstream pictures_html, pictures_md;
    std::set<std::string> names_used;
    for (const auto& [id, entry] : label_sets) {
      const auto& [dataset, config] = entry;
      labels::LabelSpec spec;
      spec.kind = str(config, "label");
      spec.size = config.value("label_size", 64);
      spec.smoothing = config.value("label_smoothing", 0.0);
      if (config.contains("label_seed") && config["label_seed"].is_number_unsigned())
        spec.has_seed = true, spec.seed = config["label_seed"].get<std::uint64_t>();
      std::shared_ptr<const labels::LabelRepresentation> set;
      std::string statistics_kind, name;
      try {
        // The label set a run trained on (labels.npy) where it kept one, else made again from its spec.
        if (const auto file = label_files.find(id); file != label_files.end()) {
          set = std::make_shared<const labels::FileLabels>(file->second);
        } else {
          spec.class_names = dataset_class_names(dataset);
          set = labels::make_labels(spec);
        }
        // A run trained on a label file records the kind "file": its statistics take the convention of the
        // kind the file's sidecar or name says (cifar10_speech.npy: speech), as `labelrep stats` does, and
        // it is named by its file, so that two label files keep two rows and two sets of pictures.
        statistics_kind = set->name();
        name = set->name();
        if (statistics_kind == "file") {
          statistics_kind = labels::label_kind_of_file(spec.kind);
          name = fmt::format("{} ({})", fs::path(spec.kind).filename().string(), statistics_kind);
        }
      } catch (const Error& e) {  // e.g. a label file that has moved or been damaged: say so in both reports
        html << fmt::format("<tr><td>{}</td><td>{}</td><td colspan=\"4\">not available: {}</td></tr>\n", analysis::escape_xml(dataset),
                            analysis::escape_xml(spec.kind), analysis::escape_xml(e.what()));
        md << fmt::format("| {} | {} | not available: {} | | | |\n", dataset, spec.kind, e.what());
        continue;
      }
      const auto stats = labels::label_statistics(set->matrix(), labels::paper_statistics_options(statistics_kind));
      std::string shape;
      for (auto d : set->label_shape()) shape += (shape.empty() ? "" : "×") + std::to_string(d);
      // Two sets of one kind (composite 16×16 and 32×32, smoothed categories, other label seeds) keep two
      // names and two folders.
      if (!names_used.insert(dataset + "|" + name).second) {
        name += " " + shape;
        if (spec.smoothing != 0) name += fmt::format(" smoothing {:g}", spec.smoothing);
        if (config.contains("label_seed")) name += " label seed " + label_seed_text(config);
        names_used.insert(dataset + "|" + name);
      }
      html << fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2f} ± {:.2f}</td><td>{:.2f} ± {:.2f}</td><td>{:.2f} ± {:.2f}</td></tr>\n",
                          analysis::escape_xml(dataset), analysis::escape_xml(name), shape, stats.entropy.mean, stats.entropy.std,
                          stats.l1.mean, stats.l1.std, stats.l2.mean, stats.l2.std);
      md << fmt::format("| {} | {} | {} | {:.2f} ± {:.2f} | {:.2f} ± {:.2f} | {:.2f} ± {:.2f} |\n", dataset, name, shape,
                        stats.entropy.mean, stats.entropy.std, stats.l1.mean, stats.l1.std, stats.l2.mean, stats.l2.std);
      const std::string dir = (fs::path(out_dir) / ("labels_" + safe_name(dataset + "_" + name))).string();
      const auto files = labels::write_label_images(*set, dir);
      const std::string overview = files.back();
      pictures_html << fmt::format("<figure><img alt=\"{} labels\" src=\"data:image/png;base64,{}\"><figcaption>{}: {}</figcaption></figure>\n",
                                   analysis::escape_xml(name), base64(read_file(overview)), analysis::escape_xml(dataset),
                                   analysis::escape_xml(name));
      pictures_md << fmt::format("**{}: {}**\n\n![{}]({})\n\n", dataset, name, name,
                                 fs::relative(overview, out_dir).string());
    }
    html << "</table>\n<p>Conventions as the paper (docs/labels.md): per-label normalisation with matrix L1 and Frobenius L2 for "
            "speech, shuffle and composite labels; global normalisation with spectral L2 otherwise.</p>\n"
         << pictures_html.str();
    md << "\n" << pictures_md.str();
  }

  write_faithfulness(runs, html, md);
  write_run_figures(runs, root, out_dir, html, md);

  // Every run's configuration.
  html << "<h2>Runs</h2>\n";
  md << "## Runs\n\n";
  for (const auto& run : runs) {
    const auto result = json::parse(run.result_json);
    html << fmt::format("<details><summary><code>{}</code>: accuracy {:.2f}%</summary><pre>{}</pre></details>\n",
                        analysis::escape_xml(run.directory), 100 * result["test"]["accuracy"].get<double>(),
                        analysis::escape_xml(json::parse(run.config_json).dump(2)));
    md << fmt::format("- `{}`: accuracy {:.2f}%, config `{}`\n", run.directory, 100 * result["test"]["accuracy"].get<double>(), run.config_json);
  }
  html << "</body></html>\n";
  write_file_atomically((fs::path(out_dir) / "index.html").string(), html.str());
  write_file_atomically((fs::path(out_dir) / "report.md").string(), md.str());
  return runs.size();
} catch (const fs::filesystem_error& e) {
  throw IoError(e.path1().string(), fmt::format("write_report: cannot read it: {}", e.code().message()));
} catch (...) {
  labelrep::detail::rethrow_as_labelrep_error("write_report");
}

}  // namespace labelrep::report
