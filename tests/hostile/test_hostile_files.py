"""Hostile files: each is refused in one line naming file, row and column, within bounded memory.

Every file is crafted here, small on disk: gzip bombs are gzip of zeros or of one repeated row,
Parquet bombs repeat one constant value. A representative subset goes through the real command
line (`python -m analytics ingest`, exit code 2, one stderr line, nothing in the store); the rest
through open_file/stage_file, with the limits of analytics.ingest.readers lowered where reaching
the real one would take minutes (the check is the same code).
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.errors import InputError
from analytics.ingest import files as ingest
from analytics.ingest import readers

ROOT = Path(__file__).resolve().parent.parent.parent
HEADER = "ts,deployment,status,ttft_ms,e2e_ms,output_tokens\n"
ROW = "2024-01-01 00:00:00,a,ok,100,900,10\n"


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analytics", "--dsn", f"chdb://{db}", *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


def _rows_in_store(db: Path) -> int:
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from analytics.store.client import Store; s = Store(sys.argv[1]); "
         "print(s.scalar('SELECT count() FROM requests') + s.scalar('SELECT count() FROM gpu_metrics'))",
         f"chdb://{db}"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def _gzip_of_zeros(path: Path, mebibytes: int) -> Path:
    with gzip.open(path, "wb", compresslevel=9) as out:
        block = b"\0" * (1 << 20)
        for _ in range(mebibytes):
            out.write(block)
    return path


def _constant_parquet(path: Path, row_groups: int, rows_per_group: int = 1_000_000) -> Path:
    """A Parquet bomb: one constant int64 column, a few KB on disk per million rows."""
    table = pa.table({"ts": pa.array([0] * rows_per_group, pa.int64())})
    with pq.ParquetWriter(path, table.schema, compression="zstd") as writer:
        for _ in range(row_groups):
            writer.write_table(table)
    return path


def _llmperf_record(**changes) -> dict:
    record = {"ttft_s": 0.5, "inter_token_latency_s": 0.02, "end_to_end_latency_s": 2.5, "error_code": None,
              "number_input_tokens": 100, "number_output_tokens": 100}
    return {**record, **changes}


def _case_gzip_zeros(tmp: Path) -> tuple[Path, str]:
    # Named .csv, 512 MiB of zeros in 0.5 MB: the first line is over the line limit.
    return _gzip_of_zeros(tmp / "zeros.csv", 512), r"a line longer than 1 MiB"


def _case_parquet_rows(tmp: Path) -> tuple[Path, str]:
    return _constant_parquet(tmp / "bomb.parquet", 51), r"51,000,000 rows \(the limit for one file is 50,000,000\)"


def _case_too_many_tokens(tmp: Path) -> tuple[Path, str]:
    path = tmp / "tokens.csv"
    path.write_text(HEADER + ROW + ROW.replace(",10\n", ",4294967296\n"))
    return path, r"row 2, column 'output_tokens': 4294967296 is above the largest count 4294967295"


def _case_year_2500(tmp: Path) -> tuple[Path, str]:
    path = tmp / "future.csv"
    path.write_text(HEADER + ROW + ROW.replace("2024-", "2500-"))
    return path, r"row 2, column 'ts': 2500-01-01 00:00:00 is outside the plausible range 2000-01-01 \.\. now"


def _case_latin1_json_lines(tmp: Path) -> tuple[Path, str]:
    path = tmp / "latin1.jsonl"
    path.write_bytes(b'{"timestamp": 0, "input_length": 10, "output_length": 5}\n'
                     b'{"timestamp": 5, "input_length": 10, "output_length": 5, "note": "caf\xe9"}\n')
    return path, r"row 2, column 'note': not UTF-8 text \(byte 0xe9"


def _case_deep_json(tmp: Path) -> tuple[Path, str]:
    path = tmp / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    return path, r"JSON nested deeper than 32 levels"


def _case_infinite_latency(tmp: Path) -> tuple[Path, str]:
    path = tmp / "inf.json"
    path.write_text(json.dumps([_llmperf_record(), _llmperf_record(end_to_end_latency_s=float("inf"))]))
    return path, r"row 2, column 'end_to_end_latency_s': inf is not a finite number of seconds"


def _case_list_column(tmp: Path) -> tuple[Path, str]:
    path = tmp / "lists.parquet"
    pl.DataFrame({"ts": [datetime(2024, 1, 1, tzinfo=UTC)], "deployment": ["a"], "e2e_ms": [[1.0, 2.0]]}).write_parquet(path)
    return path, r"column 'e2e_ms': Parquet type (large_)?list<.*> holds nested values"


CLI_CASES = {
    "a gzip bomb of zeros named .csv": _case_gzip_zeros,
    "a Parquet bomb of 51 million constant rows": _case_parquet_rows,
    "an output_tokens of 2^32": _case_too_many_tokens,
    "a timestamp in the year 2500": _case_year_2500,
    "latin-1 bytes in JSON lines": _case_latin1_json_lines,
    "deeply nested JSON": _case_deep_json,
    "an infinite LLMPerf latency": _case_infinite_latency,
    "a list-typed Parquet column": _case_list_column,
}


@pytest.mark.parametrize("case", CLI_CASES, ids=list(CLI_CASES))
def test_the_ingest_command_refuses_a_hostile_file_in_one_line_and_loads_nothing(tmp_path, case):
    path, message = CLI_CASES[case](tmp_path)
    db = tmp_path / "db"
    result = _cli(db, "ingest", str(path))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}: ")
    assert __import__("re").search(message, lines[0]), lines[0]
    assert _rows_in_store(db) == 0


def _refused(path: Path, fmt: str | None, message: str, **kwargs) -> str:
    with pytest.raises(InputError, match=message) as error:
        ingest.stage_file(path, fmt, **kwargs)
    assert "\n" not in str(error.value) and str(error.value).startswith(f"{path}: ")
    return str(error.value)


def test_a_gzip_file_whose_text_passes_the_decompressed_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "MAX_TEXT_BYTES", 1 << 20)
    path = tmp_path / "rows.csv"  # 2.3 MiB of valid rows in a few KB
    path.write_bytes(gzip.compress((HEADER + ROW * 70_000).encode()))
    _refused(path, "requests", r"more than 1 MiB of text after decompression")


def test_a_gzip_file_within_the_limits_loads_whatever_its_name(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_bytes(gzip.compress((HEADER + ROW * 3).encode()))
    assert ingest.stage_file(path).frame.height == 3


@pytest.mark.parametrize(("magic", "name"), [(b"\x28\xb5\x2f\xfd", "zstd"), (b"BZh9", "bzip2"), (b"PK\x03\x04", "zip")])
def test_other_compressions_are_refused_by_their_magic_bytes(tmp_path, magic, name):
    path = tmp_path / "data.csv"
    path.write_bytes(magic + b"\0" * 64)
    _refused(path, "requests", rf"is {name}-compressed; only gzip is read")


def test_more_rows_than_the_limit_are_refused_at_the_first_row_past_it(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "MAX_ROWS", 5)
    path = tmp_path / "many.csv"
    path.write_text(HEADER + ROW * 6)
    _refused(path, "requests", r"row 6: more than 5 rows")


def test_a_parquet_file_declaring_more_rows_than_the_limit_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "MAX_ROWS", 999_999)
    _refused(_constant_parquet(tmp_path / "bomb.parquet", 1), "requests", r"1,000,000 rows \(the limit")


def test_a_parquet_row_group_declaring_too_many_bytes_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "MAX_ROW_GROUP_BYTES", 1 << 20)  # the group declares ~8 MB uncompressed
    path = tmp_path / "group.parquet"
    pq.write_table(pa.table({"ts": pa.array(range(1_000_000), pa.int64())}), path, use_dictionary=False)
    _refused(path, "requests", r"row group 1 declares .* uncompressed \(the limit is 1 MiB")


def test_a_parquet_text_bomb_is_refused_from_its_dictionary(tmp_path):
    # One 2 KB deployment name repeated a million times: 2 GB if expanded, a few KB on disk.
    path = tmp_path / "labels.parquet"
    pq.write_table(pa.table({"ts": pa.array([datetime(2024, 1, 1, tzinfo=UTC)] * 1_000_000, pa.timestamp("ms", "UTC")),
                             "deployment": pa.array(["x" * 2048] * 1_000_000)}), path)
    _refused(path, "requests", r"row 1, column 'deployment': a text value longer than 1,024 bytes")


def test_too_many_columns_are_refused_from_the_header(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(300)) + "\n")
    _refused(path, "requests", r"300 columns in the header \(the limit is 256\)")


def test_a_json_array_larger_than_its_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "MAX_JSON_BYTES", 1000)
    path = tmp_path / "big.json"
    path.write_text(json.dumps([_llmperf_record()] * 20))
    _refused(path, "llmperf", r"a JSON document larger than 1,000 bytes")


def test_an_integer_of_thousands_of_digits_is_refused(tmp_path):
    path = tmp_path / "digits.jsonl"
    path.write_text('{"timestamp": ' + "9" * 5000 + ', "input_length": 1, "output_length": 1}\n')
    _refused(path, "mooncake", r"row 1: not valid JSON \(Exceeds the limit")


def test_a_mooncake_timestamp_of_1e20_names_its_row(tmp_path):
    path = tmp_path / "far.jsonl"
    path.write_text('{"timestamp": 0, "input_length": 1, "output_length": 1}\n'
                    '{"timestamp": 1e20, "input_length": 1, "output_length": 1}\n')
    _refused(path, "mooncake", r"row 2, column 'timestamp': .* outside the plausible range")


@pytest.mark.parametrize("year", ["1850", "1970", "9999"])
def test_implausible_years_are_refused_not_clamped(tmp_path, year):
    path = tmp_path / "years.csv"
    path.write_text(HEADER + ROW.replace("2024", year))
    _refused(path, "requests", r"row 1, column 'ts': .* outside the plausible range")


def test_a_repeated_header_row_is_refused(tmp_path):
    path = tmp_path / "concatenated.csv"
    path.write_text(HEADER + ROW + HEADER + ROW)
    _refused(path, "requests", r"row 2: repeats the header row")


def test_a_short_row_is_refused(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text(HEADER + ROW + "2024-01-01 00:00:00,a,ok\n")
    _refused(path, "requests", r"row 2: 3 fields where the header has 6")


def test_a_line_longer_than_the_limit_is_refused_without_reading_it_whole(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text(HEADER + ROW + "2024-01-01 00:00:00," + "a" * (2 << 20) + ",ok,1,2,3\n")
    _refused(path, "requests", r"row 2: a row longer than 1 MiB")


def test_latin1_bytes_in_a_csv_name_their_row_and_column(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + ROW).encode() + b"2024-01-01 00:00:00,caf\xe9,ok,1,2,3\n")
    _refused(path, "requests", r"row 2, column 'deployment': not UTF-8 text")


def test_a_nan_or_infinite_latency_in_a_csv_is_refused(tmp_path):
    path = tmp_path / "inf.csv"
    path.write_text(HEADER + ROW + ROW.replace(",900,", ",inf,"))
    _refused(path, "requests", r"row 2, column 'e2e_ms': inf is not a finite latency")


def test_a_latency_beyond_float32_is_refused_rather_than_stored_as_infinity(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text(HEADER + ROW.replace(",900,", ",1e39,"))
    _refused(path, "requests", r"row 1, column 'e2e_ms': 1e\+39 is not a finite latency")


def test_a_parquet_file_named_csv_is_read_as_parquet_and_a_csv_named_parquet_is_refused(tmp_path):
    path = tmp_path / "really_parquet.csv"
    pl.DataFrame({"ts": [datetime(2024, 1, 1, tzinfo=UTC)], "deployment": ["a"]}).write_parquet(path)
    assert ingest.stage_file(path, "requests").frame.height == 1
    fake = tmp_path / "fake.parquet"
    fake.write_text(HEADER + ROW)
    _refused(fake, "requests", r"not a Parquet file \(it does not start with PAR1\)")


def test_errors_name_rows_of_the_whole_file_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "CHUNK_ROWS", 2)
    path = tmp_path / "chunks.csv"
    path.write_text(HEADER + ROW * 4 + ROW.replace(",900,", ",-1,"))
    chunks = ingest.open_file(path, "requests").chunks()
    assert [next(chunks).height, next(chunks).height] == [2, 2]
    with pytest.raises(InputError, match=r"row 5, column 'e2e_ms': negative value"):
        next(chunks)


def test_parquet_rows_are_numbered_over_the_whole_file(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "PARQUET_BATCH_ROWS", 3)
    monkeypatch.setattr(readers, "CHUNK_ROWS", 4)
    path = tmp_path / "rows.parquet"
    e2e = [900.0] * 9 + [-1.0]
    pl.DataFrame({"ts": [datetime(2024, 1, 1, tzinfo=UTC)] * 10, "deployment": ["a"] * 10, "e2e_ms": e2e}).write_parquet(
        path, row_group_size=5)
    heights = []
    with pytest.raises(InputError, match=r"row 10, column 'e2e_ms': negative value"):
        for chunk in ingest.open_file(path, "requests").chunks():
            heights.append(chunk.height)
    assert heights == [4, 4]


@pytest.mark.parametrize(("name", "content"), [
    ("truncated", gzip.compress((HEADER + ROW * 1000).encode())[:200]),
    ("garbage after the magic", b"\x1f\x8b" + b"\xff" * 100),
], ids=["a truncated gzip", "garbage after the gzip magic"])
def test_a_corrupt_gzip_is_refused_in_one_line(tmp_path, name, content):
    path = tmp_path / f"{name}.csv"
    path.write_bytes(content)
    _refused(path, "requests", r"corrupt gzip data")


def test_a_header_with_a_giant_field_is_refused_in_one_line(tmp_path):
    path = tmp_path / "giant_header.csv"
    path.write_text("a" * 200_000 + ",ts\n")
    _refused(path, "requests", r"malformed CSV header \(field larger than field limit")


def test_a_negative_year_is_refused_in_one_line(tmp_path):
    # Found by mutating the Azure excerpt: polars parses year -1, which Python cannot represent.
    path = tmp_path / "year_minus_one.csv"
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n-1-11-16 18:20:11.2389890,6819,82\n")
    _refused(path, "azure-llm", r"row 1, column 'ts': -0001-11-16 18:20:11 is outside the plausible range",
             deployment="x")


@pytest.mark.parametrize("dictionary", [True, False], ids=["dictionary-encoded", "plain"])
def test_invalid_utf8_in_a_parquet_text_column_names_its_row(tmp_path, dictionary):
    # Parquet writers do not guarantee UTF-8; unchecked, such bytes crash polars (a panic, not an error).
    raw = pa.array([b"a", b"b", b"caf\xe9"], pa.binary()).buffers()
    text = pa.Array.from_buffers(pa.string(), 3, raw)
    path = tmp_path / "latin1.parquet"
    pq.write_table(pa.table({"ts": pa.array(["2024-01-01 00:00:00"] * 3), "deployment": text}), path,
                   use_dictionary=dictionary)
    _refused(path, "requests", r"row 3, column 'deployment': not UTF-8 text")
