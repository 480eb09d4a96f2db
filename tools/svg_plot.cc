#include "svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace murmur::cli {
namespace {


// Viridis at five stops: perceptually uniform and readable in grey scale.
constexpr double kViridis[][3] = {
    {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};

std::string ScaleColor(double t) {
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * (std::size(kViridis) - 1);
  const size_t i = std::min<size_t>(static_cast<size_t>(t), std::size(kViridis) - 2);
  const double f = t - static_cast<double>(i);
  char buf[16];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x",
                static_cast<int>(std::lround(kViridis[i][0] * (1 - f) + kViridis[i + 1][0] * f)),
                static_cast<int>(std::lround(kViridis[i][1] * (1 - f) + kViridis[i + 1][1] * f)),
                static_cast<int>(std::lround(kViridis[i][2] * (1 - f) + kViridis[i + 1][2] * f)));
  return buf;
}

// Rough text width at font-size 12, for layout only.
double TextWidth(const std::string& s) { return 7.0 * static_cast<double>(s.size()); }

std::string Fixed3(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

}  // namespace

std::string HeatmapSvg(const HeatmapLabels& labels, const std::vector<HeatmapPanel>& panels) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  size_t rows = 0, cols = 0;
  double row_label_w = 0, col_label_w = 0, title_w = 0;
  for (const HeatmapPanel& p : panels) {
    rows = std::max(rows, p.row_labels.size());
    cols = std::max(cols, p.col_labels.size());
    for (const auto& l : p.row_labels) row_label_w = std::max(row_label_w, TextWidth(l));
    for (const auto& l : p.col_labels) col_label_w = std::max(col_label_w, TextWidth(l));
    title_w = std::max(title_w, TextWidth(p.title));
    for (const auto& row : p.values) {
      for (double v : row) {
        if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
      }
    }
  }
  const bool any = std::isfinite(lo);
  if (!any) lo = 0, hi = 1;
  auto unit = [&](double v) { return hi > lo ? (v - lo) / (hi - lo) : 0.5; };

  const double cell_w = std::max(64.0, col_label_w + 12), cell_h = 30;
  const double label_w = row_label_w + 14;
  const double panel_w =
      std::max(label_w + static_cast<double>(cols) * cell_w, title_w + 10) + 24;
  const double panel_h = 22 + 20 + static_cast<double>(rows) * cell_h + 20;
  const size_t per_line = std::max<size_t>(1, std::min<size_t>(3, panels.size()));
  const size_t lines = (panels.size() + per_line - 1) / std::max<size_t>(1, per_line);
  const double top = 62, left = 16, bar_h = 160;
  const double bar_x = left + static_cast<double>(per_line) * panel_w + 10;
  const std::string subtitle =
      "rows: " + labels.rows + (labels.cols.empty() ? "" : ", columns: " + labels.cols);
  const double width = std::max({bar_x + 90, left + TextWidth(labels.title) * 1.3 + 20,
                                 left + TextWidth(subtitle) + 20});
  const double height =
      std::max(top + static_cast<double>(lines) * panel_h, top + bar_h + 30) + 10;

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\""
      << height << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << left << "\" y=\"22\" font-size=\"15\">" << MarkupEscape(labels.title)
      << "</text>\n<text x=\"" << left << "\" y=\"42\" fill=\"#555\">" << MarkupEscape(subtitle)
      << "</text>\n";
  for (size_t k = 0; k < panels.size(); ++k) {
    const HeatmapPanel& p = panels[k];
    const double px = left + static_cast<double>(k % per_line) * panel_w;
    const double py = top + static_cast<double>(k / per_line) * panel_h;
    svg << "<text x=\"" << px << "\" y=\"" << py + 14 << "\" font-weight=\"bold\">"
        << MarkupEscape(p.title) << "</text>\n";
    const double grid_x = px + label_w, grid_y = py + 42;
    for (size_t c = 0; c < p.col_labels.size(); ++c) {
      svg << "<text x=\"" << grid_x + (static_cast<double>(c) + 0.5) * cell_w << "\" y=\""
          << grid_y - 6 << "\" text-anchor=\"middle\">" << MarkupEscape(p.col_labels[c])
          << "</text>\n";
    }
    for (size_t r = 0; r < p.row_labels.size(); ++r) {
      const double y = grid_y + static_cast<double>(r) * cell_h;
      svg << "<text x=\"" << grid_x - 6 << "\" y=\"" << y + cell_h / 2 + 4
          << "\" text-anchor=\"end\">" << MarkupEscape(p.row_labels[r]) << "</text>\n";
      for (size_t c = 0; c < p.col_labels.size(); ++c) {
        const double v = r < p.values.size() && c < p.values[r].size()
                             ? p.values[r][c]
                             : std::numeric_limits<double>::quiet_NaN();
        const double x = grid_x + static_cast<double>(c) * cell_w;
        const bool has = std::isfinite(v);
        const double t = unit(v);
        svg << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << cell_w
            << "\" height=\"" << cell_h << "\" fill=\"" << (has ? ScaleColor(t) : "#dddddd")
            << "\" stroke=\"white\"/>\n<text x=\"" << x + cell_w / 2 << "\" y=\""
            << y + cell_h / 2 + 4 << "\" text-anchor=\"middle\" fill=\""
            << (has && t < 0.6 ? "white" : "black") << "\">"
            << (has ? Fixed3(v) : MarkupEscape(labels.missing)) << "</text>\n";
      }
    }
  }
  // Colour bar: the same five stops as the cells, high values on top.
  svg << "<defs><linearGradient id=\"scale\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
  for (size_t i = 0; i < std::size(kViridis); ++i) {
    const double t = static_cast<double>(i) / (std::size(kViridis) - 1);
    svg << "<stop offset=\"" << t << "\" stop-color=\"" << ScaleColor(t) << "\"/>";
  }
  svg << "</linearGradient></defs>\n<rect x=\"" << bar_x << "\" y=\"" << top << "\" width=\"16\" height=\""
      << bar_h << "\" fill=\"url(#scale)\" stroke=\"#999\"/>\n";
  if (any) {
    for (int i = 0; i <= 2; ++i) {
      const double v = hi > lo ? lo + (hi - lo) * i / 2.0 : lo;
      svg << "<text x=\"" << bar_x + 22 << "\" y=\"" << top + bar_h - bar_h * i / 2.0 + 4
          << "\">" << Fixed3(v) << "</text>\n";
      if (hi <= lo) break;
    }
  }
  svg << "</svg>\n";
  return svg.str();
}

std::string MarkupEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace murmur::cli
