"""Each page has one load: the page, the server's warm-up (ui.warmup) and the bench call the same
analytics function with the same filters, so none of them can drift from what the page shows, and
a page opened during the warm-up waits on the warm-up's cache entry (same function, same arguments)."""

from __future__ import annotations

import pytest
import streamlit as st

from analytics.cli.bench import core
from analytics.cli.bench import gpu as gpu_bench
from analytics.gpu import pipeline as gpu_pipeline
from analytics.store import queries
from analytics.times import default_filters
from analytics.traffic import pipeline as traffic_pipeline
from tests.conftest import run_page
from ui import traffic, warmup


@pytest.fixture
def recorded(monkeypatch):
    """The filters each page load is called with, per pipeline, from a cold cache."""
    calls: dict[str, list] = {"overview": [], "gpu": []}

    def recording(name, real):
        def call(store, filters, *rest):
            calls[name].append(filters)
            return real(store, filters, *rest)
        return call

    monkeypatch.setattr(traffic_pipeline, "load", recording("overview", traffic_pipeline.load))
    monkeypatch.setattr(gpu_pipeline, "view", recording("gpu", gpu_pipeline.view))
    monkeypatch.setattr(warmup, "QUIET_S", 0.0)  # the warm-up gives way to nobody here
    st.cache_data.clear()
    traffic.charts_of.clear()
    yield calls
    st.cache_data.clear()
    traffic.charts_of.clear()


def test_the_overview_page_and_the_warm_up_load_it_once_with_the_same_filters(store, recorded):
    at = run_page("app.py")
    assert not at.exception
    assert recorded["overview"] == [default_filters(*queries.data_range(store)[:2])]
    warmup._overview()
    assert len(recorded["overview"]) == 1, "the warm-up's call is the page's cache entry: not loaded again"


def test_the_warm_up_fills_the_entry_the_overview_page_then_reads(store, recorded):
    warmup._overview()
    at = run_page("app.py")
    assert not at.exception
    assert len(recorded["overview"]) == 1


def test_the_bench_times_the_numbers_the_overview_page_shows(store, recorded):
    at = run_page("app.py")
    assert not at.exception
    [filters] = recorded["overview"]
    shown = traffic.load(filters)  # the page's cached entry
    benched = core.overview_page(store, filters)
    assert recorded["overview"][-1] == filters
    assert benched.fleet == shown.fleet and benched.fleet["requests"] > 0
    assert benched.per_deployment.equals(shown.per_deployment)
    assert benched.movers.equals(shown.movers) and benched.compared == shown.compared


def test_the_gpu_page_the_warm_up_and_the_bench_call_one_gpu_load(store, recorded):
    at = run_page("pages/3_GPU_efficiency.py")
    assert not at.exception
    [filters] = recorded["gpu"]
    assert filters == default_filters(*queries.data_range(store)[:2])
    warmup._other_pages()
    assert recorded["gpu"] == [filters], "the warm-up's GPU load is the page's cache entry"
    gpu_bench.page(store, filters)
    assert recorded["gpu"] == [filters, filters]
