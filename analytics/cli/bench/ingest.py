"""Ingest under hostile and large input, for `python -m analytics bench --only ingest`.

Each case runs open_file(...).chunks() over a crafted file in a fresh child process and reports
that process's peak resident memory (VmHWM, imports included: ~100 MiB of it is Python, polars
and pyarrow) and its rows per second (validation only, no insert).
The files are built in a temporary folder: a gzip bomb of zeros named .csv (512 MiB of text in
0.5 MB), a gzip of one valid row repeated (256 MiB of text, ~10M rows, loaded: it is valid), a
Parquet bomb of 60M constant rows, a Parquet label bomb (one 2 KB name a million times), a
gzip bomb named .jsonl, an LLMPerf JSON array at its 32 MiB limit, and a normal 2M-row requests
CSV (the throughput figure).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

import analytics
from analytics.cli.bench.cases import Case

_CHILD = """
import json, resource, sys, time
from pathlib import Path
from analytics.errors import InputError
from analytics.ingest.files import open_file
t0 = time.perf_counter()
rows, error = 0, ""
try:
    for chunk in open_file(Path(sys.argv[1]), sys.argv[2]).chunks():
        rows += chunk.height
except InputError as exc:
    error = str(exc).split(": ", 1)[1]
# VmHWM: this process's own peak (ru_maxrss can carry the parent's peak across fork and exec)
status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
peak_kib = int(status["VmHWM"].split()[0]) if "VmHWM" in status else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - t0, "error": error, "peak_mib": peak_kib / 1024}))
"""
_ROW = b"2024-01-01 00:00:00,bench,ok,120.5,900.25,42\n"
_HEADER = b"ts,deployment,status,ttft_ms,e2e_ms,output_tokens\n"


def _gzip_stream(path: Path, head: bytes, block: bytes, total: int) -> Path:
    with gzip.open(path, "wb", compresslevel=6) as out:
        out.write(head)
        for _ in range(total // len(block)):
            out.write(block)
    return path


def _zeros(folder: Path, name: str) -> Path:
    return _gzip_stream(folder / name, b"", b"\0" * (1 << 20), 512 << 20)


def _repeated_rows(folder: Path) -> Path:
    return _gzip_stream(folder / "rows.csv", _HEADER, _ROW * 20_000, 256 << 20)


def _parquet_rows(folder: Path) -> Path:
    path = folder / "rows.parquet"
    table = pa.table({"ts": pa.array(np.zeros(1_000_000, dtype=np.int64))})
    with pq.ParquetWriter(path, table.schema, compression="zstd") as writer:
        for _ in range(60):
            writer.write_table(table)
    return path


def _parquet_labels(folder: Path) -> Path:
    path = folder / "labels.parquet"
    n = 1_000_000
    pq.write_table(pa.table({"ts": pa.array(np.full(n, 1_704_067_200_000, dtype="datetime64[ms]")),
                             "deployment": pa.DictionaryArray.from_arrays(np.zeros(n, np.int32), ["x" * 2048])}), path)
    return path


def _llmperf_at_limit(folder: Path) -> Path:
    record = {"ttft_s": 0.5123, "inter_token_latency_s": 0.0212, "end_to_end_latency_s": 2.5123, "error_code": None,
              "number_input_tokens": 1000, "number_output_tokens": 100, "generated_text": "x" * 20}
    path = folder / "llmperf.json"
    path.write_text(json.dumps([record] * ((31 << 20) // (len(json.dumps(record)) + 2))))
    return path


def _normal_csv(folder: Path, rows: int = 2_000_000) -> Path:
    rng = np.random.default_rng(5)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    ttft = rng.gamma(2, 100, rows).round(1)
    path = folder / "normal.csv"
    pl.DataFrame({
        "ts": pl.datetime_range(start, start + timedelta(milliseconds=rows - 1), "1ms", eager=True, time_zone="UTC"),
        "deployment": rng.choice(["chat-a", "chat-b", "code-c"], rows), "model": "llama-3-70b",
        "region": "eu-west", "status": rng.choice(["ok", "ok", "ok", "error"], rows),
        "ttft_ms": ttft, "e2e_ms": (ttft + rng.gamma(5, 400, rows)).round(1),
        "input_tokens": rng.integers(1, 4000, rows), "output_tokens": rng.integers(1, 800, rows),
    }).write_csv(path)
    return path


CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "gzip of zeros named .csv": (lambda d: _zeros(d, "zeros.csv"), "requests"),
    "gzip of zeros named .jsonl": (lambda d: _zeros(d, "zeros.jsonl"), "mooncake"),
    "gzip of one row repeated (valid)": (_repeated_rows, "requests"),
    "Parquet of 60M constant rows": (_parquet_rows, "requests"),
    "Parquet label bomb (2 KB name x 1M)": (_parquet_labels, "requests"),
    "LLMPerf JSON array near its 32 MiB limit": (_llmperf_at_limit, "llmperf"),
    "normal CSV, 2M rows": (_normal_csv, "requests"),
}


def _measure(path: Path, fmt: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(Path(analytics.__file__).resolve().parent.parent)}
    result = subprocess.run([sys.executable, "-c", _CHILD, str(path), fmt], capture_output=True, text=True,
                            timeout=1800, env=env)
    if result.returncode != 0:
        return {"rows": 0, "seconds": 0.0, "error": f"exit {result.returncode}: {result.stderr.strip()[-200:]}",
                "peak_mib": float("nan")}
    return json.loads(result.stdout)


def bench(store=None) -> list[Case]:
    """Peak RSS and rows/s of ingest (validation, no insert) on each crafted file."""
    cases: list[Case] = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        for name, (build, fmt) in CASES.items():
            path = build(Path(tmp))
            got = _measure(path, fmt)
            outcome = f"refused: {got['error'][:70]}" if got["error"] else f"{got['rows'] / got['seconds']:,.0f} rows/s"
            cases.append(Case(f"ingest {name} ({path.stat().st_size / 1e6:,.1f} MB)", got["seconds"],
                          f"peak RSS {got['peak_mib']:,.0f} MiB, {got['rows']:,} rows, {outcome}"))
            path.unlink()
    return cases
