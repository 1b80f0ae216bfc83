"""The fleet verdict and the attention list (analytics.review.verdicts), loaded and drawn once for
every page that shows them: the Overview opens with them, the SLOs page uses the same states.

SLO states come from the SLO evaluations the SLOs page caches; capacity states from the Capacity
page's default scenario (cached fits, or the seasonal-naive stand-in while Prophet fits in the
background), so the Overview never waits for a forecast. Deployments no SLO covers are judged on
the Overview's own comparison with the previous period (analytics.traffic.summary.changes), and
every deployment's GPU memory on the GPU rollup (analytics.review.verdicts.memory_verdicts). The
all-clear names what was checked, and shows only when every check ran.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import parse_qs

import polars as pl
import streamlit as st

from analytics.capacity import pipeline as capacity_pipeline
from analytics.capacity.demand import HOUR
from analytics.gpu import pipeline as gpu_pipeline
from analytics.review import verdicts as review_verdicts
from analytics.slo.state import STATES, STYLE
from analytics.traffic.pipeline import Overview
from ui import capacity as fd
from ui import slo as slo_ui
from ui.connection import get_store
from ui.format import text
from ui.tables import show_table

SHOWN = 8  # attention items listed before the rest fold into a table
# The page that explains a verdict, by its kind (analytics.review.verdicts.Verdict.kind); the
# verdict's query selects the SLO or the deployment there.
PAGES = {"slo": "pages/1_SLOs.py", "capacity": "pages/4_Capacity.py", "uncovered": "app.py",
         "memory": "pages/3_GPU_efficiency.py"}
KINDS = {"slo": "SLO", "capacity": "capacity", "uncovered": "no SLO", "memory": "GPU memory"}


@dataclass(frozen=True)
class Judged:
    """Every verdict in view, the deployments whose capacity is judged on a stand-in forecast, the
    deployments some SLO covers, and what was checked and what could not be (with why)."""

    verdicts: tuple[review_verdicts.Verdict, ...]
    fitting: tuple[str, ...]
    watched: frozenset[str] = frozenset()
    checked: tuple[str, ...] = ()
    unchecked: tuple[str, ...] = ()


def slo_verdicts(slo_file: slo_ui.SloFile, at: datetime, deployments: tuple, regions: tuple) -> list[review_verdicts.Verdict]:
    """The state of every SLO whose scope meets the filters, at `at`."""
    catalog = slo_ui.catalog(at)
    return [review_verdicts.slo_verdict(e) for e in slo_ui.evaluations(*slo_file, at)
            if slo_ui.in_filters(e.slo, catalog, deployments, regions)]


def capacity_verdicts(slo_file: slo_ui.SloFile, data_start: datetime, end: datetime, deployments: tuple,
                      regions: tuple) -> tuple[list[review_verdicts.Verdict], tuple[str, ...]]:
    """Capacity states of the deployments in view and of their GPU pools (the Capacity page's
    default scenario), and the deployments still waiting for a Prophet fit."""
    start, stop = capacity_pipeline.window(data_start, end)
    table = fd.deployments()
    in_scope = table.filter(pl.col("region").is_in(regions)) if regions else table
    names = tuple(n for n in in_scope["deployment"].to_list() if not deployments or n in deployments)
    if not names or stop - start < 7 * 24 * HOUR:
        return [], ()
    assessment, _, _, fitting, _ = fd.assessment(fd.default_scenario(start, stop, regions, names), slo_file)
    verdicts = [review_verdicts.capacity_verdict(o, stop) for o in assessment.outlooks.values()]
    return verdicts + review_verdicts.pool_verdicts(assessment.plans, table, stop), fitting


def judge(slo_file: slo_ui.SloFile, data_start: datetime, end: datetime, deployments: tuple,
          regions: tuple) -> Judged:
    """Every SLO and capacity verdict for the sidebar's filters, by the SLO file in use (ui.slo.config);
    judged again once a background fit has finished."""
    return _judge(slo_file, data_start, end, deployments, regions, fd.background().finished)


@st.cache_data(ttl=slo_ui.TTL_S, max_entries=64, show_spinner=False)
def _judge(slo_file: slo_ui.SloFile, data_start: datetime, end: datetime, deployments: tuple, regions: tuple,
           fits_finished: int) -> Judged:
    at = slo_ui.at_time(end)
    slos = slo_verdicts(slo_file, at, deployments, regions)
    capacity, fitting = capacity_verdicts(slo_file, data_start, end, deployments, regions)
    watched = frozenset(review_verdicts.covered(slo_ui.parse(*slo_file), slo_ui.catalog(at)))
    checked = [f"{len(slos)} SLO{'s' if len(slos) != 1 else ''} (budget and burn rates)"] if slos else []
    unchecked = [] if slos else ["SLOs: none in the SLO file covers the deployments in view"]
    if capacity:
        checked.append("capacity of the deployments and GPU pools over the forecast horizon")
    else:
        unchecked.append("capacity: the forecast needs 7 days of history")
    return Judged(tuple(slos + capacity), fitting, watched, tuple(checked), tuple(unchecked))


@st.cache_data(ttl=slo_ui.TTL_S, max_entries=64, show_spinner=False)
def peak_memory(start: datetime, end: datetime, deployments: tuple, regions: tuple) -> pl.DataFrame:
    """Per deployment in view: the peak hour's GPU memory used / total (analytics.gpu.pipeline.peak_memory)."""
    return gpu_pipeline.peak_memory(get_store(), start, end, deployments, regions)


