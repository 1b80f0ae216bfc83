"""The weekly review keeps raw state words in its data and CSVs (the same words as `slo --json`)
and shows a state's badge (shape + label) only where people read it: the page and the HTML report."""

from __future__ import annotations

import io

import polars as pl
import pytest

from analytics.review import pipeline as review_pipeline
from analytics.review import report as review_report
from analytics.slo import files
from analytics.slo.state import STATES, STYLE, badge, with_badges
from tests.conftest import run_page

WEEK = "2026-W43"
STATE_TABLES = ("slos", "capacity")


@pytest.fixture(scope="module")
def report(store, tmp_path_factory):
    return review_pipeline.report(store, files.load_slos(files.PROJECT_SLO_FILE), WEEK, tmp_path_factory.mktemp("forecast-cache"))


def test_the_weekly_review_csvs_hold_raw_state_words(report):
    bundle = review_report.bundle(report)
    for name in STATE_TABLES:
        states = pl.read_csv(io.BytesIO(bundle[f"{name}.csv"]))["state"].drop_nulls()
        assert states.len(), name
        assert set(states) <= set(STATES), (name, set(states) - set(STATES))
    # the demo's regressed week leaves two SLOs at risk: the word `slo --json` prints, not '◐ At risk'
    assert "at risk" in set(report.tables["slos"]["state"])


def test_the_html_report_shows_each_state_as_its_badge(report):
    page = review_report.html_page(report)
    for state in report.tables["slos"]["state"].unique():
        assert f"<td>{badge(state)}</td>" in page, state
    assert "<td>paging</td>" not in page and "<td>ok</td>" not in page


def test_the_review_page_shows_badges_and_its_csvs_keep_the_raw_word(store):
    at = run_page("pages/5_Weekly_review.py", week=WEEK)
    assert not at.exception, [e.message for e in at.exception]
    labels = [b.label for b in at.get("download_button") if b.label.endswith("(CSV)")]
    shown = dict(zip(labels, at.dataframe, strict=True))
    for label in ("Download SLOs this week (CSV)", "Download Capacity outlook (CSV)"):
        states = set(shown[label].value["state"].dropna())
        assert states and states <= {badge(s) for s in STYLE}, (label, states)


def test_only_state_text_becomes_a_badge():
    frame = pl.DataFrame({"state": ["paging", "ok", None, "something else"], "slo": ["a", "b", "c", "d"]})
    assert with_badges(frame)["state"].to_list() == ["▲ Paging", "✔ OK", None, "something else"]
    assert with_badges(frame.drop("state")).equals(frame.drop("state"))
