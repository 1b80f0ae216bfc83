"""Spec: an incident runs where its budget burned, not as long as its alerts fire, and its
attribution reads that burn.

First on hand-built slot arrays (analytics.review.incidents.burn_stretch), then on generated
telemetry through the store and the weekly review.

Generated telemetry (its own deployment, in 2021, long before the demo; deleted afterwards): one
deployment in two regions, the decoy east with twice the traffic of west. West fails 80% of its
requests for three hours (the page fires); two days later east's error rate rises to 2.5% for six
hours, which on its own spends the budget too slowly to alert anyone, but while the burst is still
inside the 3-day window it fires the 3d/6h ticket again. That ticket joins the burst's alert span
(tickets within 3 days are the same burn, analytics.review.incidents), which then lasts two and a
half days.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from analytics.review import attribution as review_attribution
from analytics.review import incidents as review_incidents
from analytics.review import pipeline as review_pipeline
from analytics.slo.alerts import EPISODE_SCHEMA
from analytics.slo.evaluation import evaluate
from analytics.slo.spec import parse_slo
from analytics.store import conventions
from tests.slo_builders import delete_requests
from tests.test_slo import PER_DAY, T0, make_scope, make_slo

# --- the burn stretch on hand-built slots: 100 requests in every 5-minute slot from T0 ---------

DAY = 20 * PER_DAY  # slot index of T0 + 20 days, 00:00
H = 12  # slots in an hour


def _at(slot: int) -> datetime:
    return T0 + slot * timedelta(minutes=5)


def _evaluation(bad: dict[tuple[int, int], int], **slo_fields):
    """A 99.9% availability SLO over 30 days of 100 requests a slot, `bad` of them failing in the
    slot ranges given, evaluated at the end."""
    ok = np.full(30 * PER_DAY, 100, dtype=np.int64)
    for (a, b), n in bad.items():
        ok[a:b] = 100 - n
    return evaluate(make_slo(**slo_fields), make_scope(np.full(len(ok), 100), ok), _at(len(ok)),
                    replay_from=_at(DAY))


def test_the_burn_stretch_is_the_burst_and_leaves_out_a_noisy_slot_hours_before():
    burst = (DAY + 10 * H, DAY + 13 * H)
    e = _evaluation({burst: 30, (DAY + 7 * H, DAY + 7 * H + 1): 2})  # 2 errors in 100: burn 20, alone
    assert review_incidents.burn_stretch(e, _at(DAY), _at(DAY + PER_DAY)) == (_at(burst[0]), _at(burst[1]))


def test_no_slot_burning_above_rate_one_is_no_stretch():
    e = _evaluation({(DAY, DAY + PER_DAY): 0})
    assert review_incidents.burn_stretch(e, _at(DAY), _at(DAY + PER_DAY)) is None


def test_a_bad_timeslice_burns_from_its_first_slot():
    # one bad hour-long slice (95% target): its budget unit sits on its last slot
    e = _evaluation({(DAY + 10 * H + 3, DAY + 10 * H + 9): 50},
                    budgeting={"method": "timeslices", "slice": "1h", "slice_target": 95})
    assert review_incidents.burn_stretch(e, _at(DAY), _at(DAY + PER_DAY)) == (_at(DAY + 10 * H), _at(DAY + 11 * H))


def _episode(severity: str, start: int, end: int, tiers: str) -> dict:
    return {"severity": severity, "start": _at(start), "end": _at(end), "ongoing": False,
            "duration_min": (end - start) * 5.0, "peak_burn": 20.0, "budget_consumed": 0.0, "tiers": tiers}


def test_a_span_reaches_back_for_its_burn_but_not_into_the_burn_of_the_span_before():
    first, second = (DAY + 10 * H, DAY + 11 * H), (DAY + 13 * H - 2, DAY + 13 * H + 4)
    e = _evaluation({first: 50, second: 30})
    episodes = pl.DataFrame([_episode("page", first[0] + 2, first[1] + 1, "1h/5m"),
                             _episode("page", second[0] + 2, second[1] + 1, "1h/5m, 6h/30m")], schema=EPISODE_SCHEMA)
    spans = review_incidents.slo_spans([dataclasses.replace(e, episodes=episodes)])
    # the second page's 6-hour reach holds the first burst, which is the first span's own
    assert spans.select("start", "end").rows() == [(_at(first[0]), _at(first[1])), (_at(second[0]), _at(second[1]))]
    budget = 0.001 * 30 * PER_DAY * 100  # SRE Workbook ch. 2: (1 - SLO) x valid events
    assert spans["budget_consumed"].to_list() == pytest.approx([12 * 50 / budget, 6 * 30 / budget], rel=1e-12)


def test_a_ticket_spans_the_burn_its_short_window_saw_not_a_bigger_one_days_before():
    earlier, recent = (DAY, DAY + 1), (DAY + 2 * PER_DAY, DAY + 2 * PER_DAY + 1)  # one slot each, 2 days apart
    e = _evaluation({earlier: 8, recent: 5})
    ticket = _episode("ticket", recent[1], recent[1] + 6 * H, "3d/6h")  # its 3-day reach holds both
    spans = review_incidents.slo_spans([dataclasses.replace(e, episodes=pl.DataFrame([ticket], schema=EPISODE_SCHEMA))])
    assert spans.select("start", "end").rows() == [(_at(recent[0]), _at(recent[1]))]


def _judged(rows) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"deployment": pl.String, "region": pl.String, "gpu_type": pl.String,
                                      "model_version": pl.String, "good": pl.Float64, "bad": pl.Float64}, orient="row")


def test_a_version_that_is_all_the_traffic_of_the_burn_stands_out_against_the_traffic_before_it():
    burn = _judged([("a", "r", "L4", "v2", 600.0, 400.0)])  # rolled out just before the burn
    before = _judged([("a", "r", "L4", "v1", 990.0, 10.0)])
    assert review_attribution.attribute(burn).filter(pl.col("dimension") == "model_version")["score"][0] == 0.0
    top = review_attribution.attribute(review_attribution.with_context(burn, before)).row(0, named=True)
    # v2 holds every bad event of the burn (the stretch before adds good events only) and 600 of 1590 good
    assert (top["dimension"], top["value"], top["bad"], top["good"]) == ("model_version", "v2", 400.0, 600.0)
    assert top["score"] == pytest.approx(1 - 600 / 1590, rel=1e-12)


def test_one_error_among_a_bystanders_few_requests_does_not_make_it_affected():
    judged = _judged([("down", "r", "L4", "v1", 5.0, 45.0), ("bystander", "r", "L4", "v1", 55.0, 1.0)])
    # the bystander's 1 in 56 is above a 99.5% allowance (0.28 expected) but well within chance
    assert review_attribution.affected(judged, target=0.995) == ["down"]


# --- generated telemetry through the store and the weekly review ------------------------------

DEPLOYMENT = "burst-chat"
START = datetime(2021, 3, 1, tzinfo=UTC)  # a Monday: ISO week 2021-W09
DAYS = 5
BURST = (START + timedelta(days=1, hours=10), START + timedelta(days=1, hours=13))
LATER = (START + timedelta(days=3, hours=8), START + timedelta(days=3, hours=14))
REGIONS = {  # requests per 5-minute slot, replicas, background error rate
    "burst-east": (40, ("e0", "e1", "e2", "e3"), 0.001),  # the decoy: more traffic
    "burst-west": (20, ("w0", "w1"), 0.001),
}
ERRORS = {"burst-west": (BURST, 0.8), "burst-east": (LATER, 0.025)}
SLO = parse_slo({"name": "burst-availability", "deployments": DEPLOYMENT, "sli": "availability", "target": 99,
                 "window": "30d", "min_events": 50})


def _naive(t: datetime) -> np.datetime64:
    return np.datetime64(t.replace(tzinfo=None), "ms")


def _requests(rng: np.random.Generator) -> pl.DataFrame:
    """Poisson requests per slot and region, failing at the background rate, or at the region's
    injected rate inside its stretch."""
    slots = _naive(START) + np.arange(DAYS * 288) * np.timedelta64(300, "s")
    parts = []
    for region, (per_slot, replicas, background) in REGIONS.items():
        (a, b), rate = ERRORS[region]
        counts = rng.poisson(per_slot, len(slots))
        ts = np.repeat(slots, counts) + rng.integers(0, 300_000, counts.sum()).astype("timedelta64[ms]")
        inside = (ts >= _naive(a)) & (ts < _naive(b))
        failed = rng.random(len(ts)) < np.where(inside, rate, background)
        parts.append(pl.DataFrame({
            "ts": ts, "region": region, "replica": rng.choice(replicas, len(ts)),
            "status": np.where(failed, "error", "ok"), "input_tokens": rng.integers(1, 2000, len(ts)),
        }))
    return pl.concat(parts).with_columns(
        pl.col("ts").dt.replace_time_zone("UTC"), deployment=pl.lit(DEPLOYMENT), model=pl.lit("burst-model"),
        model_version=pl.lit("v1"), gpu_type=pl.lit("L4-24GB"), queue_ms=pl.lit(None, pl.Float32),
        ttft_ms=pl.lit(200.0, pl.Float32), tpot_ms=pl.lit(20.0, pl.Float32), e2e_ms=pl.lit(2000.0, pl.Float32),
        output_tokens=pl.lit(100, pl.UInt32),
    ).cast({"input_tokens": pl.UInt32})


@pytest.fixture(scope="module")
def review(store):
    """The weekly review of 2021-W09 with the one SLO of the generated deployment."""
    store.insert(conventions.REQUESTS, _requests(np.random.default_rng(21)))
    try:
        yield review_pipeline.weekly(store, [SLO], *review_pipeline.iso_week("2021-W09"))
    finally:
        delete_requests(store, "burst-")


def test_the_later_ticket_joins_the_burst_in_one_incident(review):
    assert review.incidents.height == 1, review.incidents
    assert review.spans["episodes"][0] >= 3  # the burst's page and ticket, and the later ticket


def test_the_incident_spans_the_burst_within_a_quarter_hour(review):
    incident = review.incidents.row(0, named=True)
    assert abs(incident["start"] - BURST[0]) <= timedelta(minutes=15), incident
    assert abs(incident["end"] - BURST[1]) <= timedelta(minutes=15), incident
    assert incident["duration_min"] == pytest.approx(180, abs=30)


def test_the_injected_region_ranks_first(review):
    top = review.attribution.filter(pl.col("incident") == 1).row(0, named=True)
    assert (top["rank"], top["dimension"], top["value"]) == (1, "region", "burst-west")
    assert top["bad_share"] > 0.9 and top["z"] > 3
