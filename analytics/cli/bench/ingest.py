"""Ingest speed and memory, for `python -m analytics bench --only ingest`.

Load rate (the file path users take, `python -m analytics ingest FILE`): a requests file of the
demo fleet is loaded by load_files into a fresh embedded store in a child process: read,
validate, stage, publish into the raw table with every rollup view maintained. Reported: rows/s
(wall), CPU seconds, the child's peak resident memory (VmHWM, imports included: ~150 MiB of it is
Python, polars, pyarrow and chDB) and whether raw and rollup counts agree. Files: Parquet of 1M
and 5M rows (equal memory shows it does not grow with the file) and CSV of 2M rows, each over
LOAD_DAYS days of the fleet (the density of the 100M-row bench store: ~3M requests a day).
Target: TARGET_ROWS_PER_S from Parquet (the ingest issue).

Hostile input: open_file(...).chunks() over crafted files (validation only, no insert): a gzip
bomb of zeros named .csv (512 MiB of text in 0.5 MB), a gzip of one valid row repeated (256 MiB
of text, ~10M rows, loaded: it is valid), a Parquet bomb of 60M constant rows, a Parquet label
bomb (one 2 KB name a million times), a gzip bomb named .jsonl, an LLMPerf JSON array at its
32 MiB limit.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import analytics
from analytics.cli.bench.cases import Case, Target
from analytics.ingest.demo import generator as demo
from analytics.store import conventions

TARGET_ROWS_PER_S = 1_000_000
LOAD_DAYS = 2
_PEAK = """
def peak_mib():
    # VmHWM: this process's own peak (ru_maxrss can carry the parent's peak across fork and exec)
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    kib = int(status["VmHWM"].split()[0]) if "VmHWM" in status else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024
def cpu_s():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
"""
_CHILD = """
import json, resource, sys, time
from pathlib import Path
from analytics.errors import InputError
from analytics.ingest.files import open_file
""" + _PEAK + """
t0 = time.perf_counter()
rows, error = 0, ""
try:
    for chunk in open_file(Path(sys.argv[1]), sys.argv[2]).chunks():
        rows += chunk.height
except InputError as exc:
    error = str(exc).split(": ", 1)[1]
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - t0, "error": error, "peak_mib": peak_mib()}))
"""
_LOAD_CHILD = """
import json, resource, sys, time
from pathlib import Path
from analytics.ingest.load import load_files
from analytics.store.schema import open_store
""" + _PEAK + """
store = open_store("chdb://" + sys.argv[2])
t0, c0 = time.perf_counter(), cpu_s()
rows = sum(item.rows for item in load_files(store, [Path(sys.argv[1])]))
seconds, cpu = time.perf_counter() - t0, cpu_s() - c0
agree = store.scalar("SELECT sum(weight) FROM requests") == store.scalar("SELECT sum(requests) FROM requests_5m")
print(json.dumps({"rows": rows, "seconds": seconds, "cpu": cpu, "peak_mib": peak_mib(), "agree": agree}))
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


def _fleet_file(folder: Path, rows: int, fmt: str) -> Path:
    """A requests file of the demo fleet: `rows` rows over LOAD_DAYS days, written frame by frame."""
    path = folder / f"requests-{rows // 1_000_000}m.{fmt}"
    end = datetime(2025, 6, 2, tzinfo=UTC)
    frames = (f for table, f in demo.generate(days=LOAD_DAYS, requests=rows, seed=3, end=end, scrape_seconds=300)
              if table == conventions.REQUESTS)
    if fmt == "csv":
        with path.open("wb") as out:
            for i, frame in enumerate(frames):
                frame.write_csv(out, include_header=i == 0)
        return path
    writer = None
    for frame in frames:
        table = frame.to_arrow()
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=256_000)
    if writer:
        writer.close()
    return path


LOADS = {"Parquet, 1M rows": (1_000_000, "parquet"), "Parquet, 5M rows": (5_000_000, "parquet"),
         "CSV, 2M rows": (2_000_000, "csv")}
CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "gzip of zeros named .csv": (lambda d: _zeros(d, "zeros.csv"), "requests"),
    "gzip of zeros named .jsonl": (lambda d: _zeros(d, "zeros.jsonl"), "mooncake"),
    "gzip of one row repeated (valid)": (_repeated_rows, "requests"),
    "Parquet of 60M constant rows": (_parquet_rows, "requests"),
    "Parquet label bomb (2 KB name x 1M)": (_parquet_labels, "requests"),
    "LLMPerf JSON array near its 32 MiB limit": (_llmperf_at_limit, "llmperf"),
}


def _child(script: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(Path(analytics.__file__).resolve().parent.parent)}
    result = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                            timeout=1800, env=env)
    if result.returncode != 0:
        return {"rows": 0, "seconds": 0.0, "cpu": 0.0, "error": f"exit {result.returncode}: "
                f"{result.stderr.strip()[-200:]}", "peak_mib": float("nan"), "agree": False}
    return json.loads(result.stdout)


def _measure(path: Path, fmt: str) -> dict:
    return _child(_CHILD, str(path), fmt)


def load_cases(folder: Path) -> list[Case]:
    """Rows/s, CPU and peak RSS of loading each file of LOADS into a fresh store, every rollup maintained."""
    cases: list[Case] = []
    for name, (rows, fmt) in LOADS.items():
        path = _fleet_file(folder, rows, fmt)
        got = _child(_LOAD_CHILD, str(path), str(folder / "store"))
        shutil.rmtree(folder / "store", ignore_errors=True)
        path.unlink()
        if got.get("error"):
            cases.append((f"load {name}", 0.0, f"failed: {got['error']}"))
            continue
        rate = got["rows"] / got["seconds"]
        cases.append(Case(f"load {name}: rows per second (read, validate, stage, publish + rollups)", rate,
                          f"{got['seconds']:.1f} s; {got['cpu']:.1f} CPU-s ({got['rows'] / max(got['cpu'], 1e-9):,.0f} "
                          f"rows per CPU-s); peak RSS {got['peak_mib']:,.0f} MiB; rollups "
                          f"{'match raw' if got['agree'] else 'DO NOT match raw'}",
                          Target(TARGET_ROWS_PER_S, at_least=True) if fmt == "parquet" else None, "rows/s"))
    return cases


def bench(store=None) -> list[Case]:
    """Load rate and peak RSS of real files, then peak RSS and rows/s of validation on each crafted file."""
    cases: list[Case] = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        cases += load_cases(Path(tmp))
        for name, (build, fmt) in CASES.items():
            path = build(Path(tmp))
            got = _measure(path, fmt)
            outcome = f"refused: {got['error'][:70]}" if got["error"] else f"{got['rows'] / got['seconds']:,.0f} rows/s"
            cases.append(Case(f"ingest {name} ({path.stat().st_size / 1e6:,.1f} MB)", got["seconds"],
                          f"peak RSS {got['peak_mib']:,.0f} MiB, {got['rows']:,} rows, {outcome}"))
            path.unlink()
    return cases
