"""`python -m analytics gpu` (analytics.cli.gpu) against the demo store."""

from __future__ import annotations

import argparse
import json

import pytest

from analytics.cli import gpu as gpu_cli
from analytics.errors import InputError, SpecError
from analytics.ingest.demo import fleet


def run(store, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    gpu_cli.add_arguments(parser)
    return gpu_cli.run(parser.parse_args(list(argv)), store)


def test_json_lists_every_deployment_over_the_last_seven_days_of_data(demo_store, capsys):
    assert run(demo_store, "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["start"], out["end"]) == ("2026-10-25T00:00:00+00:00", "2026-11-01T00:00:00+00:00")
    rows = {r["deployment"]: r for r in out["deployments"]}
    assert set(rows) == {d.deployment for d in fleet.FLEET}
    for key in ("gpu_hours", "cost", "cost_per_1m_output_tokens", "idle_gpu_hours", "mean_sm_active", "goodput_per_gpu"):
        assert key in rows[fleet.OVER_PROVISIONED]
    over = rows[fleet.OVER_PROVISIONED]
    assert over["gpu_hours"] == 8 * 7 * 24  # 8 GPUs x 168 hours
    assert over["cost"] == pytest.approx(over["gpu_hours"] * 2.90)
    assert rows[fleet.NO_PROFILING]["mean_sm_active"] is None and "sm_active" in rows[fleet.NO_PROFILING]["missing"]


def test_the_table_shows_a_dash_for_what_is_not_available(demo_store, capsys):
    assert run(demo_store, "--deployment", fleet.NO_PROFILING, "--deployment", fleet.OVER_PROVISIONED) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("GPU efficiency 2026-10-25 00:00 to 2026-11-01 00:00 UTC")
    assert lines[1].split()[:3] == ["Deployment", "GPU", "type"]  # the column registry's labels
    blind = next(line for line in lines if line.startswith(fleet.NO_PROFILING))
    assert " — " in blind and "SM activity" in blind
    assert len(lines) == 4


def test_price_and_slo_file_options_change_cost_and_goodput(demo_store, capsys, tmp_path):
    args = ("--json", "--deployment", fleet.OVER_PROVISIONED, "--start", "2026-10-31T00:00:00Z", "--end", "2026-11-01")
    run(demo_store, *args)
    base = json.loads(capsys.readouterr().out)["deployments"][0]
    strict = tmp_path / "strict.yaml"
    strict.write_text(f"slos:\n  - {{name: s, deployments: {fleet.OVER_PROVISIONED}, "
                      "sli: {latency: {field: ttft_ms, threshold_ms: 1}}, target: 99, window: 28d}\n")
    run(demo_store, *args, "--price", "A100-80GB=1.45", "--slo-file", str(strict))
    changed = json.loads(capsys.readouterr().out)["deployments"][0]
    assert base["gpu_hours"] == 8 * 24
    assert changed["cost"] == pytest.approx(base["cost"] / 2)
    assert changed["slo"] == "ttft_ms <= 1 ms" and changed["goodput_per_gpu"] < base["goodput_per_gpu"]


def test_goodput_thresholds_come_from_the_slo_file_then_the_defaults(demo_store, capsys, tmp_path):
    path = tmp_path / "slos.yaml"
    path.write_text(f"slos:\n  - {{name: q, deployments: {fleet.OVER_PROVISIONED}, "
                    "sli: {goodput: {ttft_ms: 300, tpot_ms: 15}}, target: 99, window: 28d}\n")
    run(demo_store, "--json", "--slo-file", str(path))
    rows = {r["deployment"]: r for r in json.loads(capsys.readouterr().out)["deployments"]}
    assert rows[fleet.OVER_PROVISIONED]["slo"] == "ttft_ms <= 300 ms and tpot_ms <= 15 ms (estimate)"
    assert rows[fleet.NO_PROFILING]["slo"] == "e2e_ms <= 100 ms"  # the default for classic models


def test_an_empty_window_says_so(demo_store, capsys):
    assert run(demo_store, "--start", "2020-01-01", "--end", "2020-01-02") == 0
    assert "no GPU telemetry in this window" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--price", "A100-80GB"), "expected GPU_TYPE=USD"),
        (("--price", "A100-80GB=-2"), "expected GPU_TYPE=USD"),
        (("--idle-floor", "2"), "--idle-floor must be a ratio"),
        (("--start", "2026-10-30", "--end", "2026-10-29"), "is not before --end"),
        (("--start", "last tuesday"), "not an ISO-8601 time"),
    ],
    ids=["a price without a value", "a negative price", "an idle floor above 1", "start after end",
         "an unreadable time"],
)
def test_bad_options_are_one_line_input_errors(demo_store, argv, message):
    with pytest.raises(InputError, match=message):
        run(demo_store, *argv)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), ("slos: [{name: x}]", "SLO 'x': sli: missing")],
    ids=["a missing SLO file", "a broken SLO file"],
)
def test_a_missing_or_broken_slo_file_is_the_same_spec_error_as_in_the_slo_command(demo_store, tmp_path, content,
                                                                                  message):
    path = tmp_path / "slos.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SpecError, match=message):
        run(demo_store, "--slo-file", str(path))
