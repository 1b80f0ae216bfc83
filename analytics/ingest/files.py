"""Load telemetry files into the store: our schema (CSV/Parquet) and real trace formats.

Every file is parsed and validated completely before anything is written (stage in memory,
validate, then insert), so bad input loads nothing. Errors name the file, the 1-based data row
and the column.

Formats:
- ``requests``: our requests schema as CSV or Parquet (columns as in analytics.store.conventions).
- ``azure-llm``: Azure LLM inference trace 2023 (TIMESTAMP, ContextTokens, GeneratedTokens).
- ``mooncake``: Mooncake FAST'25 JSON lines (timestamp in ms relative to --start, input_length,
  output_length).
- ``llmperf``: LLMPerf per-request results (JSON array with ttft_s, inter_token_latency_s,
  end_to_end_latency_s, error_code, number_input_tokens, number_output_tokens).
- ``dcgm``: a DCGM-exporter-style CSV of GPU metrics (see analytics.ingest.dcgm).
Arrival-only traces (Azure, Mooncake) carry no latency or status: their rows load as status
'ok' with NULL latencies, so they feed demand and forecast views, not latency SLOs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from analytics.errors import InputError
from analytics.store import conventions as N

FORMATS = ("requests", "azure-llm", "mooncake", "llmperf", "dcgm")
LLMPERF_CONCURRENCY = 5  # LLMPerf leaderboard runs: 5 concurrent clients (its README)
DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)

_POLARS_TYPES = {
    "DateTime64(3, 'UTC')": pl.Datetime("ms", "UTC"),
    "LowCardinality(String)": pl.String,
    "String": pl.String,
    "Nullable(Float32)": pl.Float32,
    "UInt32": pl.UInt32,
    "UInt8": pl.UInt8,
}


CHUNK_ROWS = 500_000  # rows per validated chunk handed to the loader


@dataclass(frozen=True)
class Source:
    """An opened telemetry file: the table its rows go to and its rows as validated chunks.

    ``chunks()`` yields frames in the table's schema (columns of analytics.store.conventions),
    each at most CHUNK_ROWS rows, and raises InputError (file, 1-based data row, column) at the
    first invalid row; the loader publishes nothing of a file until every chunk has passed.
    """

    path: Path
    table: str
    chunks: Callable[[], Iterator[pl.DataFrame]]


@dataclass(frozen=True)
class Staged:
    """A validated frame ready to insert into `table`."""

    path: Path
    table: str
    frame: pl.DataFrame


def _fail(path: Path, row: int | None, column: str | None, message: str) -> InputError:
    where = ", ".join(p for p in (f"row {row}" if row else "", f"column {column!r}" if column else "") if p)
    return InputError(f"{path}: {where + ': ' if where else ''}{message}")


def _first_bad_row(mask: pl.Series) -> int | None:
    """1-based index of the first True in mask, or None."""
    idx = mask.arg_true()
    return int(idx[0]) + 1 if len(idx) else None


def _cast_column(path: Path, frame: pl.DataFrame, column: str, dtype, what: str) -> pl.Series:
    """Cast a text column strictly, failing with the first row that does not parse."""
    raw = frame[column]
    if dtype == pl.Datetime("ms", "UTC"):
        parsed = _parse_times(raw)
    else:
        parsed = raw.cast(pl.String).str.strip_chars().cast(dtype, strict=False) if raw.dtype == pl.String else raw.cast(dtype, strict=False)
    bad = parsed.is_null() & raw.is_not_null() & (raw.cast(pl.String).str.strip_chars() != "")
    row = _first_bad_row(bad)
    if row:
        raise _fail(path, row, column, f"{raw[row - 1]!r} is not {what}")
    return parsed


def _parse_times(raw: pl.Series) -> pl.Series:
    """Parse ISO-like text or datetimes into UTC milliseconds; naive times are UTC."""
    if raw.dtype == pl.Datetime or isinstance(raw.dtype, pl.Datetime):
        tz = raw.dtype.time_zone
        series = raw if tz else raw.dt.replace_time_zone("UTC")
        return series.dt.convert_time_zone("UTC").dt.cast_time_unit("ms")
    text = raw.cast(pl.String).str.strip_chars().str.replace(r"Z$", "+00:00").str.replace(r"(\.\d{6})\d+", "$1")
    with_zone = text.str.to_datetime(format="%Y-%m-%d %H:%M:%S%.f%:z", strict=False, time_zone="UTC")
    for fmt in ("%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        zoned = fmt.endswith("%:z")
        attempt = text.str.to_datetime(format=fmt, strict=False, time_zone="UTC" if zoned else None)
        if not zoned:
            attempt = attempt.dt.replace_time_zone("UTC")
        with_zone = with_zone.fill_null(attempt)
    return with_zone.dt.cast_time_unit("ms")


def _read_table(path: Path) -> pl.DataFrame:
    try:
        if path.suffix.lower() == ".parquet":
            return pl.read_parquet(path)
        return pl.read_csv(path, infer_schema=False)
    except FileNotFoundError as exc:
        raise _fail(path, None, None, "no such file") from exc
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _fail(path, None, None, f"cannot be read as {path.suffix or 'CSV'} ({exc})") from exc


def _require(path: Path, frame: pl.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise _fail(path, None, missing[0], f"missing column (required: {', '.join(columns)})")


def _non_negative(path: Path, series: pl.Series, column: str) -> None:
    row = _first_bad_row((series < 0).fill_null(False))
    if row:
        raise _fail(path, row, column, f"negative value {series[row - 1]}")


def _finish_requests(path: Path, frame: pl.DataFrame) -> pl.DataFrame:
    """Fill defaults, cast every column of the requests schema and validate values."""
    defaults = {"model": pl.col("deployment"), "model_version": pl.lit(""), "region": pl.lit(""),
                "gpu_type": pl.lit(""), "replica": pl.lit(""), "status": pl.lit("ok"),
                "input_tokens": pl.lit(0), "output_tokens": pl.lit(0), "weight": pl.lit(1)}
    for column, value in defaults.items():
        if column not in frame.columns:
            frame = frame.with_columns(value.alias(column))
    for column in N.LATENCY_FIELDS:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.Float32).alias(column))
    what = {pl.Float32: "a number", pl.UInt32: "a whole number >= 0", pl.String: "text",
            pl.Datetime("ms", "UTC"): "a time (ISO 8601, UTC if no zone)"}
    out = {}
    for column, ch_type in N.REQUEST_COLUMNS.items():
        dtype = _POLARS_TYPES[ch_type]
        if dtype == pl.UInt32:  # negative counts must name the row, not just fail a cast
            signed = _cast_column(path, frame, column, pl.Int64, "a whole number")
            _non_negative(path, signed, column)
            out[column] = signed.cast(pl.UInt32)
        else:
            out[column] = _cast_column(path, frame, column, dtype, what[dtype])
    result = pl.DataFrame(out)
    for column in ("ts", "deployment"):
        row = _first_bad_row(result[column].is_null() | (result[column].cast(pl.String) == ""))
        if row:
            raise _fail(path, row, column, "empty")
    row = _first_bad_row(result["weight"] == 0)
    if row:
        raise _fail(path, row, "weight", "0: a row stands for at least one request (1 / sample rate)")
    row = _first_bad_row(~result["status"].is_in(N.STATUSES))
    if row:
        raise _fail(path, row, "status", f"{result['status'][row - 1]!r} is not one of {', '.join(N.STATUSES)}")
    for column in N.LATENCY_FIELDS:
        _non_negative(path, result[column], column)
        row = _first_bad_row(result[column].is_nan().fill_null(False))
        if row:
            raise _fail(path, row, column, "NaN is not a latency")
    return result


def parse_requests(path: Path, deployment: str | None) -> pl.DataFrame:
    """Our requests schema from CSV or Parquet."""
    frame = _read_table(path)
    if deployment:
        frame = frame.with_columns(pl.lit(deployment).alias("deployment"))
    _require(path, frame, ("ts", "deployment"))
    return _finish_requests(path, frame)


def parse_azure(path: Path, deployment: str | None) -> pl.DataFrame:
    """The Azure LLM inference trace (arrival time and token counts only)."""
    frame = _read_table(path)
    _require(path, frame, ("TIMESTAMP", "ContextTokens", "GeneratedTokens"))
    frame = frame.select(
        pl.col("TIMESTAMP").alias("ts"),
        pl.col("ContextTokens").alias("input_tokens"),
        pl.col("GeneratedTokens").alias("output_tokens"),
    ).with_columns(pl.lit(deployment or path.stem).alias("deployment"))
    return _finish_requests(path, frame)


def _read_json_records(path: Path, lines: bool) -> list[dict]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise _fail(path, None, None, f"cannot be read ({exc.strerror})") from exc
    if lines:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise _fail(path, number, None, f"not valid JSON ({exc.msg})") from exc
        return records
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(path, None, None, f"not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data, list):
        raise _fail(path, None, None, "expected a JSON array of request objects")
    return data


def _records_frame(path: Path, records: list[dict], columns: tuple[str, ...]) -> pl.DataFrame:
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise _fail(path, number, None, "expected a JSON object")
        for column in columns:
            if column not in record:
                raise _fail(path, number, column, "missing")
    return pl.DataFrame({c: [str(r[c]) if r[c] is not None else None for r in records] for c in columns})


def parse_mooncake(path: Path, deployment: str | None, start: datetime | None) -> pl.DataFrame:
    """Mooncake JSON lines: relative arrival in ms from `start`, input and output lengths."""
    cols = ("timestamp", "input_length", "output_length")
    frame = _records_frame(path, _read_json_records(path, lines=True), cols)
    offset = _cast_column(path, frame, "timestamp", pl.Float64, "a number of milliseconds")
    _non_negative(path, offset, "timestamp")
    t0 = pl.lit(start or DEFAULT_START).cast(pl.Datetime("ms", "UTC"))
    frame = frame.with_columns(
        (t0 + pl.duration(milliseconds=offset.round(0).cast(pl.Int64))).alias("ts"),
        pl.lit(deployment or path.stem).alias("deployment"),
    ).rename({"input_length": "input_tokens", "output_length": "output_tokens"}).drop("timestamp")
    return _finish_requests(path, frame)


def _llmperf_run(path: Path) -> tuple[datetime | None, str | None]:
    """Run start time and model from the summary file beside individual/, when present."""
    summary = path.parent.parent / "summary" / path.name
    if not summary.is_file():
        return None, None
    try:
        data = json.loads(summary.read_text())
        return datetime.fromtimestamp(float(data["timestamp"]), UTC), data.get("model")
    except (ValueError, KeyError, TypeError, OSError):
        return None, None


def parse_llmperf(path: Path, deployment: str | None, start: datetime | None) -> pl.DataFrame:
    """LLMPerf per-request results. Failed rows (error_code set) are failures, never fast requests.

    error_code 429 -> 'rejected'; any other code (-1 client failure, -100 too few tokens) ->
    'error'; failed rows get NULL latencies, since LLMPerf records 0 s for them. Arrival times
    are reconstructed from the run start (summary file, else --start) by spreading requests over
    LLMPERF_CONCURRENCY clients: arrival_i = t0 + sum(e2e_<i) / concurrency.
    """
    cols = ("ttft_s", "inter_token_latency_s", "end_to_end_latency_s", "error_code",
            "number_input_tokens", "number_output_tokens")
    frame = _records_frame(path, _read_json_records(path, lines=False), cols)
    run_start, model = _llmperf_run(path)
    seconds = {c: _cast_column(path, frame, c, pl.Float64, "a number of seconds") for c in cols[:3]}
    for column, series in seconds.items():
        _non_negative(path, series, column)
    code = _cast_column(path, frame, "error_code", pl.Int64, "an integer error code or null")
    failed = code.is_not_null()
    status = pl.when(code.is_null()).then(pl.lit("ok")).when(code == 429).then(pl.lit("rejected")).otherwise(pl.lit("error"))
    t0 = start or run_start or DEFAULT_START
    arrival_ms = (seconds["end_to_end_latency_s"].fill_null(0).cum_sum().shift(1, fill_value=0) * 1000 / LLMPERF_CONCURRENCY)
    ms = {c: pl.when(failed).then(None).otherwise(seconds[c] * 1000) for c in cols[:3]}
    staged = pl.DataFrame({"_code": code}).select(
        (pl.lit(t0).cast(pl.Datetime("ms", "UTC")) + pl.duration(milliseconds=arrival_ms.round(0).cast(pl.Int64))).alias("ts"),
        pl.lit(deployment or path.stem).alias("deployment"),
        pl.lit(model or deployment or path.stem).alias("model"),
        status.alias("status"),
        ms["ttft_s"].alias("ttft_ms"),
        ms["inter_token_latency_s"].alias("tpot_ms"),
        ms["end_to_end_latency_s"].alias("e2e_ms"),
        frame["number_input_tokens"].alias("input_tokens"),
        frame["number_output_tokens"].alias("output_tokens"),
    )
    return _finish_requests(path, staged)


def stage_file(path: Path, fmt: str | None = None, deployment: str | None = None,
               start: datetime | None = None) -> Staged:
    """Parse and validate one file; nothing is written."""
    path = Path(path)
    fmt = fmt or guess_format(path)
    if fmt == "requests":
        return Staged(path, N.REQUESTS, parse_requests(path, deployment))
    if fmt == "azure-llm":
        return Staged(path, N.REQUESTS, parse_azure(path, deployment))
    if fmt == "mooncake":
        return Staged(path, N.REQUESTS, parse_mooncake(path, deployment, start))
    if fmt == "llmperf":
        return Staged(path, N.REQUESTS, parse_llmperf(path, deployment, start))
    if fmt == "dcgm":
        from analytics.ingest.dcgm import parse_dcgm_csv

        return Staged(path, N.GPU_METRICS, parse_dcgm_csv(path, deployment))
    raise InputError(f"{path}: unknown format {fmt!r} (one of {', '.join(FORMATS)})")


def open_file(path: Path, fmt: str | None = None, deployment: str | None = None,
              start: datetime | None = None) -> Source:
    """Open one file for loading; its rows are read and validated as chunks() is iterated."""
    path = Path(path)

    def chunks() -> Iterator[pl.DataFrame]:
        frame = stage_file(path, fmt, deployment, start).frame
        for offset in range(0, frame.height, CHUNK_ROWS):
            yield frame.slice(offset, CHUNK_ROWS)

    table = N.GPU_METRICS if (fmt or guess_format(path)) == "dcgm" else N.REQUESTS
    return Source(path, table, chunks)


def guess_format(path: Path) -> str:
    """Format from the file name: .jsonl -> mooncake, .json -> llmperf, else our schema."""
    suffix = path.suffix.lower()
    return {".jsonl": "mooncake", ".json": "llmperf"}.get(suffix, "requests")

