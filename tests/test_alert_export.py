"""Spec for `python -m analytics alerts export` (analytics.cli.alerts, analytics.slo.export,
analytics.store.alert_sql): Grafana rules that compute the burn rates and alert states the app does."""

from __future__ import annotations

import argparse
import math
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from analytics.cli import alerts as alerts_cli
from analytics.cli import slo as slo_cli
from analytics.errors import InputError
from analytics.ingest.demo.fleet import INCIDENTS
from analytics.slo import export as slo_export
from analytics.slo.evaluation import evaluate_all
from analytics.slo.files import load_slos
from analytics.slo.pipeline import load_data
from analytics.slo.spec import format_duration, revise
from analytics.store import alert_sql
from tests.conftest import DEMO_END, ROOT

SLOS = load_slos(ROOT / "slos.yaml")
OUTAGE = next(i for i in INCIDENTS if i.kind == "region_outage")
REGRESSION = next(i for i in INCIDENTS if i.kind == "latency_regression")
INSTANTS = (
    DEMO_END - REGRESSION.starts_before_end + timedelta(hours=6),  # latency and goodput of chat-llama3-8b-use burn
    DEMO_END - OUTAGE.starts_before_end + timedelta(minutes=30),  # the eu-west outage pages
    DEMO_END - OUTAGE.starts_before_end + timedelta(hours=5, minutes=2),  # mid-slot: floored like the app
    DEMO_END - timedelta(days=3, hours=7),
    DEMO_END,
)


@pytest.fixture(scope="module")
def exported(store, tmp_path_factory):
    """The command's output folder for the project's SLOs: SLO name -> parsed YAML."""
    out = tmp_path_factory.mktemp("alerts")
    parser = argparse.ArgumentParser()
    alerts_cli.add_arguments(parser)
    assert alerts_cli.run(parser.parse_args(["export", "--out", str(out), "--dashboard-url", "https://slo.example/"]),
                          store) == 0
    return {path.stem: yaml.safe_load(path.read_text()) for path in sorted(out.glob("*.yaml"))}


def at_instant(sql: str, at: datetime) -> str:
    """The rule's SQL as Grafana renders it at an evaluation time (the $__toTime macro)."""
    return sql.replace(alert_sql.EVALUATION_TIME, f"toDateTime({int(at.timestamp())}, 'UTC')")


def rules_by_tier(document: dict) -> dict[str, dict]:
    rules = document["groups"][0]["rules"]
    return {f"{r['labels']['severity']} {r['title'].rsplit(' ', 1)[1]}": r for r in rules}


def threshold_of(rule: dict) -> float:
    condition = next(d for d in rule["data"] if d["refId"] == rule["condition"])
    return condition["model"]["conditions"][0]["evaluator"]["params"][0]


def test_every_exportable_slo_gets_one_file_with_a_rule_per_tier(exported):
    exportable = [s for s in SLOS if slo_export.exportable(s) is None]
    assert sorted(exported) == sorted(s.name for s in exportable)
    for slo in exportable:
        document = exported[slo.name]
        assert document["apiVersion"] == 1
        (group,) = document["groups"]
        assert [r["title"] for r in group["rules"]] == [f"{slo.name} {t.severity} {t.label}"
                                                         for t in slo_export.tiers(slo)]
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("page", "ticket")
            assert rule["annotations"]["dashboard_url"] == f"https://slo.example/SLOs?slo={slo.name}"
            assert rule["annotations"].get("description", "") == slo.description
            assert [d["refId"] for d in rule["data"]] == ["A", "B", "C"] and rule["condition"] == "C"
            assert [d["model"].get("type") for d in rule["data"][1:]] == ["reduce", "threshold"]


def test_a_28_day_slo_pages_at_the_sre_workbook_burn_rates(exported):
    rules = rules_by_tier(exported["fleet-availability"])
    # budget share x 28 d / long window (SRE Workbook ch. 5, Table 5-8, scaled from 30 to 28 days)
    assert {tier: threshold_of(r) for tier, r in rules.items()} == pytest.approx(
        {"page 1h/5m": 13.44, "page 6h/30m": 5.6, "ticket 1d/2h": 2.8, "ticket 3d/6h": 0.933333})


