"""Spec: every SLI count the SLO engine reports from the real store (rollup through the real
materialized view, the raw joint histogram, the raw targeted count) holds the exact count of
good and valid events computed request by request in Python, for every SLI kind and goodput
source, at thresholds on and between bucket edges.

Definitions (analytics.slo.spec): availability good = status ok, valid = a known status
('unknown' is neither good nor bad); latency good = field <= threshold, valid = ok requests
with the field; goodput good = ttft <= a AND tpot <= b, valid = ok requests with both fields.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.slo.pipeline import load_scope
from analytics.slo.sli import day_grid, sli_counts
from analytics.slo.spec import Sli
from analytics.store import conventions
from tests.slo_builders import delete_requests, insert_requests

# Probe requests go to their own deployments in 2021, long before the demo, and are deleted
# afterwards, so the shared session store is left as the other tests expect it.
PROBE_START = datetime(2021, 3, 1, tzinfo=UTC)
_ids = itertools.count()


def _f32(x):
    return None if x is None else float(np.float32(x))


def insert(store, deployment: str, rows: list[tuple]) -> None:
    """rows: (second offset, status, ttft_ms, tpot_ms, e2e_ms)."""
    insert_requests(store, [(PROBE_START + timedelta(seconds=s), deployment, *rest) for s, *rest in rows])


@pytest.fixture(scope="module")
def probe_store(store):
    """The session store; the probe deployments are deleted once the module is done."""
    yield store
    delete_requests(store, "bounds-")


def exact_counts(rows, sli: Sli) -> tuple[int, int]:
    """(good, valid) counted request by request, with the stored float32 values."""
    good = valid = 0
    for _, status, ttft, tpot, e2e in rows:
        ttft, tpot, e2e = _f32(ttft), _f32(tpot), _f32(e2e)
        if sli.kind == "availability":
            valid += status != "unknown"
            good += status == "ok"
        elif sli.kind == "latency":
            value = {"ttft_ms": ttft, "tpot_ms": tpot, "e2e_ms": e2e}[sli.field]
            if status == "ok" and value is not None:
                valid += 1
                good += value <= sli.threshold_ms
        elif status == "ok" and ttft is not None and tpot is not None:
            valid += 1
            good += ttft <= sli.ttft_ms and tpot <= sli.tpot_ms
    return good, valid


def load(store, deployment: str, targeted: tuple, joint: bool):
    grid = day_grid(PROBE_START, PROBE_START + timedelta(hours=2))
    return load_scope(store, grid, (deployment,), (), ("ttft_ms", "tpot_ms", "e2e_ms"), joint=joint,
                      targeted=targeted)


def assert_holds(counts, good: int, valid: int) -> None:
    """The window's attainment bounds contain the exact attainment (and the counts, when valid is exact)."""
    lower, upper, n = counts.good_lower.sum(), counts.good_upper.sum(), counts.valid.sum()
    if valid == 0:
        assert n == 0 or counts.good_lower.sum() == 0
        return
    assert n > 0
    assert lower / n <= good / valid + 1e-12, (lower, n, good, valid)
    assert good / valid <= upper / n + 1e-12, (upper, n, good, valid)
    assert lower <= counts.good.sum() <= upper
    if counts.exact:
        assert (counts.good.sum(), n) == (good, valid)


edges = [float(e) for e in conventions.EDGES_MS[:40]]
threshold = st.one_of(st.sampled_from(edges), st.floats(0.5, 2e4).map(_f32))
latency = st.one_of(st.none(), st.sampled_from(edges), st.floats(0.125, 2e4, width=32))
request = st.tuples(st.integers(0, 7199), st.sampled_from(conventions.STATUSES), latency, latency, latency)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(request, min_size=1, max_size=200), a=threshold, b=threshold, t=threshold,
       field=st.sampled_from(("ttft_ms", "tpot_ms", "e2e_ms")))
def test_reported_bounds_always_contain_the_exact_count_for_every_sli_and_goodput_source(
        probe_store, rows, a, b, t, field):
    deployment = f"bounds-{next(_ids)}"
    insert(probe_store, deployment, rows)
    goodput = Sli("goodput", ttft_ms=a, tpot_ms=b)
    rollup = load(probe_store, deployment, (), joint=False)
    joint = load(probe_store, deployment, (), joint=True)
    targeted = load(probe_store, deployment, ((a, b),), joint=False)
    for sli, data in ((Sli("availability"), rollup), (Sli("latency", field=field, threshold_ms=t), rollup),
                      (goodput, rollup), (goodput, joint), (goodput, targeted)):
        assert_holds(sli_counts(data, sli), *exact_counts(rows, sli))


def test_goodput_from_the_1d_histograms_bounds_hold_when_some_requests_have_no_tpot(probe_store):
    # The 10 requests: two answered with one token (no TPOT); of the 8 with both fields,
    # 4 are good. ttft <= 500 for 8 of 10, tpot <= 50 for 5 of 8. Exact: 4 / 8 = 0.5.
    ok = [(10, "ok", 100.0, None, 200.0)] * 2
    ok += [(20, "ok", 100.0, 20.0, 900.0)] * 4 + [(30, "ok", 100.0, 80.0, 900.0)] * 2
    ok += [(40, "ok", 900.0, 20.0, 900.0)] + [(50, "ok", 900.0, 80.0, 900.0)]
    deployment = f"bounds-{next(_ids)}"
    insert(probe_store, deployment, ok)
    sli = Sli("goodput", ttft_ms=500.0, tpot_ms=50.0)
    c = sli_counts(load(probe_store, deployment, (), joint=False), sli)
    assert exact_counts(ok, sli) == (4, 8)
    lower, upper, valid = c.good_lower.sum(), c.good_upper.sum(), c.valid.sum()
    assert (lower / valid, upper / valid) == (0.375, 0.625)
    assert not c.exact


def test_goodput_from_the_1d_histograms_is_tight_when_every_ok_request_has_both_fields(probe_store):
    # With TPOT = 0 for one-token answers (the ingest convention), the same requests give 6 of 10,
    # and the rollup knows the valid count exactly: only the joint distribution is bounded.
    rows = [(10, "ok", 100.0, 0.0, 200.0)] * 2
    rows += [(20, "ok", 100.0, 20.0, 900.0)] * 4 + [(30, "ok", 100.0, 80.0, 900.0)] * 2
    rows += [(40, "ok", 900.0, 20.0, 900.0)] + [(50, "ok", 900.0, 80.0, 900.0)]
    deployment = f"bounds-{next(_ids)}"
    insert(probe_store, deployment, rows)
    sli = Sli("goodput", ttft_ms=500.0, tpot_ms=50.0)
    c = sli_counts(load(probe_store, deployment, (), joint=False), sli)
    assert exact_counts(rows, sli) == (6, 10)
    assert (c.good_lower.sum(), c.good_upper.sum(), c.valid.sum()) == (5, 7, 10)
