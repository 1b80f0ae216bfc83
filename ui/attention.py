"""The fleet verdict and the attention list (analytics.review.verdicts), loaded and drawn once for
every page that shows them: the Overview opens with them, the SLOs page uses the same states.

SLO states come from the SLO evaluations the SLOs page caches; capacity states from the Capacity
page's default scenario (cached fits, or the seasonal-naive stand-in while Prophet fits in the
background), so the Overview never waits for a forecast.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs

import polars as pl
import streamlit as st

from analytics.capacity import pipeline as capacity_pipeline
from analytics.capacity.demand import HOUR
from analytics.review import verdicts as review_verdicts
from analytics.slo.state import STATES, STYLE
from ui import capacity as fd
from ui import slo as slo_ui
from ui.format import text
from ui.tables import show_table

SHOWN = 8  # attention items listed before the rest fold into a table
# The page that explains a verdict, by its kind (analytics.review.verdicts.Verdict.kind); the
# verdict's query selects the SLO or the deployment there.
PAGES = {"slo": "pages/1_SLOs.py", "capacity": "pages/4_Capacity.py"}


@dataclass(frozen=True)
class Judged:
    """Every verdict in view, and the deployments whose capacity is judged on a stand-in forecast."""

    verdicts: tuple[review_verdicts.Verdict, ...]
    fitting: tuple[str, ...]


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
    assessment, _, _, fitting = fd.assessment(fd.default_scenario(start, stop, regions, names), slo_file)
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
    slos = slo_verdicts(slo_file, slo_ui.at_time(end), deployments, regions)
    capacity, fitting = capacity_verdicts(slo_file, data_start, end, deployments, regions)
    return Judged(tuple(slos + capacity), fitting)


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
    st.markdown(f"### Fleet: {state_badge(fleet)}")
    st.caption(f"{len(judged.verdicts)} judged (SLOs, deployments' capacity, GPU pools): {summary}.")
    if items.is_empty():
        st.success("Nothing needs attention: no SLO is burning, at risk or breached, and no deployment or GPU "
                   "pool runs short within the forecast horizon.")
    for row in items.head(SHOWN).iter_rows(named=True):
        left, middle, right = st.columns([2, 7, 1], vertical_alignment="center")
        left.markdown(state_badge(row["state"]))
        middle.markdown(f"**{text(row['name'])}** ({'SLO' if row['kind'] == 'slo' else 'capacity'}): "
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
