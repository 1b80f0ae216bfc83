"""Hostile text on the dashboard: names shown as the text they are, never as markup.

Charts: every figure builder draws a deployment, model, GPU type, SLO or scenario name as typed.
Plotly renders a subset of HTML in chart text (a name holding <a href> became a link, one holding
<span style="fill:url(...)"> made the browser fetch the URL), so a figure's strings hold such a name
with '&', '<' and '>' as entities, which plotly turns back into the typed characters when drawing.
Markdown: an image link or a bare URL in a name or file name renders as text (ui.format.text).
Links: a 100,000-character URL parameter is refused unread and quoted in 80 characters.
"""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime, timedelta

import plotly.graph_objects as go
import polars as pl
import pytest
import yaml

from analytics.charts import base as charts_base
from analytics.charts import capacity as charts_capacity
from analytics.charts import gpu as charts_gpu
from analytics.charts import review as charts_review
from analytics.charts import slo as charts_slo
from analytics.review.changes import CHANGE_SCHEMA
from analytics.slo.files import PROJECT_SLO_FILE
from tests import gpu_builders
from tests.conftest import run_page

LINK = '<a href="https://example.invalid/x">x</a>'
FETCH = '<span style="fill:url(https://example.invalid/y)">y</span>'
NAME = f"{LINK}{FETCH} & co"
SHOWN = html.escape(NAME, quote=False)  # what the figure holds: plotly draws it as NAME
T0 = datetime(2026, 10, 20, tzinfo=UTC)
HOURS = [T0 + timedelta(hours=h) for h in range(3)]


