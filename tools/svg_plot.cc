#include "svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace murmur::cli {
namespace {

constexpr double kWidth = 720, kHeight = 440;
constexpr double kLeft = 70, kRight = 190, kTop = 40, kBottom = 55;
constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                   "#9467bd", "#8c564b", "#e377c2", "#17becf"};

std::string Escape(const std::string& s) {
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

// A 1-2-5 step giving about `target` ticks over [lo, hi].
double NiceStep(double lo, double hi, int target) {
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * mag >= raw) return m * mag;
  }
  return 10 * mag;
}

std::string Format(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", std::abs(v) < 1e-12 ? 0.0 : v);
  return buf;
}

}  // namespace

std::string LinePlotSvg(const PlotLabels& labels, const std::vector<Series>& series) {
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
  double y_lo = x_lo, y_hi = -x_lo;
  for (const Series& s : series) {
    for (auto [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x);
      y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
    }
  }
  if (!std::isfinite(x_lo)) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
  if (x_hi <= x_lo) x_hi = x_lo + 1;
  if (y_hi <= y_lo) y_hi = y_lo + 1;
  const double x_step = NiceStep(x_lo, x_hi, 6), y_step = NiceStep(y_lo, y_hi, 6);
  x_lo = std::floor(x_lo / x_step) * x_step, x_hi = std::ceil(x_hi / x_step) * x_step;
  y_lo = std::floor(y_lo / y_step) * y_step, y_hi = std::ceil(y_hi / y_step) * y_step;
  const double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - x_lo) / (x_hi - x_lo) * pw; };
  auto py = [&](double y) { return kTop + ph - (y - y_lo) / (y_hi - y_lo) * ph; };

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\""
      << kHeight << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << kLeft + pw / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">"
      << Escape(labels.title) << "</text>\n";
  for (double x = x_lo; x <= x_hi + x_step * 1e-9; x += x_step) {
    svg << "<line x1=\"" << px(x) << "\" y1=\"" << kTop << "\" x2=\"" << px(x) << "\" y2=\""
        << kTop + ph << "\" stroke=\"#e5e5e5\"/>\n<text x=\"" << px(x) << "\" y=\""
        << kTop + ph + 16 << "\" text-anchor=\"middle\">" << Format(x) << "</text>\n";
  }
  for (double y = y_lo; y <= y_hi + y_step * 1e-9; y += y_step) {
    svg << "<line x1=\"" << kLeft << "\" y1=\"" << py(y) << "\" x2=\"" << kLeft + pw
        << "\" y2=\"" << py(y) << "\" stroke=\"#e5e5e5\"/>\n<text x=\"" << kLeft - 6
        << "\" y=\"" << py(y) + 4 << "\" text-anchor=\"end\">" << Format(y) << "</text>\n";
  }
  svg << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << pw << "\" height=\""
      << ph << "\" fill=\"none\" stroke=\"black\"/>\n"
      << "<text x=\"" << kLeft + pw / 2 << "\" y=\"" << kHeight - 12
      << "\" text-anchor=\"middle\">" << Escape(labels.x) << "</text>\n"
      << "<text transform=\"translate(18," << kTop + ph / 2
      << ") rotate(-90)\" text-anchor=\"middle\">" << Escape(labels.y) << "</text>\n";
  for (size_t i = 0; i < series.size(); ++i) {
    const char* color = kColors[i % std::size(kColors)];
    svg << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\" points=\"";
    for (auto [x, y] : series[i].points) {
      if (std::isfinite(x) && std::isfinite(y)) svg << px(x) << "," << py(y) << " ";
    }
    const double ly = kTop + 14 + 20.0 * static_cast<double>(i);
    svg << "\"/>\n<line x1=\"" << kLeft + pw + 12 << "\" y1=\"" << ly - 4 << "\" x2=\""
        << kLeft + pw + 36 << "\" y2=\"" << ly - 4 << "\" stroke=\"" << color
        << "\" stroke-width=\"2\"/>\n<text x=\"" << kLeft + pw + 42 << "\" y=\"" << ly << "\">"
        << Escape(series[i].name) << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace murmur::cli
