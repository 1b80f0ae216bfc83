"""The what-if sliders' scales: targets move in nines, thresholds snap to histogram edges.

Reference numbers are worked by hand: nines(t) = -log10(1 - t/100).
"""

from __future__ import annotations

import pytest

from analytics.histogram import is_edge
from analytics.slo.whatif import nearest_edge, nearest_target_stop, nines, target_stops, threshold_stops


def test_the_target_scale_runs_from_one_to_five_nines_through_the_usual_targets():
    stops = target_stops()
    assert stops[0] == 90.0 and stops[-1] == 99.999
    assert {90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999} <= set(stops)
    assert list(stops) == sorted(set(stops))
    assert [repr(s) for s in stops[18:22]] == ["99.9", "99.92", "99.94", "99.95"]  # no float noise


def test_one_arrow_key_is_a_small_step_in_nines_anywhere_on_the_scale():
    # the widest step is 2 -> 1.5 -> 1 (x 4/3 and x 3/2 on the miss): log10(1.5) = 0.176 nines
    positions = [nines(s) for s in target_stops()]
    steps = [b - a for a, b in zip(positions, positions[1:], strict=False)]
    assert max(steps) == pytest.approx(0.1761, abs=1e-4)
    assert min(steps) == pytest.approx(0.0792, abs=1e-4)  # 6 -> 5 and 3 -> 2.5: log10(1.2)


@pytest.mark.parametrize(("target", "expected"), [
    (90, 1.0), (99, 2.0), (99.9, 3.0), (99.99, 4.0), (99.5, 2.30103), (99.95, 3.30103)],
    ids=["one nine", "two nines", "three nines", "four nines", "99.5 is log10(200)", "99.95 is log10(2000)"])
def test_nines_are_minus_log10_of_the_miss(target, expected):
    assert nines(target) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("bad", [0, 100, 120, -5])
def test_a_target_outside_0_to_100_percent_has_no_position(bad):
    with pytest.raises(ValueError, match="strictly between 0 and 100"):
        nines(bad)


@pytest.mark.parametrize(("typed", "stop"), [
    (99.5, 99.5),        # a stop maps to itself
    (99.93, 99.92),      # 3.155 nines: 99.92 is 3.097 (0.058 away), 99.94 is 3.222 (0.067 away)
    (99.935, 99.94),     # 3.187 nines: 99.94 is 0.035 away, 99.92 0.090
    (98.3, 98.5),        # miss 1.7%: 1.5% is log10(1.7/1.5) = 0.054 away, 2% is 0.071
    (50, 90.0),          # below the scale: its first stop
    (99.9999, 99.999),   # beyond five nines: the last stop
], ids=["a stop", "99.93 is nearer 99.92", "99.935 is nearer 99.94", "98.3 is nearer 98.5",
        "50% clamps to 90%", "six nines clamp to five"])
def test_a_typed_target_shows_the_slider_at_the_nearest_stop_in_nines(typed, stop):
    assert nearest_target_stop(typed) == stop


def test_threshold_stops_are_histogram_edges_around_the_current_threshold():
    stops = threshold_stops(600.0)
    assert stops == (150.0, 200.0, 250.0, 300.0, 400.0, 500.0, 600.0, 800.0, 1000.0, 1200.0, 1500.0, 2000.0)
    assert all(is_edge(s) for s in stops)


def test_a_current_threshold_between_edges_still_has_its_nearest_edge_on_the_slider():
    # 630 ms lies between the edges 600 and 800: 600 is nearer in log (ln(630/600) = 0.049 < ln(800/630) = 0.239)
    assert nearest_edge(630.0) == 600.0
    assert 600.0 in threshold_stops(630.0)
    assert threshold_stops(630.0)[0] == 200.0 and threshold_stops(630.0)[-1] == 2500.0  # 157.5 .. 2520 ms


@pytest.mark.parametrize(("typed", "edge"), [(700.0, 800.0), (690.0, 600.0), (0.2, 1.0), (5e6, 800_000.0)],
                         ids=["700 is nearer 800 in log", "690 is nearer 600", "below 1 ms: the first edge",
                              "beyond 800 s: the last edge"])
def test_a_typed_threshold_snaps_to_the_nearest_edge_on_a_log_scale(typed, edge):
    # geometric midpoint of 600 and 800 is sqrt(480000) = 692.8 ms
    assert nearest_edge(typed) == edge


def test_a_typed_threshold_outside_the_slider_shows_the_slider_at_its_end():
    stops = threshold_stops(600.0)
    assert nearest_edge(5000.0, stops) == 2000.0
    assert nearest_edge(10.0, stops) == 150.0


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_a_threshold_that_is_not_a_positive_number_has_no_edge(bad):
    with pytest.raises(ValueError, match="positive number of ms"):
        nearest_edge(bad)
