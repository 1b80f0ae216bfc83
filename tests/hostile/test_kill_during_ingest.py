"""kill -9 of a real `python -m analytics ingest` at any moment: all of its files or none, in raw and rollups.

Each kill is followed by a fresh process that opens the store (which rolls back what the killed
one left unfinished) and counts, per deployment, raw rows against the rollups: requests'
weighted count against sum(requests_5m.requests), gpu_metrics' rows against
sum(gpu_metrics_1h.samples). Kills land at fixed delays (start-up, parsing, staging) and at
moments read from the ingest journal's parts on disk (after the load turned 'publishing',
while rows stream into the raw table and its views).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from analytics.ingest.demo import generator as demo
from analytics.store import conventions
from analytics.store.journal import JOURNAL, STAGE_PREFIX, STAGING_FOLDER

ROOT = Path(__file__).resolve().parents[2]
GPU_DEPLOYMENTS = 3  # the DCGM file holds the GPUs of the first few deployments (the parser is row by row)

COUNT_SCRIPT = f"""
import json, sys, time
from analytics.store.client import Store
from analytics.store.schema import ensure_schema
store = Store(sys.argv[1])
left = [store.scalar("SELECT sum(weight) FROM {conventions.REQUESTS}") if store.scalar("EXISTS TABLE {conventions.REQUESTS}") else 0,
        store.scalar("SELECT sum(requests) FROM {conventions.REQUESTS_5M}") if store.scalar("EXISTS TABLE {conventions.REQUESTS_5M}") else 0]
began = time.monotonic()
ensure_schema(store)  # what every open does: roll back what a killed process left unfinished
recovery_s = time.monotonic() - began
def per_deployment(sql):
    return dict(store.query(sql).iter_rows())
