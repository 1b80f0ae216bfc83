"""Load telemetry files into the store: our schema (CSV/Parquet) and real trace formats.

`open_file(...).chunks()` streams a file as validated frames of at most CHUNK_ROWS rows, within
the limits of analytics.ingest.readers (decompressed size, rows, columns, line length, JSON size
and nesting): memory stays bounded whatever the file holds. The content decides how it is read
(gzip is decompressed whatever the file is called; Parquet is recognised by its magic bytes).
Errors name the file, the 1-based data row (counted over the whole file) and the column; the
loader publishes nothing of a file until every chunk has passed.

Formats:
- ``requests``: our requests schema as CSV or Parquet (columns as in analytics.store.conventions).
  Without a ``status`` column the outcome was not recorded: rows load as status 'unknown'.
- ``azure-llm``: Azure LLM inference trace 2023 (TIMESTAMP, ContextTokens, GeneratedTokens).
- ``mooncake``: Mooncake FAST'25 JSON lines (timestamp in ms relative to --start, input_length,
  output_length).
- ``llmperf``: LLMPerf per-request results (JSON array with ttft_s, inter_token_latency_s,
  end_to_end_latency_s, error_code, number_input_tokens, number_output_tokens).
- ``dcgm``: a DCGM-exporter-style CSV of GPU metrics (see analytics.ingest.dcgm).
- ``deployments``: what each deployment runs on and its GPU price, as CSV or YAML, into the
  deployments table (see analytics.ingest.deployments); a file in the requests format is taken
  as one when its header names deployments (or it is YAML).
Arrival-only traces (Azure, Mooncake) carry no latency or status: their rows load as status
'unknown' with NULL latencies, so they feed demand and forecast views and never availability or
latency SLOs (analytics.store.conventions.STATUSES).

Rules every request row must meet (else the file is refused): a time within the plausible range
(readers.TS_EARLIEST .. now + readers.TS_AHEAD), a deployment, counts 0 .. 4294967295 (UInt32),
finite non-negative latencies that fit Float32, e2e_ms >= ttft_ms, text values of at most
MAX_TEXT_CELL_BYTES. TPOT is derived where it is missing (rules.derive_tpot). Every chunk is
checked in one vectorised pass (analytics.ingest.rules).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from analytics.errors import InputError
from analytics.ingest import deployments as deployments_file
from analytics.ingest import readers, rules
from analytics.ingest.readers import CHUNK_ROWS  # noqa: F401  (part of this module's interface)
from analytics.ingest.readers import fail as _fail
from analytics.store import conventions

FORMATS = ("requests", "azure-llm", "mooncake", "llmperf", "dcgm", "deployments")
LLMPERF_CONCURRENCY = 5  # LLMPerf leaderboard runs: 5 concurrent clients (its README)
DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)
TABLES = {"dcgm": conventions.GPU_METRICS, "deployments": conventions.DEPLOYMENTS}  # else requests


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


def _check(path: Path, at: int, mask: pl.Series, column: str, message: Callable[[int], str]) -> None:
    """Fail at the first row where mask holds; message(i) describes row i of the chunk."""
    mask = mask.fill_null(False)
    if mask.any():
        i = int(mask.arg_max())
        raise _fail(path, at + i + 1, column, message(i))


def _cast_column(path: Path, at: int, frame: pl.DataFrame, column: str, dtype, what: str) -> pl.Series:
    """Cast a column strictly, failing with the first row that does not parse."""
    raw_dtype = frame.schema[column]
    work = frame.select(pl.col(column).alias(rules.RAW + column))
    value = (rules.parse_times(work[rules.RAW + column]) if dtype == rules.TIME
             else work.select(rules.parsed(column, raw_dtype, dtype)).to_series())
    work = work.with_columns(value.alias(column))
    rules.enforce(path, at, work, [rules.unparsed(column, raw_dtype, what)])
    return work[column]


def _require(path: Path, present, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in present]
    if missing:
        raise _fail(path, None, missing[0], f"missing column (required: {', '.join(columns)})")


def _non_negative(path: Path, at: int, series: pl.Series, column: str) -> None:
    rules.enforce(path, at, series.to_frame(column), [rules.non_negative(column)])


def _finite(path: Path, at: int, series: pl.Series, column: str, what: str) -> None:
    """Refuse NaN and infinities, and values Float32 cannot hold (they would become inf)."""
    rules.enforce(path, at, series.to_frame(column), rules.finite(column, what))


def _requests_chunks(path: Path, deployment: str | None) -> Iterator[pl.DataFrame]:
    """Our requests schema from CSV or Parquet."""
    names, chunks = readers.table_chunks(path, list(conventions.REQUEST_COLUMNS), readers.CHUNK_ROWS)
    _require(path, {*names, *(("deployment",) if deployment else ())}, ("ts", "deployment"))
    for at, frame in chunks:
        if deployment:
            frame = frame.with_columns(pl.lit(deployment).alias("deployment"))
        yield rules.finish_requests(path, at, frame, tokens_known="output_tokens" in names)


def _azure_chunks(path: Path, deployment: str | None) -> Iterator[pl.DataFrame]:
    """The Azure LLM inference trace (arrival time and token counts only)."""
    columns = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
    names, chunks = readers.table_chunks(path, list(columns), readers.CHUNK_ROWS)
    _require(path, names, columns)
    for at, frame in chunks:
        frame = frame.select(
            pl.col("TIMESTAMP").alias("ts"),
            pl.col("ContextTokens").alias("input_tokens"),
            pl.col("GeneratedTokens").alias("output_tokens"),
        ).with_columns(pl.lit(deployment or path.stem).alias("deployment"))
        yield rules.finish_requests(path, at, frame, tokens_known=False)


def _record_values(path: Path, row: int, record, columns: tuple[str, ...]) -> list[str | None]:
    """The record's values of `columns` as text; a record must be an object of flat values."""
    if not isinstance(record, dict):
        raise _fail(path, row, None, "expected a JSON object")
    values = []
    for column in columns:
        if column not in record:
            raise _fail(path, row, column, "missing")
        value = record[column]
        if isinstance(value, dict | list | bool):
            raise _fail(path, row, column, f"{value!r:.40} is not a number (a JSON {type(value).__name__})")
        values.append(None if value is None else str(value))
    return values


