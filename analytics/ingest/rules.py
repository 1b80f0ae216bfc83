"""The rules every request row must meet, checked in one vectorised pass per chunk.

A chunk is parsed with polars expressions (no per-row Python) and every rule is evaluated in one
select that says, per rule, whether any row breaks it. Only then is the first row of the first
broken rule looked up and its message built, so a file is refused with the same row, column and
words as checking the rules one after another: rules are listed in column order, then the rules
between columns. One pass matters: checking rule by rule, casting every number column to text to
look for empty cells, cost three times as much CPU per row on a 5M-row Parquet file.

Rules (files.py's module docstring says them for users): a time within the plausible range
(readers.TS_EARLIEST .. now + readers.TS_AHEAD), a deployment, counts 0 .. 4294967295 (UInt32),
finite non-negative latencies that fit Float32, e2e_ms >= ttft_ms, a weight of at least 1, a
known status, text values of at most readers.MAX_TEXT_CELL_BYTES.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from analytics.ingest import readers
from analytics.store import conventions

UINT32_MAX = 2**32 - 1
FLOAT32_MAX = 3.4028234663852886e38
RAW = "raw:"  # prefix of the file's own columns, kept beside the parsed ones for messages
TIME = pl.Datetime("ms", "UTC")
POLARS_TYPES = {
    "DateTime64(3, 'UTC')": TIME,
    "LowCardinality(String)": pl.String,
    "String": pl.String,
    "Nullable(Float32)": pl.Float32,
    "UInt32": pl.UInt32,
    "UInt8": pl.UInt8,
}
_WHAT = {pl.String: "text", TIME: "a time (ISO 8601, UTC if no zone)", pl.Int64: "a whole number",
         pl.Float64: "a number"}


@dataclass(frozen=True)
class Rule:
    """One rule: the column an error names, the rows breaking it, and the problem at row i."""

    column: str
    bad: pl.Expr  # True where a row breaks the rule (null counts as kept)
    message: Callable[[pl.DataFrame, int], str]


def first_broken(frame: pl.DataFrame, rules: list[Rule]) -> tuple[int, Rule] | None:
    """(0-based row, rule) of the first row breaking the first broken rule, or None: one pass for all rules."""
    if not rules or frame.is_empty():
        return None
    broken = frame.select([r.bad.fill_null(False).any().alias(str(i)) for i, r in enumerate(rules)]).row(0)
    for rule, hit in zip(rules, broken, strict=True):
        if hit:
            return int(frame.select(rule.bad.fill_null(False).arg_max()).item()), rule
    return None


def enforce(path: Path, at: int, frame: pl.DataFrame, rules: list[Rule]) -> None:
    """Refuse the chunk at its first broken rule, naming the file's row (`at` rows came before)."""
    found = first_broken(frame, rules)
    if found:
        i, rule = found
        raise readers.fail(path, at + i + 1, rule.column, rule.message(frame, i))


