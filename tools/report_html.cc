#include "report_html.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "report_page_js.h"  // generated from tools/report_page.js (CMakeLists.txt)
#include "svg_plot.h"

namespace murmur::cli {
namespace {

// Text placed inside <script> or <style> must not close the element early:
// "</script" or "</style" (any case) becomes "<\/...", which means the same in
// a JS string, regex or JSON. Other "</" (as in the regex /</g) stay.
std::string ScriptSafe(std::string s) {
  for (size_t at = 0; (at = s.find("</", at)) != std::string::npos; at += 2) {
    std::string next = s.substr(at + 2, 6);
    for (char& c : next) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (next == "script" || next.rfind("style", 0) == 0) s.replace(at, 2, "<\\/");
  }
  return s;
}

Result<std::string> ReadDygraphsFile(const std::string& name) {
  const std::string path = DygraphsDir() + "/" + name;
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in || text.str().empty()) {
    return Status::NotFound("cannot read '", path, "': install the Debian package libjs-dygraphs ",
                            "(scripts/install_deps.sh), or point MURMUR_DYGRAPHS_DIR at a folder ",
                            "holding dygraph.min.js and dygraph.min.css");
  }
  std::string s = text.str();
  // The source map is not inlined, so the pointer to it goes too.
  if (size_t map = s.rfind("//# sourceMappingURL="); map != std::string::npos) s.erase(map);
  if (size_t map = s.rfind("/*# sourceMappingURL="); map != std::string::npos) s.erase(map);
  return s;
}

nlohmann::json Series(const std::vector<double>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (double x : v) a.push_back(std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr));
  return a;
}

constexpr const char* kStyle = R"CSS(
body { font-family: sans-serif; margin: 16px 24px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.panel { margin: 18px 0 26px; max-width: 1100px; }
.controls { font-size: 13px; margin-bottom: 6px; }
.controls label { margin: 0 10px; }
.controls select { margin-right: 8px; }
.chart { width: 100%; height: 380px; }
.hover { font-size: 12px; min-height: 16px; margin: 4px 0; }
.legend { font-size: 13px; display: flex; flex-wrap: wrap; gap: 4px 18px; }
.swatch { display: inline-block; width: 22px; height: 0; margin: 0 6px 3px 0;
          vertical-align: middle; }
#murmur-errors { display: none; white-space: pre-wrap; color: #a00; border: 2px solid #a00;
                 padding: 8px; }
.note { font-size: 12px; color: #555; max-width: 1100px; }
)CSS";

}  // namespace

std::string ReportColor(size_t group) {
  static constexpr const char* kTab10[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                           "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                           "#bcbd22", "#17becf"};
  return kTab10[group % std::size(kTab10)];
}

std::string DygraphsDir() {
  const char* env = std::getenv("MURMUR_DYGRAPHS_DIR");
  return env != nullptr && *env != '\0' ? env : "/usr/share/javascript/dygraphs";
}

nlohmann::json ReportJson(const std::vector<RunRecord>& runs, const std::vector<RunGroup>& groups,
                          const PlotView& view) {
  nlohmann::json j;
  j["metrics"] = MetricNames();
  j["view"] = {{"metric", view.metric}, {"x", view.x},       {"log_x", view.log_x},
               {"log_y", view.log_y},   {"band", view.band}};
  j["groups"] = nlohmann::json::array();
  for (size_t g = 0; g < groups.size(); ++g) {
    const GroupCurve curve = AggregateGroup(runs, groups[g]);
    nlohmann::json group = {{"label", groups[g].label},
                            {"color", ReportColor(g)},
                            {"seeds", groups[g].runs.size()},
                            {"round", curve.round},
                            {"time", Series(curve.time_s)},
                            {"mb", Series(curve.mb)}};
    for (const std::string& m : MetricNames()) {
      std::vector<double> mean, ci;
      for (const SeedStats& s : curve.stats.at(m)) mean.push_back(s.mean), ci.push_back(s.half_width);
      group["metrics"][m] = {{"mean", Series(mean)},
                             {"ci", Series(ci)},
                             {"min", Series(curve.min.at(m))},
                             {"max", Series(curve.max.at(m))}};
    }
    j["groups"].push_back(std::move(group));
  }
  j["runs"] = nlohmann::json::array();
  for (size_t g = 0; g < groups.size(); ++g) {
    for (size_t i : groups[g].runs) {
      const RunRecord& run = runs[i];
      nlohmann::json r = {{"name", run.name}, {"group", g}, {"seed", run.seed},
                          {"ended_by", run.ended_by}};
      std::vector<double> round, time, mb;
      for (const EvalRow& row : run.rows) {
        round.push_back(AxisValue(row, Axis::kRound));
        time.push_back(row.time_s);
        mb.push_back(AxisValue(row, Axis::kMb));
      }
      r["round"] = Series(round), r["time"] = Series(time), r["mb"] = Series(mb);
      for (const std::string& m : MetricNames()) {
        std::vector<double> v;
        for (const EvalRow& row : run.rows) v.push_back(MetricValue(row, m));
        r["metrics"][m] = Series(v);
      }
      j["runs"].push_back(std::move(r));
    }
  }
  return j;
}

Result<std::string> ReportHtml(const std::string& title, const std::string& table_html,
                               const nlohmann::json& data) {
  MURMUR_ASSIGN_OR_RETURN(std::string script, ReadDygraphsFile("dygraph.min.js"));
  MURMUR_ASSIGN_OR_RETURN(std::string css, ReadDygraphsFile("dygraph.min.css"));
  nlohmann::json page_data = data;
  page_data["title"] = title;
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>"
       << MarkupEscape(title) << "</title>\n<style>\n"
       << ScriptSafe(css) << "\n" << kStyle << "</style>\n<script>\n"
       << ScriptSafe(script) << "\n</script>\n</head>\n<body>\n<h1>" << MarkupEscape(title)
       << "</h1>\n<div id=\"murmur-errors\"></div>\n" << table_html
       << "<p class=\"note\">Each group is the runs that differ only in their seed: figures "
          "are the mean over its seeds, ± the half width of the 95% interval (Student's t). "
          "\"acc @ X\" is each run's mean accuracy at its last evaluation at or before X MB "
          "sent or X virtual seconds. Bands: min-max over a group's seeds, its 95% "
          "interval, or the spread between the worst and best peer (mean over seeds). "
          "Hover a chart for values; drag to zoom, double-click to reset.</p>\n"
       << "<div id=\"panels\"></div>\n<button id=\"add\">add a chart</button>\n"
       << "<p id=\"murmur-status\" class=\"note\"></p>\n"
       << "<script type=\"application/json\" id=\"murmur-data\">"
       << ScriptSafe(page_data.dump()) << "</script>\n<script>\n"
       << ScriptSafe(kReportPageJs) << "\n</script>\n</body>\n</html>\n";
  return html.str();
}

}  // namespace murmur::cli