def _records_frame(rows: list[list[str | None]], columns: tuple[str, ...]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String), orient="row")


def _ms_to_times(path: Path, at: int, ms: pl.Series, column: str) -> pl.Series:
    """Epoch milliseconds (float) as UTC times, refusing values outside the plausible range first."""
    latest = (datetime.now(UTC) + readers.TS_AHEAD).timestamp() * 1000
    earliest = readers.TS_EARLIEST.timestamp() * 1000
    _check(path, at, (ms < earliest) | (ms > latest) | ms.is_nan(), column,
           lambda i: f"{ms[i]!r} ms since 1970 falls outside the plausible range "
                     f"{readers.TS_EARLIEST:%Y-%m-%d} .. now + {readers.TS_AHEAD.days} day")
    return ms.round(0).cast(pl.Int64).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")


def _mooncake_chunks(path: Path, deployment: str | None, start: datetime | None) -> Iterator[pl.DataFrame]:
    """Mooncake JSON lines: relative arrival in ms from `start`, input and output lengths."""
    cols = ("timestamp", "input_length", "output_length")
    t0_ms = (start or DEFAULT_START).timestamp() * 1000
    pending: list[list[str | None]] = []
    at = 0

    def finish(rows: list, at: int) -> pl.DataFrame:
        frame = _records_frame(rows, cols)
        offset = _cast_column(path, at, frame, "timestamp", pl.Float64, "a number of milliseconds")
        _non_negative(path, at, offset, "timestamp")
        frame = frame.with_columns(
            _ms_to_times(path, at, offset + t0_ms, "timestamp").alias("ts"),
            pl.lit(deployment or path.stem).alias("deployment"),
        ).rename({"input_length": "input_tokens", "output_length": "output_tokens"}).drop("timestamp")
        return rules.finish_requests(path, at, frame, tokens_known=False)

    for row, record in readers.json_lines(path):
        pending.append(_record_values(path, row, record, cols))
        if len(pending) == readers.CHUNK_ROWS:
            yield finish(pending, at)
            at, pending = at + len(pending), []
    if pending:
        yield finish(pending, at)


def _llmperf_run(path: Path) -> tuple[datetime | None, str | None]:
    """Run start time and model from the summary file beside individual/, when present."""
    summary = path.parent.parent / "summary" / path.name
    if not summary.is_file():
        return None, None
    try:
        data = readers.json_document(summary)
        return datetime.fromtimestamp(float(data["timestamp"]), UTC), data.get("model")
    except (InputError, ValueError, KeyError, TypeError, OSError, OverflowError, AttributeError):
        return None, None


