// Charts as inline SVG for aiok's one-file HTML reports (`aiok tune report`, `aiok run`'s
// report.html). Hand-written rather than a charting library inlined from npm: a page must open
// offline with nothing fetched, and a library would add hundreds of kB of JavaScript to draw a
// few dozen marks (docs/ARCHITECTURE.md). Every mark a chart draws for a data value carries the
// value in data-x / data-y attributes, so tests (and a headless browser's DOM) can read a
// chart's points back exactly.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace aiok {

/// `s` with the characters HTML gives meaning to (< > & ") escaped.
std::string HtmlEscape(const std::string& s);

/// A number for a chart label: 5 significant digits, "-" for NaN.
std::string ChartNumber(double v);

/// [lowest, highest] of the finite values, padded by 5% of the span (or of the value when
/// they are all equal); [0, 1] when none is finite.
std::pair<double, double> PaddedRange(const std::vector<double>& values);

/// One chart: a framed plot area with its axis ranges labelled, and marks in data space.
class SvgChart {
 public:
  /// A chart whose element id is `id` (unique in its page), over [x0, x1] x [y0, y1].
  SvgChart(std::string id, std::string title, std::string x_label, std::string y_label, double x0,
           double x1, double y0, double y1);

  /// Pixel position of a data coordinate.
  double X(double x) const;
  double Y(double y) const;

  /// A data point (class "point"): a circle with `tip` as its hover text.
  void Point(double x, double y, const std::string& color, const std::string& tip, double r = 4);
  /// A bar (class "bar") from y = `base` to `y`, centred on `x`, `width` wide in data units;
  /// its data value is (x, y).
  void Bar(double x, double y, double base, double width, const std::string& color,
           const std::string& tip);
  /// A polyline through data coordinates; `dash` is an SVG dash pattern ("" for solid).
  void Line(const std::vector<std::pair<double, double>>& xy, const std::string& color,
            double width = 1.5, const std::string& dash = "");
  /// Text at a data coordinate.
  void Label(double x, double y, const std::string& text, const std::string& anchor = "middle",
             int font_size = 10);
  /// SVG markup added as is (already in pixel space).
  void Raw(const std::string& svg);
  /// Leaves out the x range's end labels (for bars at category positions 0, 1, ...).
  void HideXRange() { show_x_range_ = false; }

  /// The chart as a <figure id=...> with its caption.
  std::string Svg() const;

 private:
  std::string id_, title_, x_label_, y_label_;
  double x0_, x1_, y0_, y1_;
  std::string body_;
  bool show_x_range_ = true;
};

}  // namespace aiok
