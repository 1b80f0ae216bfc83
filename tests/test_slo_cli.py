"""Spec for `python -m analytics slo` (analytics.cli.slo) on the demo store."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta

import pytest

from analytics.cli import slo as slo_cli
from analytics.errors import InputError, SpecError
from analytics.ingest.demo.fleet import INCIDENTS
from analytics.slo.files import load_slos
from tests.conftest import DEMO_END, ROOT

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
    assert lines[1].split()[:3] == ["SLO", "state", "target"]
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
