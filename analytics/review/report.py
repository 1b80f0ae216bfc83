"""The weekly review as a bundle: one self-contained HTML file and one CSV per table, both with the
column registry's labels, formats and CSV names (analytics/columns.py).

    files = bundle(report)          # {"review-2026-W43.html": bytes, "slos.csv": bytes, ...}
    write(report, Path("out"))      # the same files in a folder (the `report` command)
    zip_bytes(report)               # the same files in a zip (the page's download)

The HTML embeds plotly.js once (inline, no network), so it opens offline; every other figure
reuses it. Text from telemetry and reviewers' notes is escaped. A print stylesheet keeps
figures and table rows whole across pages.
"""

from __future__ import annotations

import html
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import plotly.graph_objects as go
import polars as pl

from analytics import columns
from analytics.charts import review as charts
from analytics.review.weekly import WeeklyReport
from analytics.slo.state import with_badges

# OWASP "CSV Injection": a spreadsheet runs a cell beginning with = + - @ tab or CR as a formula.
# Such text cells get a leading single quote (shown as text; remove it for the raw value);
# numbers, and text that is only a number such as "-3.5%", are left as they are. The one rule for
# every CSV: the export bundle here and every page's download (ui.tables).
FORMULA_START = r"^[=+\-@\t\r]"
_NUMBER_TEXT = r"^[+-]?(\d[\d,]*)?(\.\d+)?([eE][+-]?\d+)?%?$"

CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1200px; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ccc; }
p.summary { font-size: 1.05rem; line-height: 1.5; background: #f5f5f5; padding: .8rem; }
table { border-collapse: collapse; font-size: .8rem; margin: .5rem 0; }
th, td { border: 1px solid #ddd; padding: 3px 6px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #eee; }
.figure { margin: 1rem 0; }
@media print {
  body { margin: 0; max-width: none; }
  .figure, tr { break-inside: avoid; page-break-inside: avoid; }
  h2 { break-after: avoid; page-break-after: avoid; }
}
"""


def figures(report: WeeklyReport) -> dict[str, go.Figure]:
    """The report's figures by the table they illustrate."""
    t = report.tables
    return {
        "slos": charts.budget_spent(t["slos"]),
        "incidents": charts.incident_timeline(t["incidents"], t["changes"], report.start, report.end),
        "gpu": charts.gpu_cost(t["gpu"]),
    }


def cell(column: str, value) -> tuple[str, bool]:
    """A table cell as escaped text (the column registry's format, no unit symbol: the header names
    the unit), and whether it is a number (right-aligned)."""
    number = isinstance(value, int | float) and not isinstance(value, bool) and value == value
    return html.escape(columns.text(column, value, symbol=False)), number


def table_html(frame: pl.DataFrame) -> str:
    """An HTML table of a frame with the registry's labels and formats, every value escaped."""
    if frame.is_empty():
        return "<p><em>None this week.</em></p>"
    shown = with_badges(columns.display_frame(frame))  # state badges, as on the page; the CSVs keep the raw word
    head = "".join(f'<th title="{html.escape(columns.column(c).tooltip)}">{html.escape(columns.header(c))}</th>'
                   for c in shown.columns)
    rows = []
    for row in shown.iter_rows(named=True):
        cells = [cell(c, v) for c, v in row.items()]
        rows.append("<tr>" + "".join(f'<td class="num">{t}</td>' if num else f"<td>{t}</td>" for t, num in cells)
                    + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def html_page(report: WeeklyReport) -> str:
    """The whole report as one HTML document (plotly.js inline once)."""
    figs = figures(report)
    parts, first = [], True
    for name in report.shown:
        parts.append(f"<h2>{html.escape(report.title(name))}</h2>")
        if name in figs:
            div = figs[name].to_html(full_html=False, include_plotlyjs="inline" if first else False,
                                     config={"displaylogo": False, "responsive": True})
            parts.append(f'<div class="figure">{div}</div>')
            first = False
        parts.append(table_html(report.tables[name]))
    caveats = "".join(f"<li>{html.escape(c)}</li>" for c in report.caveats)
    title = f"Weekly reliability review {report.week}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{CSS}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M} UTC · generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC</p>
<p class="summary">{html.escape(report.summary)}</p>
{f"<ul>{caveats}</ul>" if caveats else ""}
{"".join(parts)}
</body></html>
"""


def csv_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with formula-like text cells neutralised (FORMULA_START) for a CSV file."""

    def neutral(column: str) -> pl.Expr:
        value = pl.col(column).cast(pl.String)
        risky = value.str.contains(FORMULA_START) & ~value.str.contains(_NUMBER_TEXT)
        return pl.when(risky).then(pl.lit("'") + value).otherwise(value).alias(column)

    text = [c for c, t in frame.schema.items() if t in (pl.String, pl.Categorical) or isinstance(t, pl.Enum)]
    return frame.with_columns(neutral(c) for c in text)


def csv_text(frame: pl.DataFrame) -> str:
    """A table as every CSV carries it: the column registry's names and raw values, csv_safe applied."""
    return csv_safe(columns.csv_frame(frame)).write_csv()


def html_name(report: WeeklyReport) -> str:
    return f"review-{report.week}.html"


def bundle(report: WeeklyReport) -> dict[str, bytes]:
    """File name -> bytes: the HTML report and one CSV per table (TABLES order, csv_safe)."""
    files = {html_name(report): html_page(report).encode()}
    for name in report.shown:
        files[f"{name}.csv"] = csv_text(report.tables[name]).encode()
    return files


def write(report: WeeklyReport, out: Path) -> list[Path]:
    """Write the bundle into folder ``out`` (created if missing); returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in bundle(report).items():
        path = out / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        paths.append(path)
    return paths


def zip_bytes(report: WeeklyReport) -> bytes:
    """The bundle as a zip archive, in a folder named after the week."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in bundle(report).items():
            archive.writestr(f"review-{report.week}/{name}", data)
    return buffer.getvalue()