def with_deployments(judged: Judged, overview: Overview, peaks: pl.DataFrame) -> Judged:
    """Judged plus the checks of each deployment in view: the error rate and latency of those no SLO
    covers against the previous period (the Overview's comparison), and every deployment's GPU
    memory peak over the range (``peaks``: peak_memory)."""
    verdicts, checked, unchecked = list(judged.verdicts), list(judged.checked), list(judged.unchecked)
    names = overview.per_deployment["deployment"].to_list()
    uncovered = [n for n in names if n not in judged.watched]
    new = [n for n in uncovered if n in overview.fresh]
    if not uncovered:
        checked.append("every deployment in view has an SLO")
    elif overview.compared is None:
        unchecked.append(f"errors and latency of the {len(uncovered)} deployment(s) no SLO covers: the previous "
                         "period holds no data to compare with")
    else:
        verdicts += review_verdicts.uncovered_verdicts(overview.changes, set(judged.watched))
        checked.append(f"errors and latency of the {len(uncovered) - len(new)} deployment(s) no SLO covers, "
                       "against the previous period")
        if new:
            unchecked.append(f"errors and latency of {', '.join(new)}: new, no SLO and nothing to compare with")
    if peaks.is_empty():
        unchecked.append("GPU memory: no GPU telemetry in the range")
    else:
        verdicts += review_verdicts.memory_verdicts(peaks)
        checked.append(f"GPU memory of {peaks.height} deployment(s), peak under "
                       f"{review_verdicts.MEMORY_PEAK_LIMIT:.0%} of total")
    return replace(judged, verdicts=tuple(verdicts), checked=tuple(checked), unchecked=tuple(unchecked))


def state_badge(state: str) -> str:
    """A state as coloured markdown with its shape (the shape carries it without colour)."""
    style = STYLE[state]
    return f":{style.markdown}[{style.icon} **{style.label}**]"


def show(judged: Judged) -> None:
    """The fleet verdict, a count per state, and what needs attention (worst first, each linked)."""
    fleet = review_verdicts.fleet_verdict(judged.verdicts)
    items = review_verdicts.attention(judged.verdicts)
    counts = {s: sum(v.state == s for v in judged.verdicts) for s in STATES}
    summary = " · ".join(f"{STYLE[s].icon} {n} {STYLE[s].label.lower()}" for s, n in counts.items() if n)
    partly = " (not every check could run)" if judged.unchecked and items.is_empty() else ""
    st.markdown(f"### Fleet: {state_badge(fleet)}{partly}")
    st.caption(f"{len(judged.verdicts)} judged (SLOs, deployments' capacity, GPU pools, deployments without an "
               f"SLO, GPU memory): {summary}.")
    checked = "; ".join(judged.checked)
    if items.is_empty() and not judged.unchecked:
        st.success(f"Nothing needs attention. Checked: {text(checked)}.")
    elif items.is_empty():
        st.info(f"Nothing flagged by the checks that ran ({text(checked) or 'none'}). "
                f"Not checked: {text('; '.join(judged.unchecked))}.")
    elif judged.unchecked:
        st.caption(f"Not checked: {text('; '.join(judged.unchecked))}.")
    for row in items.head(SHOWN).iter_rows(named=True):
        left, middle, right = st.columns([2, 7, 1], vertical_alignment="center")
        left.markdown(state_badge(row["state"]))
        middle.markdown(f"**{text(row['name'])}** ({KINDS[row['kind']]}): "
                        f"{text(row['why'])}")
        query = {k: v[0] for k, v in parse_qs(row["query"]).items()}
        right.page_link(PAGES[row["kind"]], label="Open", query_params=query)
    if items.height > SHOWN:
        with st.expander(f"{items.height - SHOWN} more"):
            show_table(items.slice(SHOWN).select("state", pl.col("name").alias("subject"), "why"),
                       "more needing attention")
    if judged.fitting:
        st.caption(f"Capacity of {len(judged.fitting)} deployment(s) is judged on the seasonal-naive forecast "
                   "while their Prophet fits run in the background.")
