"""What-if comparisons say why their numbers move: a stricter target that pages less merged episodes."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from analytics.slo.spec import revise
from analytics.slo.whatif import compare, fewer_pages_note
from tests.test_slo import PER_DAY, T0, make_scope, make_slo

AT = T0 + timedelta(days=30)


def _two_bursts():
    """Two 30-minute bursts of 50% errors an hour apart, 1% errors between them, 1,000 requests a slot.

    At 99% (budget 1%) the gap burns at 1: below every page threshold (14.4 for 1h/5m, 6 for 6h/30m
    over 30 days, SRE Workbook Table 5-8), so each burst pages on its own (00:20-00:35 and 01:45-02:30,
    60 min). At 99.9% (budget 0.1%) the gap burns at 10 > 6 over its 30 minutes and the 6 hours, so
    one page runs from the first burst to the end of the second (00:05-02:30, 145 min).
    """
    requests = np.full(30 * PER_DAY, 1000, dtype=np.int64)
    ok = requests.copy()
    start = 20 * PER_DAY
    ok[start:start + 6] = 500
    ok[start + 6:start + 18] = 990
    ok[start + 18:start + 24] = 500
    return make_scope(requests, ok)


def test_a_stricter_target_that_pages_less_says_its_episodes_merged():
    slo = make_slo(target=99.0)
    current, stricter = compare(slo, revise(slo, target=99.9), _two_bursts(), AT)
    assert (current.pages, stricter.pages) == (2, 1)
    assert fewer_pages_note(current, stricter) == (
        "Fewer pages at a stricter target because episodes merge: its smaller budget burns faster, so pages also "
        "fire between bursts and run together (2 pages, 60 min in all, become 1, 145 min).")


def test_no_merge_note_when_the_target_is_looser_or_the_window_changed_too():
    slo, data = make_slo(target=99.9), _two_bursts()
    current, looser = compare(slo, revise(slo, target=99.0), data, AT)
    assert looser.pages > current.pages and fewer_pages_note(current, looser) is None  # it splits the page
    base = make_slo(target=99.0)
    current, other_window = compare(base, revise(base, target=99.9, window="7d"), data, AT)
    assert fewer_pages_note(current, other_window) is None  # other tiers and thresholds: not only merging
    same, unchanged = compare(base, revise(base, target=99.0), data, AT)
    assert fewer_pages_note(same, unchanged) is None
