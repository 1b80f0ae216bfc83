"""Every chart names its axes as the column registry does (analytics/columns.py), so a chart and a
table never disagree on a name or a unit: each page's figures, built on the demo store, carry only
axis titles that C.axis_title / C.unit_title produce."""

from __future__ import annotations

import json

import pytest

from analytics import columns
from analytics.review import pipeline as review_pipeline
from analytics.review import report as review_report
from analytics.slo import files
from tests.conftest import run_page

PAGES = {  # page -> (query, charts at least)
    "app.py": ({}, 4),
    "pages/1_SLOs.py": ({}, 4),
    "pages/2_What_if.py": ({}, 2),
    "pages/3_GPU_efficiency.py": ({}, 3),
    "pages/4_Capacity.py": ({}, 1),
    "pages/5_Weekly_review.py": ({"week": "2026-W43"}, 3),
}


def _allowed() -> set[str]:
    titles = {""}
    for name in columns.REGISTRY:
        titles |= {columns.axis_title(name), columns.axis_title(name, log=True)}
        if columns.column(name).kind in columns.UNIT_TITLES:
            titles.add(columns.unit_title(name))
    return titles


ALLOWED = _allowed()


def _title(axis: dict) -> str:
    title = axis.get("title")
    text = title.get("text") if isinstance(title, dict) else title
    return text or ""


def axis_titles(figure: dict) -> list[tuple[str, str]]:
    """(where, title) of every axis and colour bar of a Plotly figure (as JSON)."""
    layout = figure.get("layout", {})
    out = [(key, _title(axis)) for key, axis in layout.items() if key.startswith(("xaxis", "yaxis"))]
    out += [(f"{trace.get('type')} colour bar", _title(trace["colorbar"]))
            for trace in figure.get("data", []) if "colorbar" in trace]
    return out


@pytest.mark.parametrize("script", list(PAGES))
def test_every_chart_on_the_page_titles_its_axes_from_the_registry(store, script):
    query, charts = PAGES[script]
    at = run_page(script, **query)
    assert not at.exception, [e.message for e in at.exception]
    figures = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    assert len(figures) >= charts
    for figure in figures:
        name = _title(figure["layout"])
        for where, title in axis_titles(figure):
            assert title in ALLOWED, f"{script}: chart {name!r} {where} title {title!r} is not the registry's"


def test_the_weekly_reports_charts_title_their_axes_from_the_registry(store, tmp_path):
    report = review_pipeline.report(store, files.load_slos(files.PROJECT_SLO_FILE), "2026-W43", tmp_path)
    for name, figure in review_report.figures(report).items():
        for where, title in axis_titles(json.loads(figure.to_json())):
            assert title in ALLOWED, f"report chart {name}: {where} title {title!r} is not the registry's"


def test_a_title_the_registry_does_not_produce_is_caught():
    figure = {"layout": {"xaxis": {"title": {"text": "Time (UTC)"}}, "yaxis": {"title": {"text": "ms (log scale)"}}}}
    assert [t for _, t in axis_titles(figure) if t not in ALLOWED] == ["ms (log scale)"]


@pytest.mark.parametrize(("name", "log", "title"), [
    ("ttft_p99_ms", True, "TTFT p99 (ms), log scale"),
    ("error_rate", False, "Error rate (%)"),
    ("mean_gpu_util", False, "GPU utilisation (any kernel running, %)"),
    ("cost", False, "GPU cost ($)"),
    ("rps", False, "Requests/s"),
])
def test_axis_titles_carry_the_label_and_unit_a_table_shows(name, log, title):
    assert columns.axis_title(name, log=log) == title