print(json.dumps({{
    "recovery_s": recovery_s,
    "left": left,
    "requests": per_deployment("SELECT deployment, sum(weight) FROM {conventions.REQUESTS} GROUP BY deployment"),
    "requests_5m": per_deployment("SELECT deployment, sum(requests) FROM {conventions.REQUESTS_5M} GROUP BY deployment"),
    "gpu_metrics": per_deployment("SELECT deployment, count() FROM {conventions.GPU_METRICS} GROUP BY deployment"),
    "gpu_metrics_1h": per_deployment("SELECT deployment, sum(samples) FROM {conventions.GPU_1H} GROUP BY deployment"),
    "stages": store.scalar("SELECT count() FROM system.tables WHERE startsWith(name, '{STAGE_PREFIX}')"),
    "published_then_undone": store.scalar(
        "SELECT countIf(state = 'rolled_back' AND has_scope) FROM (SELECT load_id, "
        "argMax(state, step) AS state, countIf(table != '') > 0 AS has_scope FROM {JOURNAL} GROUP BY load_id)"),
}}))
"""


@pytest.fixture(scope="module")
def telemetry(tmp_path_factory) -> dict[str, tuple[list[str], dict[str, int]]]:
    """Command-line arguments of two loads and what each adds per deployment, in its rollup's unit.

    ``requests``: a ~250k-row sampled request log (weights 100, or 1 for quiet deployments) in two
    Parquet files, one command; ``gpu``: a DCGM CSV of a few deployments' GPUs.
    """
    folder = tmp_path_factory.mktemp("telemetry")
    frames: dict[str, list[pl.DataFrame]] = {conventions.REQUESTS: [], conventions.GPU_METRICS: []}
    for table, frame in demo.generate(days=3, requests=250_000, seed=5, end=datetime(2025, 3, 1, tzinfo=UTC),
                                      scrape_seconds=300, sample_rate=0.01):
        if table in frames:
            frames[table].append(frame)
    requests = pl.concat(frames[conventions.REQUESTS])
    half = requests.height // 2
    requests.slice(0, half).write_parquet(folder / "requests-1.parquet")
    requests.slice(half).write_parquet(folder / "requests-2.parquet")
    gpu = pl.concat(frames[conventions.GPU_METRICS][:GPU_DEPLOYMENTS])
    gpu.select(
        pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("timestamp"),
        pl.col("node").alias("Hostname"), "gpu", pl.col("gpu_type").alias("modelName"), "deployment", "region",
        pl.col("gpu_util").alias("DCGM_FI_DEV_GPU_UTIL"), pl.col("sm_active").alias("DCGM_FI_PROF_SM_ACTIVE"),
        pl.col("fb_used_mib").alias("DCGM_FI_DEV_FB_USED"),
        (pl.col("fb_total_mib") - pl.col("fb_used_mib")).alias("DCGM_FI_DEV_FB_FREE"),
        pl.col("power_w").alias("DCGM_FI_DEV_POWER_USAGE"), pl.col("temp_c").alias("DCGM_FI_DEV_GPU_TEMP"),
    ).write_csv(folder / "dcgm.csv")
    return {
        conventions.REQUESTS: ([str(folder / "requests-1.parquet"), str(folder / "requests-2.parquet")],
                     dict(requests.group_by("deployment").agg(pl.col("weight").sum()).iter_rows())),
        conventions.GPU_METRICS: ([str(folder / "dcgm.csv"), "--format", "dcgm"],
                        dict(gpu.group_by("deployment").len().iter_rows())),
    }


def _env(tmp: Path) -> dict[str, str]:
    # The system temp folder of these processes is the test's: whatever they leave there shows.
    return {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}


def _ingest(db: Path, args: list[str], tmp: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "analytics", "--dsn", f"chdb://{db}", "ingest", *args],
                            cwd=ROOT, env=_env(tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _counts(db: Path, tmp: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", COUNT_SCRIPT, f"chdb://{db}"], cwd=ROOT, env=_env(tmp),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _journal_inserts(db: Path) -> int:
    """Inserts committed to the ingest journal: the highest block number among its parts on disk."""
    parts = db / "data" / "default" / JOURNAL
    return max((int(p.name.split("_")[2]) for p in parts.glob("all_*")), default=0) if parts.exists() else 0


def _kill(process: subprocess.Popen, db: Path, journal_rows: int, delay: float) -> None:
    """kill -9 the ingest `delay` s after its `journal_rows`-th journal write (unless it ended first).

    A load writes 'staging' (1), one scope row per table (2), 'publishing' (3), 'done' (4).
    """
    base = _journal_inserts(db)
    while process.poll() is None and _journal_inserts(db) < base + journal_rows:
        time.sleep(0.005)
    time.sleep(delay)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.communicate()


def _outcome(counts: dict, before: dict, table: str, added: dict[str, int]) -> str:
    """Check raw == rollup per deployment and that the load arrived whole or not at all; say which."""
    assert counts[conventions.REQUESTS] == counts[conventions.REQUESTS_5M]
    assert counts[conventions.GPU_METRICS] == counts[conventions.GPU_1H]
    assert counts["stages"] == 0
    if all(counts[k] == before[k] for k in (conventions.REQUESTS, conventions.GPU_METRICS)):
        return "none"
    whole = {d: before[table].get(d, 0) + n for d, n in added.items()}
    assert counts[table] == {**before[table], **whole}, f"part of the {table} load survived"
    return "all"


# (load, moment of the kill: after this many of its journal writes, plus a delay in seconds)
KILLS = [
    (conventions.REQUESTS, "start-up, schema and parsing", 0, 1.0),
    (conventions.REQUESTS, "staging", 1, 0.3),
    (conventions.REQUESTS, "publishing: as it begins", 3, 0.0),
    (conventions.REQUESTS, "publishing: 0.4 s in", 3, 0.4),
    (conventions.GPU_METRICS, "publishing: as it begins", 3, 0.0),
]


def test_a_kill_at_any_moment_of_an_ingest_leaves_all_of_its_files_or_none(tmp_path, telemetry):
    db, tmp = tmp_path / "db", tmp_path / "tmp"
    tmp.mkdir()
    counts = _counts(db, tmp)  # an empty store
    for table in (conventions.REQUESTS, conventions.GPU_METRICS):  # one whole load of each first: rollbacks must keep it
        args, added = telemetry[table]
        finished = _ingest(db, args, tmp)
        assert finished.wait(timeout=300) == 0, finished.communicate()[1]
        counts, before = _counts(db, tmp), counts
        assert _outcome(counts, before, table, added) == "all"

    outcomes = []
    for table, moment, journal_rows, delay in KILLS:
        args, added = telemetry[table]
        _kill(_ingest(db, args, tmp), db, journal_rows, delay)
        counts, before = _counts(db, tmp), counts
        outcomes.append((table, moment, _outcome(counts, before, table, added),
                         f"raw/rollup requests left by the kill: {counts['left']}",
                         f"open with recovery {counts['recovery_s']:.2f} s"))
    print(*outcomes, sep="\n")
    assert counts["published_then_undone"] >= 1, outcomes  # some kill landed while rows were being published
    assert not list((db / STAGING_FOLDER).glob("*")) and not list(tmp.iterdir()), "a temporary file was left"