def test_exported_sql_gives_the_apps_burn_rates_and_alert_states_at_several_instants(store, exported):
    fired = 0
    for at in INSTANTS:
        evaluations = {e.slo.name: e for e in evaluate_all(SLOS, load_data(store, SLOS, at), at)}
        for name, document in exported.items():
            evaluation = evaluations[name]
            rules = rules_by_tier(document)
            firing_in_json = {(a["severity"], a["long_window"]) for a in slo_cli.to_json(evaluation)["alerts"]}
            for state in evaluation.alerts:
                tier = state.tier
                rule = rules[f"{tier.severity} {tier.label}"]
                sql = rule["data"][0]["model"]["rawSql"]
                value = store.query(at_instant(sql, at))["burn"][0]
                enough = state.events_long >= max(evaluation.slo.min_events, 1)
                expected = min(_zero_nan(state.burn_long), _zero_nan(state.burn_short)) if enough else 0.0
                # calendar windows: the burn scaled from the period at `at` to the rule's reference period
                reference = slo_export.reference_period(evaluation.slo)
                expected *= reference / evaluation.slo.window.period(at)
                where = f"{name} {tier.label} at {at:%Y-%m-%d %H:%M}"
                assert value == pytest.approx(expected, rel=1e-9, abs=1e-12), where
                assert threshold_of(rule) == pytest.approx(tier.threshold(reference), rel=1e-6), where
                firing = value > threshold_of(rule)
                assert firing == state.firing, where
                assert firing == ((tier.severity, format_duration(tier.long_window)) in firing_in_json), where
                fired += firing
    assert fired >= 2, "the eu-west outage should fire rules, or the comparison says little"


def test_each_window_burn_matches_the_app_and_a_hand_count_of_raw_requests(store):
    slo = next(s for s in SLOS if s.name == "eu-west-availability")
    at = INSTANTS[1]
    (evaluation,) = evaluate_all([slo], load_data(store, [slo], at), at)
    page = evaluation.alerts[0]
    assert page.tier.label == "1h/5m"
    deployments = tuple(sorted(store.query(
        "SELECT DISTINCT deployment FROM requests_5m WHERE region = 'eu-west'")["deployment"]))
    windows = alert_sql.windows_sql("availability", None, (), deployments, ("eu-west",), slo.target, 3600, 300,
                                    "2419200")
    row = store.query(at_instant(windows, at)).row(0, named=True)
    assert row["burn_long"] == pytest.approx(page.burn_long, rel=1e-9)
    assert row["burn_short"] == pytest.approx(page.burn_short, rel=1e-9)
    # by hand from the raw requests: bad = valid - ok in [at - 1 h, at), burn = bad / valid / (1 - 0.995)
    raw = store.query("SELECT countIf(status != 'unknown') AS valid, countIf(status = 'ok') AS good FROM requests "
                      "WHERE region = 'eu-west' AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}",
                      {"start": at - timedelta(hours=1), "end": at}).row(0, named=True)
    assert row["events_long"] == raw["valid"]
    # on the demo store: 155 valid, 84 ok, so 71 / 155 / 0.005 = 91.6, far above the 1h page's 13.44
    assert row["burn_long"] == pytest.approx((raw["valid"] - raw["good"]) / raw["valid"] / 0.005, rel=1e-9)
    assert row["burn_long"] > 13.44


def test_a_latency_threshold_between_bucket_edges_is_interpolated_as_the_app_does(store):
    slo = next(s for s in SLOS if s.name == "chat-ttft")
    at = INSTANTS[0]
    between = revise(slo, sli={"latency": {"field": "ttft_ms", "threshold_ms": 1700}})
    data = load_data(store, [between], at)
    (evaluation,) = evaluate_all([between], data, at)
    deployments = data[between.name].deployments
    windows = alert_sql.windows_sql("latency", "ttft_ms", (1700.0,), deployments, (), between.target, 86400, 7200,
                                    "2419200")
    row = store.query(at_instant(windows, at)).row(0, named=True)
    state = next(s for s in evaluation.alerts if s.tier.label == "1d/2h")
    assert not evaluation.status.exact
    assert row["burn_long"] == pytest.approx(state.burn_long, rel=1e-9)
    assert row["burn_short"] == pytest.approx(state.burn_short, rel=1e-9)


