#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "svg_plot.h"

namespace murmur::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) {
    ++n;
  }
  return n;
}

TEST(HeatmapSvg, PrintsEveryValueAndColoursTheExtremesByTheScale) {
  HeatmapPanel panel{.title = "alpha=0.1",
                     .row_labels = {"ring", "full"},
                     .col_labels = {"a<b", "c"},
                     .values = {{0.5, 0.75}, {1.0, NAN}}};
  const std::string svg = HeatmapSvg({.title = "acc", .rows = "topology", .cols = "x",
                                      .missing = "failed"},
                                     {panel});
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_THAT(svg, HasSubstr(">0.500<"));
  EXPECT_THAT(svg, HasSubstr(">0.750<"));
  EXPECT_THAT(svg, HasSubstr(">1.000<"));
  EXPECT_THAT(svg, HasSubstr(">failed<"));
  EXPECT_THAT(svg, HasSubstr("alpha=0.1"));
  EXPECT_THAT(svg, HasSubstr("a&lt;b"));  // labels are escaped
  EXPECT_THAT(svg, Not(HasSubstr("a<b")));
  // The lowest value takes the scale's first colour, the highest its last;
  // the missing cell is grey.
  EXPECT_THAT(svg, HasSubstr("fill=\"#440154\""));
  EXPECT_THAT(svg, HasSubstr("fill=\"#fde725\""));
  EXPECT_THAT(svg, HasSubstr("fill=\"#dddddd\""));
  // 4 cells + background + colour bar.
  EXPECT_EQ(Count(svg, "<rect"), 6u);
  EXPECT_THAT(svg, HasSubstr("linearGradient"));
}

TEST(HeatmapSvg, SharesOneScaleAcrossPanels) {
  HeatmapPanel low{.title = "p1", .row_labels = {"r"}, .col_labels = {"c"}, .values = {{0.2}}};
  HeatmapPanel high{.title = "p2", .row_labels = {"r"}, .col_labels = {"c"}, .values = {{0.9}}};
  const std::string svg = HeatmapSvg({.title = "acc", .rows = "r", .cols = "c"}, {low, high});
  EXPECT_THAT(svg, HasSubstr("fill=\"#440154\""));  // 0.2 is the low end
  EXPECT_THAT(svg, HasSubstr("fill=\"#fde725\""));  // 0.9 the high end
  EXPECT_THAT(svg, HasSubstr(">0.200<"));
  EXPECT_THAT(svg, HasSubstr(">0.900<"));
  EXPECT_THAT(svg, HasSubstr(">p2<"));
}

}  // namespace
}  // namespace murmur::cli
