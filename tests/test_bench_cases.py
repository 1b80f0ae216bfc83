"""The bench table: every case with a target says whether it is met; --browser without its browser
says so in one line."""

from __future__ import annotations

import pytest

from analytics.cli.bench import browser
from analytics.cli.bench.cases import Case, Target, table, under
from analytics.errors import InputError


def _row(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(name))


def test_a_case_over_its_target_is_marked_not_met_and_one_under_it_met():
    text = table([Case("slow", 2.5, "", under(2)), Case("fast", 0.4, "", under(0.5)),
                  Case("ratio", 3.0, "", Target(10, at_least=True), unit="x"), Case("no target", 1.0, "info")])
    assert "NOT MET" in _row(text, "slow") and "<= 2.000 s" in _row(text, "slow")
    assert _row(text, "fast").split()[-1] == "met"
    assert "NOT MET" in _row(text, "ratio") and ">= 10.0x" in _row(text, "ratio")
    assert "met" not in _row(text, "no target").replace("info", "")


def test_a_strict_target_is_not_met_at_its_limit_and_a_missing_value_is_neither():
    assert Target(3, strict=True).met(3.0) is False
    assert under(3).met(3.0) is True
    assert under(3).met(float("nan")) is None
    assert "-" in _row(table([Case("unmeasured", float("nan"), "", under(1))]), "unmeasured")


def test_the_browser_bench_without_chromium_says_so_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(browser, "CHROMIUM", str(tmp_path / "no-chromium"))
    with pytest.raises(InputError) as raised:
        browser.check_available()
    assert "\n" not in str(raised.value) and "no-chromium" in str(raised.value)


def test_p90_is_the_nearest_rank():
    assert browser._spread([1.0]) == (1.0, 1.0)
    assert browser._spread([float(i) for i in range(1, 11)]) == (5.5, 9.0)


def test_a_plain_name_seconds_note_row_still_prints_without_a_verdict():
    row = _row(table([("plain", 1.5, "a note")]), "plain")
    assert "1.500 s" in row and "a note" in row and "met" not in row.replace("a note", "")


def test_the_browser_bench_reads_the_servers_warm_up_times_from_its_log():
    log = ("2026-11-30 07:59:24.182 Uvicorn server started on 127.0.0.1:48961\n"
           "2026-11-30 07:59:38.270 warm-up: Overview ready 15.7 s after start\n"
           "2026-11-30 07:59:51.002 warm-up: done 28.3 s after start\n")
    assert browser.warm_up(log) == {"Overview ready": 15.7, "done": 28.3}
    assert browser.warm_up("2026-11-30 07:59:38.270 warm-up stopped: refused\n") == {}
