"""Cached loaders for the SLO and What-if pages (the one place st.cache_data appears for them).

Cache keys are plain values: the SLO file's text and name, the evaluation time, an SLO name.
The list page caches evaluations (small); the What-if page caches one SLO's per-slot arrays
and recomputes scenarios from them on every slider move (milliseconds, no query).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl
import streamlit as st

from analytics.errors import SpecError
from analytics.slo import alerts as slo_alerts
from analytics.slo import budget as slo_budget
from analytics.slo import corrections as slo_corrections
from analytics.slo.evaluation import Evaluation, evaluate_all, status_frame
from analytics.slo.files import PROJECT_SLO_FILE, parse_text
from analytics.slo.groups import roll_up
from analytics.slo.objectives import objectives_by_deployment
from analytics.slo.pipeline import add_correction as add_to_store
from analytics.slo.pipeline import load_data
from analytics.slo.pipeline import stored_corrections as stored_in_store
from analytics.slo.pipeline import withdraw_correction as withdraw_in_store
from analytics.slo.sli import ScopeData
from analytics.slo.spec import Slo, evaluation_time
from analytics.slo.whatif import HISTORY
from analytics.store import queries
from analytics.store import slo as slo_queries
from analytics.times import Filters
from ui import format as fmt
from ui.connection import get_store

TTL_S = 60  # like ui.traffic: new telemetry shows within a minute
CONFIG_KEY = "slo_config"  # session state: (yaml text, file name) of an uploaded SLO file


def project_config() -> tuple[str, str]:
    """(text, name) of the project's slos.yaml."""
    return PROJECT_SLO_FILE.read_text(), PROJECT_SLO_FILE.name


def config() -> tuple[str, str]:
    """The SLO file every page uses: an uploaded one (this session) or the project's slos.yaml."""
    if CONFIG_KEY in st.session_state:
        return st.session_state[CONFIG_KEY]
    return project_config()


@st.cache_data(show_spinner=False)
def parse(text: str, source: str) -> tuple[Slo, ...]:
    """SLOs from YAML text (ours or OpenSLO); raises SpecError naming the SLO and field."""
    return parse_text(text, source)


SloFile = tuple[str, str]  # (text, name), as config() returns it


@st.cache_data(ttl=TTL_S, show_spinner=False)
def objectives(slo_file: SloFile) -> dict[str, tuple[Slo, ...]]:
    """Per deployment, the objectives judging its load (analytics.slo.objectives: the SLO file's
    latency and goodput SLOs, else the packaged defaults for its kind)."""
    return objectives_by_deployment(queries.deployments_table(get_store()), parse(*slo_file))


def slos_or_stop() -> tuple[Slo, ...]:
    """The SLOs in use; a broken file stops the page with the same message on every page."""
    text, source = config()
    try:
        return parse(text, source)
    except SpecError as exc:
        st.error(f"The SLO file is invalid: {fmt.text(exc)} (fix it, or load another one on the SLOs page)")
        st.stop()


def at_time(end: datetime) -> datetime:
    """Evaluation time for a filter end: floored to the 5-minute rollup slot."""
    return evaluation_time(end)


@st.cache_data(ttl=TTL_S, show_spinner="Evaluating SLOs…")
def evaluations(text: str, source: str, at: datetime) -> list[Evaluation]:
    """Every SLO evaluated at `at` (one rollup query per scope)."""
    slos = parse(text, source)
    return evaluate_all(slos, load_data(get_store(), slos, at), at)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def status(text: str, source: str, at: datetime) -> pl.DataFrame:
    """The status table, worst first."""
    return status_frame(evaluations(text, source, at))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def catalog(at: datetime) -> pl.DataFrame:
    """(deployment, model, region) seen in the month before `at`, to match SLOs to filters."""
    return slo_queries.catalog(get_store(), at - timedelta(days=35), at)


@dataclass(frozen=True)
class SloView:
    """The SLOs page's first view for one set of filters."""

    at: datetime  # the evaluation time: the filters' end, floored to the 5-minute slot
    catalog: pl.DataFrame  # (deployment, model, region, kind) seen in the month before `at`
    shown: tuple[str, ...]  # the SLOs covering the filters' deployments and regions
    status: pl.DataFrame  # their status rows, worst first


