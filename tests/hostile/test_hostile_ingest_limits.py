"""Hostile ingest inputs that cost memory or time rather than correctness: compressed Parquet
strings, JSON arrays of empty objects, FIFOs and devices, files of blank lines, repeated Parquet
columns, and upload names no file system accepts.

Memory is measured in a child process (its peak resident set from getrusage, minus its peak
before the read), so a regression costs that child's memory, not the test runner's.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.errors import InputError
from analytics.ingest import files as ingest
from analytics.ingest import readers
from tests.conftest import run_page

ROOT = Path(__file__).resolve().parent.parent.parent
HEADER = "ts,deployment,status,ttft_ms,e2e_ms,output_tokens\n"
ROW = "2024-01-01 00:00:00,a,ok,100,900,10\n"
MIB = 1 << 20


def _cli(db: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analytics", "--dsn", f"chdb://{db}", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def _refused_by_the_cli_in_one_line(tmp_path: Path, path: Path, message: str, timeout: float = 120) -> str:
    result = _cli(tmp_path / "db", "ingest", str(path), timeout=timeout)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), result.stderr
    assert re.search(message, lines[0]), lines[0]
    return lines[0]


def _validation_growth_mib(path: Path, fmt: str) -> tuple[float, str]:
    """(peak RSS added by validating the file in a child process, in MiB; the error it raised)."""
    script = textwrap.dedent("""
        import resource, sys
        from pathlib import Path
        from analytics.ingest import files
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            files.stage_file(Path(sys.argv[1]), sys.argv[2])
            error = "accepted"
        except ValueError as exc:
            error = str(exc)
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(grown / 1024)
        print(error)
    """)
    result = subprocess.run([sys.executable, "-c", script, str(path), fmt], capture_output=True, text=True,
                            timeout=300, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    grown, error = result.stdout.splitlines()[:2]
    return float(grown), error


def _parquet_of_long_strings(path: Path, groups: int, length: int) -> Path:
    """`groups` row groups of one row each whose deployment is `length` bytes of 'x': a few KB per
    group on disk (the strings compress), `groups` x `length` bytes once read."""
    table = pa.table({"ts": pa.array([datetime(2024, 1, 1, tzinfo=UTC)], pa.timestamp("ms", "UTC")),
                      "deployment": pa.array(["x" * length])})
    with pq.ParquetWriter(path, table.schema, compression="zstd") as writer:
        for _ in range(groups):
            writer.write_table(table)
    return path


def test_a_parquet_file_of_compressed_long_strings_is_refused_from_its_metadata_before_reading(tmp_path):
    path = _parquet_of_long_strings(tmp_path / "strings.parquet", groups=7, length=32 * MIB)
    assert path.stat().st_size < 200_000  # 224 MiB of text in a small file
    grown, error = _validation_growth_mib(path, "requests")
    assert error == (f"{path}: column 'deployment': row group 1 declares 32 MiB for 1 value: "
                     "a text value longer than 1,024 bytes")
    assert grown < 32, f"validation took {grown:.0f} MiB more (one string is 32 MiB)"


def test_a_long_plain_text_value_in_parquet_is_refused_in_the_batch_that_holds_it(tmp_path):
    # Many short names beside one long one pass the metadata's average; the batch check names the row.
    names = ["a"] * 39_999 + ["x" * 4096]
    path = tmp_path / "one_long.parquet"
    pq.write_table(pa.table({"ts": pa.array([datetime(2024, 1, 1, tzinfo=UTC)] * len(names), pa.timestamp("ms", "UTC")),
                             "deployment": pa.array(names)}), path, use_dictionary=False)
    with pytest.raises(InputError, match=r"row 40,?000, column 'deployment': a text value longer than 1,024 bytes"):
        ingest.stage_file(path, "requests")


def test_a_json_array_of_empty_objects_is_refused_at_its_first_record_in_bounded_memory(tmp_path):
    path = tmp_path / "empty.json"
    count = (readers.MAX_JSON_BYTES - 2) // 3  # the largest such array the size limit lets through
    path.write_text("[" + "{}," * (count - 1) + "{}]")
    grown, error = _validation_growth_mib(path, "llmperf")
    assert error == f"{path}: row 1, column 'ttft_s': missing"
    assert grown < 160, f"validation took {grown:.0f} MiB more for a 32 MiB file"


def test_an_llmperf_array_is_read_record_by_record_with_the_same_results(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(' [ {"ttft_s": 0.5, "inter_token_latency_s": 0.02, "end_to_end_latency_s": 2.5, "error_code": null,'
                    ' "number_input_tokens": 100, "number_output_tokens": 100} ,\n {"ttft_s": 0, '
                    '"inter_token_latency_s": 0, "end_to_end_latency_s": 0, "error_code": 429, '
                    '"number_input_tokens": 100, "number_output_tokens": 0} ] \n')
    frame = ingest.stage_file(path, "llmperf").frame
    assert frame["status"].to_list() == ["ok", "rejected"]
    assert frame["e2e_ms"].to_list() == [2500.0, None]
    record = json.dumps({"ttft_s": 0.5, "inter_token_latency_s": 0.02, "end_to_end_latency_s": 2.5, "error_code": None,
                         "number_input_tokens": 100, "number_output_tokens": 100})
    for broken, message in [(f"[{record} {record}]", r"row 1: not valid JSON \(expected ',' or '\]'"),
                            (record, r"expected a JSON array of objects"),
                            (f"[{record}] x", r"extra data after the array"),
                            (f"[{record}, {{", r"row 2: not valid JSON")]:
        path.write_text(broken)
        with pytest.raises(InputError, match=message):
            ingest.stage_file(path, "llmperf")


def test_a_fifo_given_to_ingest_is_refused_at_once_instead_of_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    _refused_by_the_cli_in_one_line(tmp_path, fifo, r"is a FIFO \(named pipe\), not a regular file", timeout=60)


@pytest.mark.parametrize(("path", "kind"), [("/dev/zero", "a device"), ("/tmp", "a directory")])
def test_a_device_or_a_directory_is_refused_as_not_a_regular_file(path, kind):
    with pytest.raises(InputError, match=rf"^{path}: is {kind}, not a regular file$"):
        ingest.stage_file(Path(path), "requests")


def test_a_header_followed_by_a_gibibyte_of_newlines_is_refused_early(tmp_path):
    path = tmp_path / "newlines.csv"
    with gzip.open(path, "wb", compresslevel=9) as out:  # 1 GiB of newlines in about 1 MB
        out.write(HEADER.encode())
        block = b"\n" * MIB
        for _ in range(1024):
            out.write(block)
    _refused_by_the_cli_in_one_line(tmp_path, path, rf"more than 16 MiB of blank lines in a row after byte {len(HEADER) - 1} ",
                                    timeout=60)


def test_blank_lines_past_the_limit_after_data_rows_are_refused_naming_where_they_start(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "MAX_BLANK_BYTES", 2 * MIB)
    path = tmp_path / "padded.csv"
    path.write_text(HEADER + ROW * 3 + "\r\n" * (2 * MIB) + ROW)
    with pytest.raises(InputError, match=rf"more than 2 MiB of blank lines in a row after byte {len(HEADER + ROW * 3) - 1} "):
        ingest.stage_file(path, "requests")
    lines = tmp_path / "padded.jsonl"
    record = '{"timestamp": 0, "input_length": 1, "output_length": 1}'
    lines.write_text(record + "\n" * (3 * MIB))
    with pytest.raises(InputError, match=rf"more than 2 MiB of blank lines in a row after byte {len(record)} "):
        ingest.stage_file(lines, "mooncake")


def test_blank_lines_within_the_limit_are_skipped(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text(HEADER + ROW + "\n" * MIB + ROW)
    assert ingest.stage_file(path, "requests").frame.height == 2


def test_a_parquet_file_with_two_deployment_columns_is_refused_naming_the_column(tmp_path):
    path = tmp_path / "twice.parquet"
    table = pa.Table.from_arrays([pa.array([datetime(2024, 1, 1, tzinfo=UTC)], pa.timestamp("ms", "UTC")),
                                  pa.array(["a"]), pa.array(["b"])], names=["ts", "deployment", "deployment"])
    pq.write_table(table, path)
    _refused_by_the_cli_in_one_line(tmp_path, path, r"column 'deployment': appears twice in the file's columns$")


# --- The Data page's upload -----------------------------------------------------------------


def _upload(at, name: str, data: bytes):
    at.file_uploader[0].set_value([(name, data, "text/csv")])
    at.selectbox(key="upload_format").set_value("requests")
    at.button[-1].click()  # the form's submit button
    return at.run()


BAD_ROWS = b"ts,deployment,status,e2e_ms\n2024-01-01 00:00:00,x,ok,-5\n"


@pytest.mark.parametrize(("uploaded", "shown"), [
    ("n" * 300 + ".csv", "n" * 113 + "....csv"),
    ("bad\0name.csv", "bad?name.csv"),
    ("C:\\Users\\me\\rows.csv", "rows.csv"),
    ("..", "upload"),
    ("é" * 100 + ".parquet", "é" * 54 + "....parquet"),
], ids=["300 characters", "a NUL", "a Windows path", "dot dot", "multi-byte characters"])
def test_an_uploaded_file_name_is_stored_and_shown_without_control_characters_within_120_bytes(uploaded, shown):
    from ui.uploads import safe_name

    assert safe_name(uploaded) == shown
    assert len(shown.encode()) <= 120


def test_an_upload_with_a_300_character_name_is_named_shortened_and_shows_no_server_path(store):
    # Streamlit itself refuses a NUL in an uploaded name before the page runs.
    at = _upload(run_page("pages/9_Data.py"), "n" * 300 + ".csv", BAD_ROWS)
    shown = "n" * 113 + "....csv"
    assert not at.exception, [e.message for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    assert errors[0].replace("\\", "") == f"{shown}: row 1, column 'e2e_ms': negative value -5.0", errors[0]
    assert "/tmp" not in errors[0] and "<upload>" not in errors[0]


def test_an_upload_waits_for_the_one_running_and_says_so_when_it_does_not_end(store, monkeypatch):
    from ui import uploads

    monkeypatch.setattr(uploads, "QUEUE_WAIT_S", 0.2)
    at = run_page("pages/9_Data.py")
    assert uploads._running.acquire(blocking=False), "no other upload runs in this test process"
    try:
        at = _upload(at, "rows.csv", BAD_ROWS)
    finally:
        uploads._running.release()
    assert [e.value for e in at.error] == ["Another upload has been running for over 0.2 s; try again when it is done."]
    at = _upload(at, "rows.csv", BAD_ROWS)  # once it ended, the next upload runs
    assert [e.value.replace("\\", "") for e in at.error] == ["rows.csv: row 1, column 'e2e_ms': negative value -5.0"]


def test_a_parquet_text_column_declaring_more_than_its_row_group_limit_is_refused_before_reading(tmp_path, monkeypatch):
    # Short names pass the per-value check; their sum is what a page of text costs to decode.
    monkeypatch.setattr(readers, "MAX_TEXT_CHUNK_BYTES", MIB)
    names = [f"deployment-{i:06d}" for i in range(100_000)]  # 2.2 MB as PLAIN text
    path = tmp_path / "wide_text.parquet"
    pq.write_table(pa.table({"ts": pa.array([datetime(2024, 1, 1, tzinfo=UTC)] * len(names), pa.timestamp("ms", "UTC")),
                             "deployment": pa.array(names)}), path, use_dictionary=False)
    with pytest.raises(InputError, match=r"column 'deployment': row group 1 declares 2 MiB of text \(the limit is 1 MiB "
                                         r"a column per row group; write smaller row groups\)"):
        ingest.stage_file(path, "requests")