def parse_times(raw: pl.Series) -> pl.Series:
    """Parse ISO-like text or datetimes into UTC milliseconds; naive times are UTC."""
    if isinstance(raw.dtype, pl.Datetime):
        tz = raw.dtype.time_zone
        series = raw if tz else raw.dt.replace_time_zone("UTC")
        return series.dt.convert_time_zone("UTC").dt.cast_time_unit("ms")
    text = raw.cast(pl.String).str.strip_chars().str.replace(r"Z$", "+00:00").str.replace(r"(\.\d{6})\d+", "$1")
    with_zone = text.str.to_datetime(format="%Y-%m-%d %H:%M:%S%.f%:z", strict=False, time_zone="UTC")
    for fmt in ("%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        todo = with_zone.is_null() & text.is_not_null()
        if not todo.any():  # every row parsed: skip the other formats
            break
        remaining = pl.select(pl.when(todo).then(text)).to_series()  # parse only what is left
        zoned = fmt.endswith("%:z")
        attempt = remaining.str.to_datetime(format=fmt, strict=False, time_zone="UTC" if zoned else None)
        if not zoned:
            attempt = attempt.dt.replace_time_zone("UTC")
        with_zone = with_zone.fill_null(attempt)
    return with_zone.dt.cast_time_unit("ms")


def parsed(column: str, raw_dtype: pl.DataType, dtype: pl.DataType) -> pl.Expr:
    """The raw column RAW+column cast to dtype, null where it does not parse (text is stripped first;
    a float count must be whole)."""
    raw = pl.col(RAW + column)
    if raw_dtype == pl.String:
        return raw.str.strip_chars().cast(dtype, strict=False)
    if dtype == pl.Int64 and raw_dtype.is_float():
        return pl.when(raw == raw.round(0)).then(raw.cast(dtype, strict=False))
    return raw.cast(dtype, strict=False)


def unparsed(column: str, raw_dtype: pl.DataType, what: str) -> Rule:
    """Rows whose raw value is present (not blank text) but did not parse into `column`."""
    raw = pl.col(RAW + column)
    present = raw.is_not_null() & (raw.str.strip_chars() != "") if raw_dtype == pl.String else raw.is_not_null()
    return Rule(column, pl.col(column).is_null() & present, lambda f, i: f"{f[RAW + column][i]!r} is not {what}")


def implausible_time(column: str) -> Rule:
    """Times outside TS_EARLIEST .. now + TS_AHEAD (a broken clock or unit would stretch every time axis)."""
    latest = datetime.now(UTC) + readers.TS_AHEAD
    return Rule(column, (pl.col(column) < readers.TS_EARLIEST) | (pl.col(column) > latest),
                lambda f, i: f"{f[column].slice(i, 1).dt.to_string('%Y-%m-%d %H:%M:%S').item()} is outside the "
                             f"plausible range {readers.TS_EARLIEST:%Y-%m-%d} .. now + {readers.TS_AHEAD.days} day")


def non_negative(column: str) -> Rule:
    """Counts and latencies are never negative."""
    return Rule(column, pl.col(column) < 0, lambda f, i: f"negative value {f[column][i]}")


def finite(column: str, what: str) -> list[Rule]:
    """No NaN or infinity, and nothing Float32 cannot hold (it would become inf)."""
    return [Rule(column, pl.col(column).is_nan(), lambda f, i: f"NaN is not a {what}"),
            Rule(column, pl.col(column).abs() > FLOAT32_MAX, lambda f, i: f"{f[column][i]} is not a finite {what}")]


def _count_rules(column: str) -> list[Rule]:
    return [non_negative(column), Rule(column, pl.col(column) > UINT32_MAX,
                                       lambda f, i: f"{f[column][i]} is above the largest count {UINT32_MAX}")]


def _request_rules(frame: pl.DataFrame, raw_types: dict[str, pl.DataType]) -> list[Rule]:
    """Every request rule in the order an error is reported (see the module docstring)."""
    rules: list[Rule] = []
    for column, ch_type in conventions.REQUEST_COLUMNS.items():
        dtype = _working_type(POLARS_TYPES[ch_type])
        rules.append(unparsed(column, raw_types[column], _WHAT[dtype]))
        if dtype == pl.Int64:
            rules += _count_rules(column)
        elif dtype == pl.Float64:
            rules += [non_negative(column), *finite(column, "latency")]
    rules += [Rule("ts", pl.col("ts").is_null(), lambda f, i: "empty"),
              Rule("deployment", pl.col("deployment").is_null() | (pl.col("deployment") == ""), lambda f, i: "empty")]
    rules.append(implausible_time("ts"))
    rules += [Rule(c, pl.col(c).str.len_bytes() > readers.MAX_TEXT_CELL_BYTES,
                   lambda f, i: f"a text value longer than {readers.MAX_TEXT_CELL_BYTES:,} bytes")
              for c, t in frame.schema.items() if t == pl.String and not c.startswith(RAW)]
    rules.append(Rule("weight", pl.col("weight") == 0,
                      lambda f, i: "0: a row stands for at least one request (1 / sample rate)"))
    rules.append(Rule("status", ~pl.col("status").is_in(conventions.STATUSES),
                      lambda f, i: f"{f['status'][i]!r} is not one of {', '.join(conventions.STATUSES)}"))
    rules.append(Rule("e2e_ms", pl.col("e2e_ms") < pl.col("ttft_ms"),
                      lambda f, i: f"{f['e2e_ms'][i]} is below ttft_ms {f['ttft_ms'][i]} "
                                   "(a response cannot end before its first token)"))
    return rules


def _working_type(dtype: pl.DataType) -> pl.DataType:
    """Counts are checked as Int64 and latencies as Float64, so that a negative or overflowing value
    is seen before the narrowing cast."""
    return {pl.UInt32: pl.Int64, pl.Float32: pl.Float64}.get(dtype, dtype)


_DEFAULTS = {"model": pl.col("deployment"), "model_version": pl.lit(""), "region": pl.lit(""),
             "gpu_type": pl.lit(""), "replica": pl.lit(""), "status": pl.lit("unknown"),
             "input_tokens": pl.lit(0), "output_tokens": pl.lit(0), "weight": pl.lit(1),
             **{c: pl.lit(None, pl.Float64) for c in conventions.LATENCY_FIELDS}}


def finish_requests(path: Path, at: int, frame: pl.DataFrame, *, tokens_known: bool) -> pl.DataFrame:
    """Fill defaults, parse every column of the requests schema, enforce the rules, derive TPOT.

    `at`: data rows before this chunk (errors name rows of the whole file). `tokens_known`: the
    file gave output_tokens (else it defaults to 0 and no TPOT is derived from it).
    """
    frame = frame.with_columns(v.alias(c) for c, v in _DEFAULTS.items() if c not in frame.columns)
    raw = frame.select(pl.col(list(conventions.REQUEST_COLUMNS)).name.prefix(RAW))
    raw_types = {c.removeprefix(RAW): t for c, t in raw.schema.items()}
    work = raw.with_columns(
        parse_times(raw[RAW + "ts"]).alias("ts"),
        *(parsed(c, raw_types[c], _working_type(POLARS_TYPES[t])).alias(c)
          for c, t in conventions.REQUEST_COLUMNS.items() if c != "ts"),
    )
    enforce(path, at, work, _request_rules(work, raw_types))
    work = work.select(list(conventions.REQUEST_COLUMNS))
    if tokens_known:
        work = work.with_columns(derive_tpot())
    return work.with_columns(pl.col(c).cast(POLARS_TYPES[t]) for c, t in conventions.REQUEST_COLUMNS.items())


def derive_tpot() -> pl.Expr:
    """tpot_ms, derived where missing from e2e_ms, ttft_ms and output_tokens for 'ok' rows.

    As vLLM's benchmarks/benchmark_serving.py computes it: TPOT = (e2e - ttft) / (output_tokens - 1),
    the mean time per output token after the first; and TPOT = 0 when output_tokens <= 1, the
    convention DistServe's goodput uses (Zhong et al., OSDI'24: a one-token answer has no decode
    phase to judge). Only 'ok' rows with both latencies are derived; a given tpot_ms is kept.
    """
    derived = (
        pl.when(pl.col("output_tokens") <= 1).then(pl.lit(0.0))
        .otherwise((pl.col("e2e_ms") - pl.col("ttft_ms")) / (pl.col("output_tokens").cast(pl.Float64) - 1))
    )
    usable = (pl.col("status") == "ok") & pl.col("e2e_ms").is_not_null() & pl.col("ttft_ms").is_not_null()
    return pl.when(pl.col("tpot_ms").is_null() & usable).then(derived).otherwise(pl.col("tpot_ms")).alias("tpot_ms")
