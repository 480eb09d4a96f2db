#include "report_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace murmur::cli {
namespace {

std::string Printf(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// "0.8123 ± 0.0040" (no interval from one seed or for a column without
// one: "0.8123"); "-" for no value.
std::string MeanText(const SeedStats& s, const char* format, bool interval) {
  if (s.n == 0 || !std::isfinite(s.mean)) return "-";
  std::string text = Printf(format, s.mean);
  if (interval && s.n >= 2) text += " ± " + Printf(format, s.half_width);
  return text;
}

std::string CsvNumber(double v) { return std::isfinite(v) ? Printf("%.10g", v) : ""; }

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

struct Column {
  std::string header;      // text and Markdown
  std::string csv_header;  // CSV: the mean; "<csv_header>_ci95" the half width
  bool interval = false;   // shown with "± half width"; CSV gets a half-width column
  std::vector<SeedStats> values;
  const char* format = "%.4f";
  std::vector<std::string> texts;  // overrides values (group, seeds)
};

std::vector<Column> Columns(const std::vector<RunGroup>& groups,
                            const std::vector<GroupSummary>& summaries,
                            const ReportPoints& points) {
  std::vector<Column> cols;
  Column group{.header = "group", .csv_header = "group"};
  Column seeds{.header = "seeds", .csv_header = "seeds"};
  for (size_t g = 0; g < groups.size(); ++g) {
    group.texts.push_back(groups[g].label);
    seeds.texts.push_back(std::to_string(summaries[g].final_acc.n));
  }
  cols.push_back(group);
  cols.push_back(seeds);
  auto add = [&](std::string header, std::string csv, bool interval, const char* format,
                 auto pick) {
    Column c{.header = std::move(header), .csv_header = std::move(csv), .interval = interval,
             .format = format};
    for (const GroupSummary& s : summaries) c.values.push_back(pick(s));
    cols.push_back(std::move(c));
  };
  add("final acc", "acc_mean", true, "%.4f", [](const GroupSummary& s) { return s.final_acc; });
  add("acc min", "acc_min", false, "%.4f", [](const GroupSummary& s) { return s.final_acc_min; });
  add("MB sent", "mb_sent", false, "%.2f", [](const GroupSummary& s) { return s.mb_sent; });
  add("virtual s", "virtual_s", false, "%.2f", [](const GroupSummary& s) { return s.virtual_s; });
  for (size_t k = 0; k < points.mb.size(); ++k) {
    const std::string at = Printf("%g", points.mb[k]);
    add("acc @ " + at + " MB", "acc_at_" + at + "mb", true, "%.4f",
        [k](const GroupSummary& s) { return s.at_mb[k]; });
  }
  for (size_t k = 0; k < points.time_s.size(); ++k) {
    const std::string at = Printf("%g", points.time_s[k]);
    add("acc @ " + at + " s", "acc_at_" + at + "s", true, "%.4f",
        [k](const GroupSummary& s) { return s.at_time[k]; });
  }
  const bool targets = std::any_of(summaries.begin(), summaries.end(), [](const GroupSummary& s) {
    return s.target_runs > 0;
  });
  if (targets) {
    add("s to target", "s_to_target", true, "%.2f",
        [](const GroupSummary& s) { return s.time_to_target; });
    add("MB to target", "mb_to_target", true, "%.2f",
        [](const GroupSummary& s) { return s.mb_to_target; });
    Column reached{.header = "reached", .csv_header = "reached_target"};
    for (const GroupSummary& s : summaries) {
      reached.texts.push_back(std::to_string(s.time_to_target.n) + "/" +
                              std::to_string(s.target_runs));
    }
    cols.push_back(reached);
  }
  return cols;
}

std::string HtmlText(const std::string& s) {
  std::string out;
  for (char c : s) {
    out += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  }
  return out;
}

// A Markdown cell: '|' would end it.
std::string MarkdownText(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

std::string Text(const Column& c, size_t row) {
  return c.texts.empty() ? MeanText(c.values[row], c.format, c.interval) : c.texts[row];
}

// Display width: "±" is two bytes in UTF-8 and one column.
size_t Width(const std::string& s) {
  size_t w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80;
  return w;
}

std::string Pad(const std::string& s, size_t width, bool left) {
  const std::string fill(width > Width(s) ? width - Width(s) : 0, ' ');
  return left ? s + fill : fill + s;
}

}  // namespace

std::string FormatTable(TableFormat format, const std::vector<RunGroup>& groups,
                        const std::vector<GroupSummary>& summaries, const ReportPoints& points) {
  const std::vector<Column> cols = Columns(groups, summaries, points);
  std::ostringstream out;
  if (format == TableFormat::kCsv) {
    for (size_t c = 0; c < cols.size(); ++c) {
      out << (c ? "," : "") << cols[c].csv_header;
      if (cols[c].interval) out << "," << cols[c].csv_header << "_ci95";
    }
    out << "\n";
    for (size_t r = 0; r < groups.size(); ++r) {
      for (size_t c = 0; c < cols.size(); ++c) {
        out << (c ? "," : "");
        if (!cols[c].texts.empty()) {
          out << CsvField(cols[c].texts[r]);
          continue;
        }
        const SeedStats& s = cols[c].values[r];
        out << (s.n ? CsvNumber(s.mean) : "");
        if (cols[c].interval) out << "," << (s.n >= 2 ? CsvNumber(s.half_width) : "");
      }
      out << "\n";
    }
    return out.str();
  }
  if (format == TableFormat::kHtml) {
    out << "<table>\n<tr>";
    for (const Column& c : cols) out << "<th>" << HtmlText(c.header) << "</th>";
    out << "</tr>\n";
    for (size_t r = 0; r < groups.size(); ++r) {
      out << "<tr>";
      for (const Column& c : cols) out << "<td>" << HtmlText(Text(c, r)) << "</td>";
      out << "</tr>\n";
    }
    out << "</table>\n";
    return out.str();
  }
  if (format == TableFormat::kMarkdown) {
    out << "|";
    for (const Column& c : cols) out << " " << c.header << " |";
    out << "\n|";
    for (size_t c = 0; c < cols.size(); ++c) out << (c == 0 ? "---|" : "---:|");
    out << "\n";
    for (size_t r = 0; r < groups.size(); ++r) {
      out << "|";
      for (const Column& c : cols) out << " " << MarkdownText(Text(c, r)) << " |";
      out << "\n";
    }
    return out.str();
  }
  std::vector<size_t> widths;
  for (const Column& c : cols) {
    size_t w = Width(c.header);
    for (size_t r = 0; r < groups.size(); ++r) w = std::max(w, Width(Text(c, r)));
    widths.push_back(w);
  }
  for (size_t c = 0; c < cols.size(); ++c) {
    out << (c ? "  " : "") << Pad(cols[c].header, widths[c], c == 0);
  }
  out << "\n";
  for (size_t r = 0; r < groups.size(); ++r) {
    for (size_t c = 0; c < cols.size(); ++c) {
      out << (c ? "  " : "") << Pad(Text(cols[c], r), widths[c], c == 0);
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace murmur::cli
