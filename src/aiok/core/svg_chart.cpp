#include "aiok/core/svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace aiok {
namespace {

constexpr double kLeft = 70, kTop = 10, kWidth = 520, kHeight = 260;

// A data value in full precision (round-trips through a double), for data-x / data-y.
std::string Exact(double v) { return fmt::format("{}", v); }

}  // namespace

std::string HtmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string ChartNumber(double v) {
  if (std::isnan(v))
    return "-";
  return fmt::format("{:.5g}", v);
}

std::pair<double, double> PaddedRange(const std::vector<double>& values) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double x : values)
    if (std::isfinite(x)) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  if (!std::isfinite(lo))
    return {0, 1};
  const double pad = hi > lo ? 0.05 * (hi - lo) : std::max(1e-9, std::fabs(lo) * 0.05);
  return {lo - pad, hi + pad};
}

SvgChart::SvgChart(std::string id, std::string title, std::string x_label, std::string y_label,
                   double x0, double x1, double y0, double y1)
    : id_(std::move(id)),
      title_(std::move(title)),
      x_label_(std::move(x_label)),
      y_label_(std::move(y_label)),
      x0_(x0),
      x1_(x1 > x0 ? x1 : x0 + 1),
      y0_(y0),
      y1_(y1 > y0 ? y1 : y0 + 1) {}

double SvgChart::X(double x) const { return kLeft + (x - x0_) / (x1_ - x0_) * kWidth; }
double SvgChart::Y(double y) const { return kTop + (1 - (y - y0_) / (y1_ - y0_)) * kHeight; }

void SvgChart::Point(double x, double y, const std::string& color, const std::string& tip,
                     double r) {
  body_ += fmt::format(
      "<circle class=\"point\" data-x=\"{}\" data-y=\"{}\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" "
      "fill=\"{}\"><title>{}</title></circle>\n",
      Exact(x), Exact(y), X(x), Y(y), r, color, HtmlEscape(tip));
}

void SvgChart::Bar(double x, double y, double base, double width, const std::string& color,
                   const std::string& tip) {
  const double left = X(x - width / 2), right = X(x + width / 2);
  const double top = std::min(Y(y), Y(base)), bottom = std::max(Y(y), Y(base));
  body_ += fmt::format(
      "<rect class=\"bar\" data-x=\"{}\" data-y=\"{}\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
      "height=\"{:.1f}\" fill=\"{}\"><title>{}</title></rect>\n",
      Exact(x), Exact(y), left, top, right - left, bottom - top, color, HtmlEscape(tip));
}

void SvgChart::Line(const std::vector<std::pair<double, double>>& xy, const std::string& color,
                    double width, const std::string& dash) {
  if (xy.empty())
    return;
  std::string d;
  for (const auto& [x, y] : xy)
    d += fmt::format("{}{:.1f},{:.1f}", d.empty() ? "M" : " L", X(x), Y(y));
  body_ +=
      fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"{}/>\n", d, color,
                  width, dash.empty() ? "" : fmt::format(" stroke-dasharray=\"{}\"", dash));
}

void SvgChart::Label(double x, double y, const std::string& text, const std::string& anchor,
                     int font_size) {
  body_ += fmt::format(
      "<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"{}\" text-anchor=\"{}\">{}"
      "</text>\n",
      X(x), Y(y), font_size, anchor, HtmlEscape(text));
}

void SvgChart::Raw(const std::string& svg) { body_ += svg; }

std::string SvgChart::Svg() const {
  return fmt::format(
      "<figure id=\"{0}\" class=\"chart\"><figcaption>{1}</figcaption>"
      "<svg width=\"{2}\" height=\"{3}\" viewBox=\"0 0 {2} {3}\">\n"
      "<rect x=\"{4}\" y=\"{5}\" width=\"{6}\" height=\"{7}\" fill=\"#fafafa\" "
      "stroke=\"#999\"/>\n{8}"
      "<text x=\"{4}\" y=\"{9}\" font-size=\"11\">{10}</text>"
      "<text x=\"{11}\" y=\"{9}\" font-size=\"11\" text-anchor=\"end\">{12}</text>"
      "<text x=\"{13}\" y=\"{14}\" font-size=\"12\" text-anchor=\"middle\">{15}</text>"
      "<text x=\"{16}\" y=\"{17}\" font-size=\"11\" text-anchor=\"end\">{18}</text>"
      "<text x=\"{16}\" y=\"{5}\" font-size=\"11\" text-anchor=\"end\" "
      "dominant-baseline=\"hanging\">{19}</text>"
      "<text x=\"12\" y=\"{20}\" font-size=\"12\" transform=\"rotate(-90 12 {20})\" "
      "text-anchor=\"middle\">{21}</text></svg></figure>\n",
      id_, HtmlEscape(title_), kLeft + kWidth + 20, kTop + kHeight + 40, kLeft, kTop, kWidth,
      kHeight, body_, kTop + kHeight + 14, show_x_range_ ? ChartNumber(x0_) : "", kLeft + kWidth,
      show_x_range_ ? ChartNumber(x1_) : "", kLeft + kWidth / 2, kTop + kHeight + 32,
      HtmlEscape(x_label_), kLeft - 4, kTop + kHeight, ChartNumber(y0_), ChartNumber(y1_),
      kTop + kHeight / 2, HtmlEscape(y_label_));
}

}  // namespace aiok