def _llmperf_chunks(path: Path, deployment: str | None, start: datetime | None) -> Iterator[pl.DataFrame]:
    """LLMPerf per-request results. Failed rows (error_code set) are failures, never fast requests.

    error_code 429 -> 'rejected'; any other code (-1 client failure, -100 too few tokens) ->
    'error'; failed rows get NULL latencies, since LLMPerf records 0 s for them. Arrival times
    are reconstructed from the run start (summary file, else --start) by spreading requests over
    LLMPERF_CONCURRENCY clients: arrival_i = t0 + sum(e2e_<i) / concurrency. The file is one JSON
    array within readers.MAX_JSON_BYTES, decoded one record at a time.
    """
    cols = ("ttft_s", "inter_token_latency_s", "end_to_end_latency_s", "error_code",
            "number_input_tokens", "number_output_tokens")
    frame = _records_frame([_record_values(path, i, r, cols) for i, r in readers.json_array(path)], cols)
    run_start, model = _llmperf_run(path)
    seconds = {c: _cast_column(path, 0, frame, c, pl.Float64, "a number of seconds") for c in cols[:3]}
    for column, series in seconds.items():
        _non_negative(path, 0, series, column)
        _finite(path, 0, series, column, "number of seconds")
    code = _cast_column(path, 0, frame, "error_code", pl.Int64, "an integer error code or null")
    failed = code.is_not_null()
    status = pl.when(code.is_null()).then(pl.lit("ok")).when(code == 429).then(pl.lit("rejected")).otherwise(pl.lit("error"))
    t0_ms = (start or run_start or DEFAULT_START).timestamp() * 1000
    arrival_ms = (seconds["end_to_end_latency_s"].fill_null(0).cum_sum().shift(1, fill_value=0) * 1000
                  / LLMPERF_CONCURRENCY) + t0_ms
    ms = {c: pl.when(failed).then(None).otherwise(seconds[c] * 1000) for c in cols[:3]}
    staged = pl.DataFrame({"_code": code}).select(
        _ms_to_times(path, 0, arrival_ms, "end_to_end_latency_s").alias("ts"),
        pl.lit(deployment or path.stem).alias("deployment"),
        pl.lit(model or deployment or path.stem).alias("model"),
        status.alias("status"),
        ms["ttft_s"].alias("ttft_ms"),
        ms["inter_token_latency_s"].alias("tpot_ms"),
        ms["end_to_end_latency_s"].alias("e2e_ms"),
        frame["number_input_tokens"].alias("input_tokens"),
        frame["number_output_tokens"].alias("output_tokens"),
    )
    for offset in range(0, staged.height, readers.CHUNK_ROWS):
        yield rules.finish_requests(path, offset, staged.slice(offset, readers.CHUNK_ROWS), tokens_known=True)


def _chunks(path: Path, fmt: str, deployment: str | None, start: datetime | None) -> Iterator[pl.DataFrame]:
    if fmt == "requests":
        return _requests_chunks(path, deployment)
    if fmt == "azure-llm":
        return _azure_chunks(path, deployment)
    if fmt == "mooncake":
        return _mooncake_chunks(path, deployment, start)
    if fmt == "llmperf":
        return _llmperf_chunks(path, deployment, start)
    if fmt == "deployments":
        return deployments_file.chunks(path)
    from analytics.ingest.dcgm import dcgm_chunks

    return dcgm_chunks(path, deployment)


def open_file(path: Path, fmt: str | None = None, deployment: str | None = None,
              start: datetime | None = None) -> Source:
    """Open one file for loading; its rows are read and validated as chunks() is iterated."""
    path = Path(path)
    fmt = fmt or guess_format(path)
    if fmt not in FORMATS:
        raise InputError(f"{path}: unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if fmt == "requests" and deployments_file.is_deployments_file(path):
        fmt = "deployments"
    table = TABLES.get(fmt, conventions.REQUESTS)
    return Source(path, table, lambda: _chunks(path, fmt, deployment, start))


def stage_file(path: Path, fmt: str | None = None, deployment: str | None = None,
               start: datetime | None = None) -> Staged:
    """Parse and validate one whole file into one frame (for small files and tests); nothing is written."""
    source = open_file(path, fmt, deployment, start)
    frames = list(source.chunks())
    if frames:
        return Staged(source.path, source.table, pl.concat(frames))
    columns = conventions.GPU_COLUMNS if source.table == conventions.GPU_METRICS else conventions.REQUEST_COLUMNS
    empty = pl.DataFrame(schema={c: rules.POLARS_TYPES[t] for c, t in columns.items()})
    return Staged(source.path, source.table, empty)


def guess_format(path: Path) -> str:
    """Format from the file name: .jsonl -> mooncake, .json -> llmperf, .yaml/.yml -> deployments,
    else our schema (a final .gz is looked through: x.jsonl.gz is Mooncake); open_file then tells
    a deployments CSV by its header."""
    suffixes = [s.lower() for s in path.suffixes]
    suffix = suffixes[-2] if suffixes[-1:] == [".gz"] and len(suffixes) > 1 else path.suffix.lower()
    named = {".jsonl": "mooncake", ".json": "llmperf", **dict.fromkeys(deployments_file.YAML_SUFFIXES, "deployments")}
    return named.get(suffix, "requests")