def _strings(value) -> list[str]:
    """Every string in a figure's dict (trace and layout data, templates included)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    if hasattr(value, "tolist"):
        return _strings(value.tolist())
    return []


def _changes() -> pl.DataFrame:
    return pl.DataFrame([{"deployment": NAME, "ts": HOURS[1], "kind": "model_version", "before": "v1",
                          "after": NAME, "description": f"model_version v1 → {NAME}"}], schema=CHANGE_SCHEMA)


def _overview_chart() -> go.Figure:
    frame = pl.DataFrame({"deployment": [NAME] * 3, "slot": HOURS, "rps": [1.0, 2.0, 3.0]})
    return charts_base.time_series(frame, "rps", title="Requests", marks=charts_review.marker_layout(_changes()))


def _gpu_hours() -> pl.DataFrame:
    return gpu_builders.gpu_hours([gpu_builders.gpu_hour(NAME, NAME, 0, h, sm_active=[0.5], fb_used_mib=[5],
                                                         fb_total_mib=[10]) for h in range(3)])


def _hourly() -> pl.DataFrame:
    return pl.DataFrame({"deployment": [NAME, NAME, "other"], "hour": HOURS, "sm_active": [0.3, 0.6, None],
                         "ttft_p99_ms": [120.0, 340.0, 90.0], "rps": [2.0, 5.0, 1.0]})


def _utilisation() -> pl.DataFrame:
    return pl.DataFrame({"deployment": [NAME], "mean_gpu_util": [0.8], "mean_sm_active": [0.5],
                         "mean_tensor_active": [None]}, schema_overrides={"mean_tensor_active": pl.Float64})


def _sli() -> pl.DataFrame:
    return pl.DataFrame({"time": HOURS, "sli": [0.999, 0.99, 1.0], "sli_lower": [0.998, 0.99, 1.0],
                         "sli_upper": [0.9995, 0.99, 1.0]})


def _burn_down() -> dict[str, pl.DataFrame]:
    return {NAME: pl.DataFrame({"time": HOURS, "remaining": [1.0, 0.9, 0.8], "ideal": [1.0, 0.97, 0.93]})}


def _burn_rate() -> go.Figure:
    frame = pl.DataFrame({"time": HOURS, "burn_1h": [0.5, 20.0, 1.0]})
    return charts_slo.burn_rate_chart(frame, {f"page {NAME}": 14.4}, title=NAME)


def _episodes() -> go.Figure:
    episodes = pl.DataFrame({"severity": ["page"], "start": [HOURS[0]], "end": [HOURS[1]], "peak_burn": [20.0],
                             "budget_consumed": [0.02]})
    return charts_slo.episodes_timeline(episodes, HOURS[0], HOURS[2], title=NAME)


def _forecast() -> go.Figure:
    actuals = pl.DataFrame({"ts": HOURS, "y": [1.0, 2.0, 3.0]})
    forecast = pl.DataFrame({"ts": HOURS, "yhat": [1.0, 2.0, 3.0], "yhat_lower": [0.5, 1.5, 2.5],
                             "yhat_upper": [1.5, 2.5, 3.5]})
    return charts_capacity.forecast_chart(actuals, forecast, title=f"{NAME}: hourly demand", unit="req/s",
                                          interval_width=0.8, capacity=3.0, exhausted_at=HOURS[2], method=NAME)


def _fleet() -> go.Figure:
    return charts_capacity.fleet_chart(pl.DataFrame({"gpu_type": [NAME], "week": [T0], "gpus_needed": [4.0],
                                                     "gpus_current": [3]}))


def _budget_spent() -> go.Figure:
    return charts_review.budget_spent(pl.DataFrame({"slo": [NAME], "budget_spent_this_week": [0.4],
                                                    "budget_spent_previous_week": [0.1]}))


def _incidents() -> go.Figure:
    incidents = pl.DataFrame({"incident": [1], "incident_key": [f"{NAME}@2026-10-20"], "start": [HOURS[0]],
                              "end": [None], "severity": ["page"], "slos": [NAME], "duration_min": [60.0]},
                             schema_overrides={"end": pl.Datetime("us", "UTC")})
    return charts_review.incident_timeline(incidents, _changes(), HOURS[0], HOURS[2])


def _gpu_cost() -> go.Figure:
    return charts_review.gpu_cost(pl.DataFrame({"deployment": [NAME], "cost": [10.0], "cost_previous": [8.0],
                                                "idle_cost": [2.0]}))


def _markers_added() -> go.Figure:
    return charts_review.add_markers(charts_slo.sli_chart(_sli(), 0.99, "SLI per hour"), _changes())


BUILDERS = {
    "overview time series with deploy markers": _overview_chart,
    "GPU heatmap per GPU": lambda: charts_gpu.fleet_heatmap(_gpu_hours(), "sm_active", "gpu"),
    "GPU heatmap per node": lambda: charts_gpu.fleet_heatmap(_gpu_hours(), "mem_peak_fraction", "node"),
    "SM activity against latency": lambda: charts_gpu.utilisation_latency(_hourly()),
    "utilisation comparison": lambda: charts_gpu.utilisation_comparison(_utilisation()),
    "SLI chart": lambda: charts_slo.sli_chart(_sli(), 0.99, NAME),
    "SLI chart with deploy markers added": _markers_added,
    "burn-down": lambda: charts_slo.burn_down_chart(_burn_down(), HOURS[2], title=NAME),
    "burn rate": _burn_rate,
    "alert episodes": _episodes,
    "capacity forecast": _forecast,
    "GPUs needed by GPU type": _fleet,
    "weekly budget spent": _budget_spent,
    "weekly incidents and changes": _incidents,
    "weekly GPU cost": _gpu_cost,
}


@pytest.mark.parametrize("build", BUILDERS.values(), ids=BUILDERS.keys())
def test_a_name_with_markup_reaches_no_chart_as_markup_and_is_still_shown(build):
    strings = _strings(build().to_dict())
    assert not [s for s in strings if "<a " in s or "<span" in s or "</a>" in s]
    assert any(SHOWN in s for s in strings)  # the name is there, every character of it


def test_the_charts_own_hover_markup_stays_markup():
    fig = charts_gpu.utilisation_latency(_hourly())
    template = fig.data[0].hovertemplate
    assert template.startswith(f"{SHOWN}<br>%{{text}} UTC<br>") and template.endswith("<extra></extra>")


def test_an_escaped_name_reads_as_typed_once_plotly_decodes_its_entities():
    fig = _overview_chart()
    assert fig.data[0].name == SHOWN and html.unescape(fig.data[0].name) == NAME
    assert fig.layout.annotations[0].text == SHOWN  # the deploy marker's label: escaped once, not twice
    assert charts_base.escaped("p99 < 200 ms & up") == "p99 &lt; 200 ms &amp; up"


# Markdown: a name with an image link, and bare URLs, render as text in every markdown element.
IMAGE = "![x](https://example.invalid/i.png)"
IMAGE_SHOWN = "!\\[x\\](https\\://\u200dexample.invalid/i.png)"  # escaped, the URL broken by a zero-width joiner


@pytest.mark.parametrize(("typed", "escaped"), [
    ("see https://example.invalid/x", "see https\\://\u200dexample.invalid/x"),
    ("mirror at WWW.example.invalid", "mirror at WWW\u200d.example.invalid"),
    ("owner ops@example.invalid", "owner ops@\u200dexample.invalid"),
    (IMAGE, IMAGE_SHOWN),
], ids=["a bare URL", "a www address", "an e-mail address", "an image link"])
def test_a_bare_url_in_user_text_is_shown_as_text_not_made_a_link(typed, escaped):
    from ui.format import LINK_BREAK, text

    assert text(typed) == escaped
    assert re.sub(r"\\(.)", r"\1", text(typed)).replace(LINK_BREAK, "") == typed  # reads as typed


def test_an_slo_upload_error_shows_the_file_name_as_text(store):
    at = run_page("pages/1_SLOs.py", range="28d")
    at.file_uploader(key="slo_upload").set_value([(f"{IMAGE}.yaml", b"\xff\xfe not utf-8", "application/yaml")])
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [f"{IMAGE_SHOWN}.yaml: not UTF-8 text (an SLO file is YAML)"]


def test_the_weekly_review_incident_heading_shows_slo_names_as_text(store):
    from ui import slo as slo_ui

    project = yaml.safe_load(PROJECT_SLO_FILE.read_text())
    hostile = {slo["name"]: f"{IMAGE} {slo['name']}" for slo in project["slos"]}
    for slo in project["slos"]:  # every reference to a name follows it: composites' objectives, corrections
        slo["name"] = hostile[slo["name"]]
        if "composite" in slo:
            slo["composite"]["objectives"] = [
                {**o, "slo": hostile[o["slo"]]} if isinstance(o, dict) else hostile[o]
                for o in slo["composite"]["objectives"]
            ]
    for correction in project.get("corrections", []):
        correction["slos"] = [hostile[name] for name in correction["slos"]]
    at = run_page("pages/5_Weekly_review.py", week="2026-W43")
    at.session_state[slo_ui.CONFIG_KEY] = (yaml.safe_dump(project), "hostile.yaml")
    at.run()
    assert not at.exception
    headings = [e.label for e in at.expander if e.label.startswith("Incident ")]
    assert headings and all(IMAGE_SHOWN in h for h in headings)
    assert not [h for h in headings if IMAGE in h]


# Links: a very long parameter is refused unread and quoted short.
@pytest.mark.parametrize(("script", "query"), [
    ("app.py", {"range": "custom", "from": "9" * 100_000}),
    ("pages/1_SLOs.py", {"range": "28d", "slo": "x" * 100_000}),
], ids=["a custom date", "a page choice"])
def test_a_100000_character_link_value_is_refused_and_quoted_short(store, script, query):
    started = time.perf_counter()
    at = run_page(script, **query)
    assert not at.exception
    warnings = [w.value for w in at.warning]
    name = next(k for k, v in query.items() if len(v) == 100_000)
    assert warnings == [f"Ignored {name}={query[name][:80]}… in the link: longer than 1024 characters."]
    assert time.perf_counter() - started < 30
