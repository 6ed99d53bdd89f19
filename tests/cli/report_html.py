#!/usr/bin/python3
"""Reads one of aiok's HTML reports (a file, or a DOM that headless Chromium dumped) with
Python's html.parser and prints what a test compares, as JSON:

  {"errors": [...],                      # tags closed out of order or never closed
   "charts": {"<figure id>": {"points": [[x, y], ...], "bars": [[x, y], ...]}},
   "tables": {"<table id>": rows}}

Points and bars are the marks svg_chart.h draws for data values, read from data-x/data-y.

  report_html.py PAGE.html     # the page itself, or the DOM chromium --dump-dom printed
"""
import json
import sys
from html.parser import HTMLParser

# Elements that never have an end tag in HTML.
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class ReportParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.errors = []
        self.charts = {}
        self.tables = {}
        self.chart = None
        self.table = None

    def handle_starttag(self, tag, attrs):
        self._open(tag, dict(attrs), closes=False)

    def handle_startendtag(self, tag, attrs):
        self._open(tag, dict(attrs), closes=True)

    def _open(self, tag, attrs, closes):
        if tag == "figure" and "chart" in attrs.get("class", "").split():
            self.chart = attrs.get("id", "")
            if self.chart in self.charts:
                self.errors.append(f"two charts with id '{self.chart}'")
            self.charts[self.chart] = {"points": [], "bars": []}
        if tag == "table" and attrs.get("id"):
            self.table = attrs["id"]
            self.tables[self.table] = 0
        if tag == "tr" and self.table is not None:
            self.tables[self.table] += 1
        if self.chart is not None and "data-x" in attrs:
            kind = {"circle": "points", "rect": "bars"}.get(tag)
            if kind is None:
                self.errors.append(f"chart '{self.chart}': data-x on a <{tag}>")
            else:
                self.charts[self.chart][kind].append(
                    [float(attrs["data-x"]), float(attrs["data-y"])])
        if not closes and tag not in VOID:
            self.stack.append((tag, self.getpos()))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            where = self.getpos()
            open_tag = self.stack[-1][0] if self.stack else "nothing"
            self.errors.append(f"line {where[0]}: </{tag}> closes <{open_tag}>")
            return
        self.stack.pop()
        if tag == "figure":
            self.chart = None
        if tag == "table":
            self.table = None


def main():
    args = sys.argv[1:]
    if len(args) != 1:
        sys.exit(__doc__)
    with open(args[0], encoding="utf-8") as f:
        text = f.read()
    parser = ReportParser()
    parser.feed(text)
    parser.close()
    for tag, (line, column) in parser.stack:
        parser.errors.append(f"line {line} column {column}: <{tag}> is never closed")
    json.dump({"errors": parser.errors, "charts": parser.charts, "tables": parser.tables},
              sys.stdout)


if __name__ == "__main__":
    main()
