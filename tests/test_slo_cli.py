"""Spec for `python -m analytics slo` (analytics.cli.slo) on the demo store."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import pytest

from analytics.cli import slo as slo_cli
from analytics.errors import InputError, SpecError
from analytics.ingest.demo.fleet import INCIDENTS
from analytics.slo.files import load_slos
from tests.conftest import DEMO_END, ROOT
from tests.slo_builders import delete_requests, insert_requests

REQUIRED = {"name", "target", "window", "attainment", "good", "valid", "budget_remaining", "burn_rate_1h", "alerts"}


def run(store, capsys, *argv):
    parser = argparse.ArgumentParser()
    slo_cli.add_arguments(parser)
    code = slo_cli.run(parser.parse_args(list(argv)), store)
    return code, capsys.readouterr()


def test_json_lists_every_slo_with_the_contract_fields(store, capsys):
    code, out = run(store, capsys, "--json", "--at", DEMO_END.isoformat())
    assert code == 0
    items = json.loads(out.out)
    assert len(items) == len(load_slos(ROOT / "slos.yaml"))
    for item in items:
        assert REQUIRED <= set(item)
        assert 0 < item["target"] < 1 and item["valid"] >= item["good"] >= 0


def test_json_alerts_name_severity_threshold_and_windows_during_an_outage(store, capsys):
    outage = next(i for i in INCIDENTS if i.kind == "region_outage")
    at = DEMO_END - outage.starts_before_end + timedelta(minutes=30)
    code, out = run(store, capsys, "--json", "--at", at.isoformat().replace("+00:00", "Z"))
    eu = next(i for i in json.loads(out.out) if i["name"] == "eu-west-availability")
    assert any(a["severity"] == "page" for a in eu["alerts"]), "the eu-west outage pages half an hour in"
    # the 28-day tiers of the SRE Workbook table (burn = budget share x 28 d / long window)
    tiers = {("page", "1h", "5m"): 13.44, ("page", "6h", "30m"): 5.6,
             ("ticket", "1d", "2h"): 2.8, ("ticket", "3d", "6h"): 0.933333}
    for alert in eu["alerts"]:
        threshold = tiers[(alert["severity"], alert["long_window"], alert["short_window"])]
        assert alert["burn_threshold"] == pytest.approx(threshold)
        assert alert["burn_long"] > threshold and alert["burn_short"] > threshold


def test_the_table_shows_each_slo_once(store, capsys):
    code, out = run(store, capsys, "--at", DEMO_END.isoformat())
    assert code == 0
    lines = out.out.splitlines()
    assert lines[1].split()[:3] == ["SLO", "State", "Target"]  # the column registry's labels
    names = [line.split()[0] for line in lines[2:]]
    assert sorted(names) == sorted(s.name for s in load_slos(ROOT / "slos.yaml"))


def test_without_at_it_evaluates_at_the_end_of_the_data(store, capsys):
    code, out = run(store, capsys, "--json")
    first = json.loads(out.out)[0]
    assert first["at"] == DEMO_END.isoformat()


def test_an_openslo_file_is_accepted(store, capsys):
    code, out = run(store, capsys, "--json", "--at", DEMO_END.isoformat(),
                    "--config", str(ROOT / "tests" / "data" / "openslo" / "availability-good-total.yaml"))
    (item,) = json.loads(out.out)
    assert item["name"] == "chat-availability" and item["target"] == 0.999


def test_an_invalid_config_names_the_slo_and_field(store, capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("slos:\n  - {name: x, sli: availability, target: 101, window: 28d}\n")
    with pytest.raises(SpecError, match="SLO 'x': target"):
        run(store, capsys, "--config", str(bad))


def test_a_bad_time_is_an_input_error(store, capsys):
    with pytest.raises(InputError, match="ISO-8601"):
        run(store, capsys, "--at", "yesterday")


# --- partial windows, unmeasured outcomes, digits, budgets in time -----------------------

PROBE_END = datetime(2022, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def hour_store(store):
    """58 minutes of traffic before PROBE_END: 'cli-web' all ok, 'cli-trace' arrival-only
    (status unknown); deleted when the module is done."""
    insert_requests(store, [(PROBE_END - timedelta(minutes=58 - m, seconds=-k), d, s, None, None, 50.0)
                            for m in range(58) for k in range(10)
                            for d, s in (("cli-web", "ok"), ("cli-trace", "unknown"))])
    yield store
    delete_requests(store, "cli-")


HOUR_SLOS = """slos:
  - {name: web-28d, deployments: cli-web, sli: availability, target: 99.9, window: 28d}
  - {name: web-5nines, deployments: cli-web, sli: availability, target: 99.999, window: 28d}
  - {name: trace-28d, deployments: cli-trace, sli: availability, target: 99.9, window: 28d}
"""


@pytest.fixture
def hour_config(tmp_path):
    path = tmp_path / "hour.yaml"
    path.write_text(HOUR_SLOS)
    return str(path)


def test_an_hour_of_traffic_is_reported_as_its_share_of_a_28_day_window(hour_store, capsys, hour_config):
    code, out = run(hour_store, capsys, "--json", "--at", PROBE_END.isoformat(), "--config", hour_config)
    web = next(i for i in json.loads(out.out) if i["name"] == "web-28d")
    assert web["window_covered"] == pytest.approx(1 / 672) and web["complete_history"] is False
    assert web["data_start"] == (PROBE_END - timedelta(hours=1)).isoformat()
    code, out = run(hour_store, capsys, "--at", PROBE_END.isoformat(), "--config", hour_config)
    row = next(line for line in out.out.splitlines() if line.startswith("web-28d "))
    assert "0.15%" in row.split()
    assert "note: web-28d: data covers only 0.15% of its 28d window" in out.err


def test_arrival_only_traffic_is_no_data_not_a_breach(hour_store, capsys, hour_config):
    code, out = run(hour_store, capsys, "--json", "--at", PROBE_END.isoformat(), "--config", hour_config)
    trace = next(i for i in json.loads(out.out) if i["name"] == "trace-28d")
    assert (trace["state"], trace["attainment"], trace["valid"], trace["alerts"]) == ("no data", None, 0, [])
    code, out = run(hour_store, capsys, "--at", PROBE_END.isoformat(), "--config", hour_config)
    row = next(line for line in out.out.splitlines() if line.startswith("trace-28d "))
    assert row.split()[1:3] == ["no", "data"] and "0.000%" not in row
    assert "note: trace-28d: no data" in out.err


def test_the_table_prints_a_target_with_all_its_nines(hour_store, capsys, hour_config):
    code, out = run(hour_store, capsys, "--at", PROBE_END.isoformat(), "--config", hour_config)
    row = next(line for line in out.out.splitlines() if line.startswith("web-5nines "))
    assert "99.999%" in row.split() and "100.00%" not in row


def test_the_table_and_json_give_the_budget_as_time(hour_store, capsys, hour_config):
    # 99.9% of the 60 covered minutes at the hour's mean rate: 0.06 min (SRE Workbook ch. 2)
    code, out = run(hour_store, capsys, "--json", "--at", PROBE_END.isoformat(), "--config", hour_config)
    web = next(i for i in json.loads(out.out) if i["name"] == "web-28d")
    assert web["budget_minutes"] == pytest.approx(0.06) and "mean rate" in web["budget_time_basis"]
    code, out = run(hour_store, capsys, "--at", PROBE_END.isoformat(), "--config", hour_config)
    assert "0.06 of 0.06 min" in next(line for line in out.out.splitlines() if line.startswith("web-28d "))