@pytest.mark.parametrize("tpot_ms", [30.0, 33.0])
def test_goodput_counts_the_joint_rollup_on_edges_and_the_raw_requests_between(store, tpot_ms):
    slo = revise(next(s for s in SLOS if s.name == "chat-llama3-8b-use-goodput"),
                 sli={"goodput": {"ttft_ms": 1000, "tpot_ms": tpot_ms}})
    at = INSTANTS[0]
    data = load_data(store, [slo], at)
    (evaluation,) = evaluate_all([slo], data, at)
    windows = alert_sql.windows_sql("goodput", None, (1000.0, tpot_ms), data[slo.name].deployments, (),
                                    slo.target, 86400, 7200, "2419200")
    row = store.query(at_instant(windows, at)).row(0, named=True)
    state = next(s for s in evaluation.alerts if s.tier.label == "1d/2h")
    assert ("requests_goodput_5m" in windows) == (tpot_ms == 30.0)
    assert row["events_long"] == state.events_long > 0
    assert row["burn_long"] == pytest.approx(state.burn_long, rel=1e-9)
    assert row["burn_short"] == pytest.approx(state.burn_short, rel=1e-9)


@pytest.mark.parametrize("name", ["fraud-scoring-latency", "embeddings-latency"])
def test_timeslice_budgets_count_complete_slices_in_each_window_as_the_app_does(store, name):
    """fraud-scoring-latency: 5-minute slices, bad below 95 %; embeddings-latency: 1-hour slices, each
    contributing 1 - its ratio (ratio_timeslices)."""
    slo = next(s for s in SLOS if s.name == name)
    for at in INSTANTS[:3]:
        data = load_data(store, [slo], at)
        (evaluation,) = evaluate_all([slo], data, at)
        for state in evaluation.alerts:
            tier = state.tier
            windows = alert_sql.windows_sql(
                "latency", "e2e_ms", (slo.sli.threshold_ms,), data[name].deployments, (), slo.target,
                int(tier.long_window.total_seconds()), int(tier.short_window.total_seconds()), "0",
                slo.budgeting.method, int(slo.budgeting.slice.total_seconds()), slo.budgeting.slice_target)
            row = store.query(at_instant(windows, at)).row(0, named=True)
            where = f"{name} {tier.label} at {at:%Y-%m-%d %H:%M}"
            for column in ("burn_long", "burn_short"):
                app = getattr(state, column)
                assert (math.isnan(row[column]) and math.isnan(app)) or row[column] == pytest.approx(app, rel=1e-9), where
            assert row["events_long"] == state.events_long, where
    assert any(s.burn_long > 0 for s in evaluation.alerts), "some slices were bad, or the check says little"


def test_a_calendar_month_rule_fires_at_the_threshold_of_the_month_it_judges(store, tmp_path):
    """October 2026 in Berlin is 31 days and 1 hour (DST ends on the 25th), November 30 days; the
    rules' thresholds are for 31 days, so the query scales the burn by 31 d / the month's length."""
    slo = revise(next(s for s in SLOS if s.name == "eu-west-availability"), window="calendar-month",
                 timezone="Europe/Berlin")
    documents, notes = alerts_cli.grafana_documents(store, [slo], "clickhouse", "SLOs", "http://localhost:8501")
    rules = rules_by_tier(documents[slo.name])
    assert threshold_of(rules["page 1h/5m"]) == pytest.approx(0.02 * 31 * 24)  # 2% of 31 days in 1 h
    for at in (INSTANTS[1], datetime(2026, 11, 1, 0, 0, tzinfo=UTC)):  # in October; Nov 1 01:00 Berlin
        (evaluation,) = evaluate_all([slo], load_data(store, [slo], at), at)
        period = slo.window.period(at)
        assert period in (timedelta(days=31, hours=1), timedelta(days=30))
        for state in evaluation.alerts:
            rule = rules[f"{state.tier.severity} {state.tier.label}"]
            row = store.query(at_instant(rule["data"][0]["model"]["rawSql"], at)).row(0, named=True)
            assert (row["burn"] > threshold_of(rule)) == state.firing
            enough = state.events_long >= slo.min_events
            expected = min(_zero_nan(state.burn_long), _zero_nan(state.burn_short)) if enough else 0.0
            assert row["burn"] == pytest.approx(expected * timedelta(days=31) / period, rel=1e-9)


def test_prometheus_format_is_refused_with_what_it_needs(store, tmp_path):
    parser = argparse.ArgumentParser()
    alerts_cli.add_arguments(parser)
    args = parser.parse_args(["export", "--format", "prometheus", "--out", str(tmp_path / "rules")])
    with pytest.raises(InputError, match="^--format prometheus needs SLIs computed from Prometheus metrics") as raised:
        alerts_cli.run(args, store)
    assert "\n" not in str(raised.value) and not (tmp_path / "rules").exists()


def test_names_reach_the_sql_as_escaped_literals():
    assert alert_sql.string_literal("o'brien\\x") == "'o\\'brien\\\\x'"


def _zero_nan(value: float) -> float:
    return 0.0 if math.isnan(value) else value
