"""Ingestion: real trace formats load, bad input names file/row/column and loads nothing."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from analytics.errors import InputError
from analytics.ingest import files as ingest
from analytics.ingest.load import Loaded, load_files, shift_to
from analytics.store import conventions
from tests.conftest import shared_data

DATA = Path(__file__).parent / "data"


def _count(store, deployment: str) -> int:
    return store.scalar(f"SELECT count() FROM {conventions.REQUESTS} WHERE deployment = {{d:String}}", {"d": deployment})


def test_the_azure_trace_excerpt_keeps_arrivals_and_token_counts_with_an_unknown_outcome():
    frame = ingest.stage_file(DATA / "azure_code_excerpt.csv", "azure-llm", "test-azure").frame
    assert frame.height == 200
    first = frame.row(0, named=True)
    # First data row: 2023-11-16 18:17:03.9799600, 4808 context tokens, 10 generated tokens.
    assert first["ts"] == datetime(2023, 11, 16, 18, 17, 3, 979000, tzinfo=UTC)
    # An arrival trace records no outcome: 'unknown' counts toward demand, never availability.
    assert (first["input_tokens"], first["output_tokens"], first["status"]) == (4808, 10, "unknown")
    assert frame["e2e_ms"].null_count() == 200  # an arrival trace has no latency


def test_llmperf_failures_count_as_failures_not_fast_requests():
    frame = ingest.stage_file(DATA / "llmperf_excerpt.json", "llmperf", "test-llmperf").frame
    counts = dict(frame.group_by("status").len().iter_rows())
    assert counts == {"ok": 15, "rejected": 2, "error": 1}
    failed = frame.filter(pl.col("status") != "ok")
    assert failed["ttft_ms"].null_count() == failed.height  # LLMPerf writes ttft 0 for these
    assert frame.filter(pl.col("status") == "ok")["ttft_ms"].min() > 0


def test_llmperf_latencies_become_milliseconds():
    frame = ingest.stage_file(DATA / "llmperf_excerpt.json", "llmperf", "test-llmperf").frame
    # lepton_7b.json, first record: ttft_s 1.1272406630000091, end_to_end_latency_s 4.543510072000004
    first = frame.sort("ts").row(0, named=True)
    assert first["ttft_ms"] == pytest.approx(1127.2406630000091, rel=1e-6)
    assert first["e2e_ms"] == pytest.approx(4543.510072000004, rel=1e-6)


def test_mooncake_relative_times_start_at_the_given_start():
    start = datetime(2025, 2, 1, tzinfo=UTC)
    frame = ingest.stage_file(DATA / "mooncake_conv_excerpt.jsonl", "mooncake", "test-moon", start).frame
    assert frame.height == 100
    assert frame["ts"].min() == start
    assert frame.row(0, named=True)["input_tokens"] == 6758


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("ts,deployment,status,e2e_ms\n2024-01-01 00:00:00,a,ok,5\n2024-01-01 00:00:01,a,ok,-3\n",
         r"bad\.csv: row 2, column 'e2e_ms': negative value"),
        ("ts,deployment,status,e2e_ms\n2024-01-01 00:00:00,a,ok,5\nyesterday,a,ok,3\n",
         r"row 2, column 'ts': 'yesterday' is not a time"),
        ("ts,status,e2e_ms\n2024-01-01 00:00:00,ok,5\n", r"column 'deployment': missing column"),
        ("ts,deployment,status,e2e_ms\n2024-01-01 00:00:00,a,ok,fast\n",
         r"row 1, column 'e2e_ms': 'fast' is not a number"),
        ("ts,deployment,status,e2e_ms\n2024-01-01 00:00:00,a,done,5\n",
         r"row 1, column 'status': 'done' is not one of ok, error, timeout, rejected"),
        ("ts,deployment,status,output_tokens\n2024-01-01 00:00:00,a,ok,-1\n",
         r"row 1, column 'output_tokens': negative value"),
    ],
    ids=["negative latency", "unparseable time", "missing column", "wrong type", "unknown status",
         "negative token count"],
)
def test_bad_input_names_file_row_and_column(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        ingest.stage_file(path, "requests")


def test_one_bad_file_among_good_ones_loads_nothing(store, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("ts,deployment,status,e2e_ms\n2024-01-01 00:00:00,test-atomic,ok,5\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("ts,deployment,status,e2e_ms\n2024-01-01 00:00:00,test-atomic,ok,-5\n")
    with pytest.raises(InputError):
        load_files(store, [good, bad], "requests")
    assert _count(store, "test-atomic") == 0


def test_our_schema_round_trips_through_parquet(store, tmp_path):
    frame = pl.DataFrame({
        "ts": [datetime(2024, 5, 1, 12, tzinfo=UTC)] * 2, "deployment": ["test-parquet"] * 2,
        "status": ["ok", "timeout"], "ttft_ms": [120.0, None], "e2e_ms": [900.0, 30000.0],
        "output_tokens": [50, 0],
    })
    path = tmp_path / "requests.parquet"
    frame.write_parquet(path)
    load_files(store, [path])
    assert _count(store, "test-parquet") == 2


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analytics", "--dsn", f"chdb://{db}", *args],
                          capture_output=True, text=True, timeout=300, cwd=Path(__file__).parent.parent)


def test_the_command_line_loads_the_real_traces_and_refuses_a_malformed_file(tmp_path):
    azure = shared_data("azure-llm-2023-code/AzureLLMInferenceTrace_code.csv")
    db = tmp_path / "db"
    result = _cli(db, "ingest", str(azure), "--format", "azure-llm", "--deployment", "azure-code")
    assert result.returncode == 0, result.stderr
    assert "8,819 rows" in result.stdout
    result = _cli(db, "ingest", str(shared_data("mooncake-fast25-conv/conversation_trace.jsonl")),
                  *sorted(str(p) for p in shared_data("llmperf-leaderboard/individual").glob("*.json")))
    assert result.returncode == 0, result.stderr
    assert "12,031 rows" in result.stdout and result.stdout.count("rows into requests") == 20

    bad = tmp_path / "bad.csv"
    bad.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,10,x\n")
    result = _cli(db, "ingest", str(bad), "--format", "azure-llm")
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {bad}: row 1, column 'output_tokens': 'x' is not a whole number"
    result = _cli(db, "ingest", str(DATA / "azure_code_excerpt.csv"), "--format", "azure-llm",
                  "--deployment", "azure-code")
    assert result.returncode == 0
    # 8,819 + 12,031 + 2,845 LLMPerf rows + 200 from the excerpt: the bad file added nothing.
    count = subprocess.run(
        [sys.executable, "-c", "import sys; from analytics.store.client import Store; "
         "print(Store(sys.argv[1]).scalar('SELECT count() FROM requests'))", f"chdb://{db}"],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent)
    assert count.stdout.strip() == str(8819 + 12031 + 2845 + 200)


def test_a_sampled_row_counts_as_the_requests_it_stands_for(store, tmp_path):
    from analytics.store.queries import request_totals

    path = tmp_path / "sampled.csv"
    path.write_text("ts,deployment,status,ttft_ms,e2e_ms,output_tokens,weight\n"
                    "2024-02-01 00:00:00,test-sampled,ok,120,900,10,100\n"
                    "2024-02-01 00:01:00,test-sampled,error,,,0,100\n"
                    "2024-02-01 00:02:00,test-sampled,ok,130,950,20,1\n")
    load_files(store, [path])
    row = request_totals(store, datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 2, 2, tzinfo=UTC),
                         ["test-sampled"]).row(0, named=True)
    assert (row["requests"], row["ok"], row["error"], row["output_tokens"]) == (201, 101, 100, 1020)
    assert sum(row["ttft_hist"]) == 101


def test_a_zero_weight_is_refused(tmp_path):
    path = tmp_path / "zero.csv"
    path.write_text("ts,deployment,status,weight\n2024-02-01 00:00:00,a,ok,0\n")
    with pytest.raises(InputError, match=r"row 1, column 'weight'"):
        ingest.stage_file(path, "requests")


def test_tpot_is_derived_from_e2e_ttft_and_output_tokens_where_missing(tmp_path):
    path = tmp_path / "tpot.csv"
    path.write_text("ts,deployment,status,ttft_ms,tpot_ms,e2e_ms,output_tokens\n"
                    "2024-02-01 00:00:00,a,ok,100,,1090,100\n"  # (1090 - 100) / (100 - 1) = 10 ms
                    "2024-02-01 00:00:01,a,ok,100,,150,1\n"  # one token: no decode phase, TPOT 0
                    "2024-02-01 00:00:02,a,ok,100,7,1090,100\n"  # a given TPOT is kept
                    "2024-02-01 00:00:03,a,error,100,,1090,100\n"  # failures are not derived
                    "2024-02-01 00:00:04,a,ok,,,1090,100\n")  # no TTFT: nothing to derive from
    assert ingest.stage_file(path, "requests").frame["tpot_ms"].to_list() == [10.0, 0.0, 7.0, None, None]


def test_tpot_is_not_derived_when_the_file_has_no_output_tokens(tmp_path):
    path = tmp_path / "no_tokens.csv"
    path.write_text("ts,deployment,status,ttft_ms,e2e_ms\n2024-02-01 00:00:00,a,ok,100,1090\n")
    assert ingest.stage_file(path, "requests").frame["tpot_ms"].to_list() == [None]


def test_a_requests_file_without_a_status_column_loads_as_unknown_outcomes(tmp_path):
    path = tmp_path / "no_status.csv"
    path.write_text("ts,deployment,e2e_ms\n2024-02-01 00:00:00,a,900\n")
    assert ingest.stage_file(path, "requests").frame["status"].to_list() == ["unknown"]


def test_mooncake_arrivals_load_as_unknown_outcomes():
    frame = ingest.stage_file(DATA / "mooncake_conv_excerpt.jsonl", "mooncake", "test-moon").frame
    assert frame["status"].unique().to_list() == ["unknown"]


def test_an_end_to_end_latency_below_ttft_is_refused(tmp_path):
    path = tmp_path / "order.csv"
    path.write_text("ts,deployment,status,ttft_ms,e2e_ms\n2024-02-01 00:00:00,a,ok,100,90\n")
    with pytest.raises(InputError, match=r"row 1, column 'e2e_ms': 90.0 is below ttft_ms 100.0"):
        ingest.stage_file(path, "requests")


def test_a_gzipped_trace_loads_by_its_content_and_name(tmp_path):
    import gzip

    path = tmp_path / "conversation.jsonl.gz"
    path.write_bytes(gzip.compress((DATA / "mooncake_conv_excerpt.jsonl").read_bytes()))
    assert ingest.guess_format(path) == "mooncake"
    assert ingest.stage_file(path, deployment="test-moon").frame.height == 100


def test_open_file_streams_a_large_file_in_chunks(tmp_path, monkeypatch):
    from analytics.ingest import readers

    monkeypatch.setattr(readers, "CHUNK_ROWS", 1000)
    path = tmp_path / "large.csv"
    path.write_text("ts,deployment,status,e2e_ms\n" + "2024-02-01 00:00:00,a,ok,5\n" * 2500)
    source = ingest.open_file(path)
    assert source.table == conventions.REQUESTS
    assert [chunk.height for chunk in source.chunks()] == [1000, 1000, 500]


def test_shift_to_moves_the_newest_row_into_the_last_day_by_whole_days():
    now = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)
    old = Loaded("a.csv", conventions.REQUESTS, 2, datetime(2023, 11, 16, 18, 17, tzinfo=UTC), datetime(2023, 11, 16, 18, 20, tzinfo=UTC))
    gpu = Loaded("g.csv", conventions.GPU_METRICS, 2, datetime(2023, 11, 16, 18, 0, tzinfo=UTC), datetime(2023, 11, 17, 2, 0, tzinfo=UTC))
    # 2023-11-17 02:00 + 1109 days = 2026-11-30 02:00, within the day before 04:00; 1110 days would pass now.
    assert shift_to([old, gpu], now) == timedelta(days=1109)
    assert shift_to([Loaded("b.csv", conventions.REQUESTS, 1, now - timedelta(hours=23), now - timedelta(hours=23))], now) == timedelta(0)
    assert shift_to([Loaded("empty.csv", conventions.REQUESTS, 0)], now) == timedelta(0)


def test_the_command_line_moves_an_old_trace_to_end_now_keeping_its_hours(tmp_path):
    before = datetime.now(UTC)
    result = _cli(tmp_path / "db", "ingest", str(DATA / "azure_code_excerpt.csv"), "--format", "azure-llm",
                  "--shift-to-now")
    assert result.returncode == 0, result.stderr
    moved, loaded = result.stdout.splitlines()
    days = int(re.fullmatch(r"ingest: times moved ([\d,]+) days later", moved).group(1).replace(",", ""))
    first, last = re.search(r"200 rows into requests, (\S+ \S+) to (\S+ \S+) UTC$", loaded).groups()
    # The excerpt's rows: 2023-11-16 18:17:03 to 18:20:23, moved by whole days into the last day.
    assert before - timedelta(days=1, minutes=1) < datetime.fromisoformat(last).replace(tzinfo=UTC) <= datetime.now(UTC)
    assert first == f"{datetime(2023, 11, 16) + timedelta(days=days):%Y-%m-%d} 18:17"