def load(filters: Filters, slo_file: SloFile) -> SloView:
    """The SLOs page's load, which the warm-up calls too. Composed of loaders cached on the
    evaluation time rather than on the filters, so the Overview's attention list (the same
    evaluations) and every choice of deployments share one evaluation of the SLO file."""
    at = at_time(filters.end)
    seen = catalog(at)
    shown = tuple(s.name for s in parse(*slo_file) if in_filters(s, seen, filters.deployments, filters.regions))
    return SloView(at, seen, shown, status(*slo_file, at).filter(pl.col("slo").is_in(shown)))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def groups(slo_file: SloFile, at: datetime, shown: tuple[str, ...], key: str) -> pl.DataFrame:
    """The shown SLOs' status rolled up by label ``key`` (analytics.slo.groups), worst first."""
    return roll_up([e for e in evaluations(*slo_file, at) if e.slo.name in shown], key)


def in_filters(slo: Slo, catalog_frame: pl.DataFrame, deployments: tuple, regions: tuple) -> bool:
    """True when an SLO covers any of the selected deployments and regions (empty = all)."""
    for row in catalog_frame.iter_rows(named=True):
        if (slo.selector.matches(row["deployment"], row["model"], row["region"], row["kind"])
                and (not deployments or row["deployment"] in deployments)
                and (not regions or row["region"] in regions)):
            return True
    return not deployments and not regions


@st.cache_data(ttl=TTL_S, show_spinner=False)
def detail(text: str, source: str, at: datetime, name: str) -> dict:
    """Series for one SLO's detail view: SLI per hour, burn-down, burn rates, episodes."""
    e = next(x for x in evaluations(text, source, at) if x.slo.name == name)
    s = e.status
    period = e.slo.window.period(s.at)
    pages = tuple(t for t in slo_alerts.tiers_for(period) if t.severity == "page")
    return {
        "sli": slo_budget.sli_series(e.counts, e.grid, s.window_start, s.at, timedelta(hours=1)),
        "burn_down": slo_budget.burn_down(e.slo, e.units, e.grid, s.at),
        "burn": slo_budget.burn_series(e.units, e.slo.target, e.grid, s.window_start, s.at,
                              tuple(t.long_window for t in pages)),
        "thresholds": {f"{t.severity} {t.label}: {t.threshold(period):.3g}": t.threshold(period)
                       for t in pages},
        "episodes": e.episodes,
        "period_end": s.window_start + period,
        # the correction windows the charts shade: the file's and the page's for this SLO
        "corrections": slo_corrections.bands(slo_corrections.for_slo(e.slo, stored_corrections(at)),
                                             s.window_start, s.at),
    }


@st.cache_data(ttl=TTL_S, show_spinner=False)
def stored_corrections(at: datetime) -> tuple[slo_corrections.Correction, ...]:
    """The corrections added on the SLOs page overlapping the year before `at` (the longest window)
    and after it."""
    return stored_in_store(get_store(), at - timedelta(days=366), at + timedelta(days=366))


def add_correction(slos: list[str], start: datetime, duration: str, reason: str, who: str, known) -> None:
    """Store a correction from the SLOs page (analytics.slo.pipeline.add_correction: InputError, nothing written,
    for a bad input) and drop the cached evaluations, so every page counts without it at once."""
    add_to_store(get_store(), slos, start, duration, reason, who, known, datetime.now(UTC))
    _forget_evaluations()


def withdraw_correction(correction: slo_corrections.Correction, reason: str, who: str) -> None:
    """Withdraw a correction added on the SLOs page (analytics.slo.pipeline.withdraw_correction: InputError,
    nothing written, for a bad input); its events count again on every page at once."""
    withdraw_in_store(get_store(), correction, reason, who, datetime.now(UTC))
    _forget_evaluations()


def _forget_evaluations() -> None:
    """Drop the cached corrections and everything evaluated with them."""
    for loader in (stored_corrections, evaluations, status, detail, groups, whatif_scope):
        loader.clear()


def comparison_display(frame: pl.DataFrame) -> pl.DataFrame:
    """The what-if comparison as show_table takes it: raw numbers, one row per measure (registry
    names), so the table formats each row in its own unit and the CSV keeps the raw values."""
    return frame.rename({"current": "current_slo", "proposed": "proposed_slo"})


@st.cache_data(ttl=TTL_S, show_spinner="Loading the SLO's history…")
def whatif_scope(text: str, source: str, at: datetime, name: str) -> ScopeData:
    """One SLO's per-slot arrays over the what-if history (31 days + the longest alert window)."""
    slo = next(s for s in parse(text, source) if s.name == name)
    return load_data(get_store(), [slo], at, goodput_source="joint", start=at - HISTORY)[name]
