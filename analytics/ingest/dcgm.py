"""Parse DCGM-exporter-style CSV telemetry into the gpu_metrics layout (analytics.store.conventions.GPU_COLUMNS).

The file has a header row. Columns are matched case-insensitively:
- ``timestamp`` (or ``ts``/``time``): ISO 8601 (a naive time is taken as UTC) or Unix epoch
  seconds (values above 1e11 are taken as milliseconds);
- ``Hostname`` (or ``node``), ``gpu`` (index 0-255), ``modelName`` (or ``gpu_type``);
- optional ``deployment`` and ``region`` labels (the ``deployment`` argument overrides the column);
- DCGM field columns named by their DCGM field names (see ``FIELDS``); unknown columns such as
  ``UUID``, ``pod`` or ``DCGM_FI_DRIVER_VERSION`` are ignored.

DCGM blank sentinels and empty cells become NULL, by value however the exporter wrote them
(140737488355328 and 140737488355328.0 alike); nothing else is guessed. Times must fall in the
plausible range of analytics.ingest.rules.implausible_time. The file is read in chunks within the
limits of analytics.ingest.readers; any invalid value raises InputError naming the file, the
1-based data row (over the whole file) and the column.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from analytics.errors import InputError
from analytics.ingest import readers
from analytics.store import conventions
from analytics.store.schema import DCGM_FLOAT_BLANK

# DCGM blank values (DCGM dcgm_structs.h, "DCGM_BLANK_VALUES"): DCGM_INT32_BLANK = 0x7ffffff0,
# DCGM_INT64_BLANK = 0x7ffffffffffffff0 and DCGM_FP64_BLANK = 2**47; a value is blank when it is
# >= its type's base (DCGM_*_IS_BLANK), the values above the base encoding NOT_FOUND,
# NOT_SUPPORTED, NOT_PERMISSIONED. DCGM_STR_BLANK is "<<<NULL>>>". Every int64 blank is also
# >= 2**47, so the rule is by value: >= DCGM_FP64_BLANK, or within the int32 blank range.
DCGM_INT32_BLANK = 0x7FFFFFF0
DCGM_INT32_MAX = 0x7FFFFFFF
DCGM_INT64_BLANK = 0x7FFFFFFFFFFFFFF0
DCGM_FP64_BLANK = DCGM_FLOAT_BLANK  # 2**47, one constant with the store's rollup filter
NULL_TOKENS = frozenset(
    {"", "N/A", "NA", "<<<NULL>>>", "<<<NOT_FOUND>>>", "<<<NOT_SUPPORTED>>>", "<<<NOT_PERM>>>"}
)

# DCGM field name -> (gpu_metrics column, scale to the table's units, valid range after scaling).
# Units from the DCGM field reference (dcgm_fields.h): GPU_UTIL is a percent (the gpu_metrics
# table keeps DCGM's percent; analytics.gpu turns it into a ratio when reading), the PROF_*
# fields are ratios in [0, 1], FB_* are MiB, POWER_USAGE is W, GPU_TEMP is degrees C.
FIELDS: dict[str, tuple[str, float, tuple[float, float]]] = {
    "DCGM_FI_DEV_GPU_UTIL": ("gpu_util", 1.0, (0.0, 100.0)),
    "DCGM_FI_PROF_SM_ACTIVE": ("sm_active", 1.0, (0.0, 1.0)),
    "DCGM_FI_PROF_SM_OCCUPANCY": ("sm_occupancy", 1.0, (0.0, 1.0)),
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": ("tensor_active", 1.0, (0.0, 1.0)),
    "DCGM_FI_PROF_DRAM_ACTIVE": ("dram_active", 1.0, (0.0, 1.0)),
    "DCGM_FI_DEV_FB_USED": ("fb_used_mib", 1.0, (0.0, math.inf)),
    "DCGM_FI_DEV_POWER_USAGE": ("power_w", 1.0, (0.0, math.inf)),
    "DCGM_FI_DEV_GPU_TEMP": ("temp_c", 1.0, (-50.0, 200.0)),
}
# Framebuffer total: DCGM_FI_DEV_FB_TOTAL when present, else used + free (+ reserved if present).
FB_PARTS = ("DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_RESERVED", "DCGM_FI_DEV_FB_TOTAL")
_RATIO_TOLERANCE = 1e-6  # float32 round-off in exporters

LABELS = {
    "ts": ("timestamp", "ts", "time"),
    "node": ("hostname", "node"),
    "gpu": ("gpu",),
    "gpu_type": ("modelname", "gpu_type"),
    "deployment": ("deployment",),
    "region": ("region",),
}
REQUIRED_LABELS = ("ts", "node", "gpu", "gpu_type")
UNKNOWN_REGION = "unknown"
_INTEGER = r"^[+]?\d+$"
_NULL_UPPER = sorted({t.upper() for t in NULL_TOKENS})
_EPOCH_MS_ABOVE = 1e11  # 1e11 s is the year 5138: larger epochs are milliseconds


def parse_dcgm_csv(
    path: str | Path, deployment: str | None = None, *, region: str | None = None
) -> pl.DataFrame:
    """Read a whole DCGM-exporter-style CSV into one frame with exactly the gpu_metrics columns."""
    return pl.concat(list(dcgm_chunks(path, deployment, region=region)))


def dcgm_chunks(
    path: str | Path, deployment: str | None = None, *, region: str | None = None
) -> Iterator[pl.DataFrame]:
    """The file's rows as validated gpu_metrics frames, chunk by chunk (see the module docstring)."""
    path = Path(path)
    header, chunks = readers.csv_chunks(path, None, readers.CHUNK_ROWS)
    columns = _match_columns(path, header)
    if deployment is None and "deployment" not in columns:
        raise InputError(f"{path}: no 'deployment' column; name the deployment with --deployment")
    rows = 0
    for at, frame in chunks:
        yield _chunk(path, at, frame, columns, deployment, region)
        rows += frame.height
    if not rows:
        raise InputError(f"{path}: no data rows")


def _chunk(path: Path, at: int, frame: pl.DataFrame, columns: dict[str, str], deployment: str | None,
           region: str | None) -> pl.DataFrame:
    """One chunk of text rows as gpu_metrics columns; `at` rows of the file precede it."""
    raw = {name: frame[header] for name, header in columns.items()}
    out: dict[str, pl.Series] = {"ts": _parse_ts(path, at, columns["ts"], raw["ts"])}
    out["node"] = _labels(path, at, columns["node"], raw["node"])
    out["gpu"] = _parse_gpu(path, at, columns["gpu"], raw["gpu"])
    out["gpu_type"] = _labels(path, at, columns["gpu_type"], raw["gpu_type"])
    if deployment is not None:
        out["deployment"] = pl.repeat(deployment, frame.height, dtype=pl.String, eager=True)
    else:
        out["deployment"] = _labels(path, at, columns["deployment"], raw["deployment"])
    if region is not None or "region" not in columns:
        out["region"] = pl.repeat(region or UNKNOWN_REGION, frame.height, dtype=pl.String, eager=True)
    else:
        out["region"] = _labels(path, at, columns["region"], raw["region"])
    values = {field: _parse_values(path, at, columns[field], raw[field]) for field in (*FIELDS, *FB_PARTS)
              if field in columns}
    for field, (column, scale, (low, high)) in FIELDS.items():
        if field in values:
            out[column] = _checked(path, at, columns[field], values[field] * scale, low, high)
    total = _fb_total(path, at, columns, values)
    if total is not None:
        out["fb_total_mib"] = total
    return pl.DataFrame(out).select(
        [
            (pl.col(name) if name in out else pl.lit(None)).cast(_dtype(name)).alias(name)
            for name in conventions.GPU_COLUMNS
        ]
    )


def _dtype(column: str) -> pl.DataType:
    if column == "ts":
        return pl.Datetime("ms", "UTC")
    if column == "gpu":
        return pl.UInt8()
    if column in conventions.GPU_VALUE_COLUMNS:
        return pl.Float32()
    return pl.String()


def _match_columns(path: Path, header: list[str]) -> dict[str, str]:
    """Map our label names and DCGM field names to header names (case-insensitive; the reader
    has refused names that repeat in any case)."""
    lowered = {name.lower(): name for name in header}
    columns: dict[str, str] = {}
    for label, accepted in LABELS.items():
        found = [lowered[a] for a in accepted if a in lowered]
        if found:
            columns[label] = found[0]
        elif label in REQUIRED_LABELS:
            raise InputError(
                f"{path}: missing column {accepted[0]!r} (accepted names: {', '.join(accepted)})"
            )
    for field in (*FIELDS, *FB_PARTS):
        if field.lower() in lowered:
            columns[field] = lowered[field.lower()]
    if not any(field in columns for field in FIELDS):
        raise InputError(f"{path}: no DCGM field columns (expected some of {', '.join(FIELDS)})")
    return columns


def _fail(path: Path, row: int, column: str, problem: str, value) -> InputError:
    return InputError(f"{path}: row {row}, column {column!r}: {problem}: {value!r}")


def _check(path: Path, at: int, column: str, bad: pl.Series, raw: pl.Series, problem: str) -> None:
    """Fail at the first row where bad holds, quoting the raw value."""
    bad = bad.fill_null(False)
    if bad.any():
        i = int(bad.arg_max())
        raise _fail(path, at + i + 1, column, problem, raw[i])


def _labels(path: Path, at: int, column: str, raw: pl.Series) -> pl.Series:
    values = raw.str.strip_chars()
    _check(path, at, column, values.is_null() | values.is_in(list(NULL_TOKENS)), raw, "empty label")
    _check(path, at, column, values.str.len_bytes() > readers.MAX_TEXT_CELL_BYTES, raw.str.slice(0, 40),
           f"a label longer than {readers.MAX_TEXT_CELL_BYTES:,} bytes")
    return values


def _parse_gpu(path: Path, at: int, column: str, raw: pl.Series) -> pl.Series:
    text = raw.str.strip_chars()
    index = text.cast(pl.Int64, strict=False)
    bad = ~text.str.contains(_INTEGER).fill_null(False) | index.is_null() | (index > 255)
    _check(path, at, column, bad, raw, "GPU index must be an integer 0-255")
    return index.cast(pl.UInt8)


def _parse_ts(path: Path, at: int, column: str, raw: pl.Series) -> pl.Series:
    """Each distinct text parsed once (a scrape's rows share their time), then range-checked."""
    text = raw.str.strip_chars().fill_null("")
    distinct = text.unique().to_list()
    parsed = {value: _timestamp(value) for value in distinct}
    ts = text.replace_strict(parsed, return_dtype=pl.Datetime("ms", "UTC"))
    _check(path, at, column, ts.is_null(), raw, "not an ISO 8601 time or Unix epoch")
    latest = datetime.now(UTC) + readers.TS_AHEAD
    _check(path, at, column, (ts < readers.TS_EARLIEST) | (ts > latest), raw,
           f"outside the plausible range {readers.TS_EARLIEST:%Y-%m-%d} .. now + {readers.TS_AHEAD.days} day")
    return ts


def _timestamp(text: str) -> datetime | None:
    try:
        epoch = float(text)
    except ValueError:
        epoch = None
    if epoch is not None:
        if not math.isfinite(epoch) or epoch < 0:
            return None
        seconds = epoch / 1000 if epoch > _EPOCH_MS_ABOVE else epoch
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)  # naive times are UTC (module docstring)
    return parsed.astimezone(UTC)


def _parse_values(path: Path, at: int, column: str, raw: pl.Series) -> pl.Series:
    """Numbers as float64; empty cells and DCGM blank sentinels (by value) become NULL."""
    text = raw.str.strip_chars()
    empty = text.is_null() | text.str.to_uppercase().is_in(_NULL_UPPER)
    number = text.cast(pl.Float64, strict=False)
    _check(path, at, column, (number.is_null() & ~empty) | number.is_nan(), raw, "not a number")
    _check(path, at, column, number.is_infinite(), raw, "not a finite number")
    blank = (number >= DCGM_FP64_BLANK) | ((number >= DCGM_INT32_BLANK) & (number <= DCGM_INT32_MAX))
    return pl.select(pl.when(empty | blank.fill_null(False)).then(None).otherwise(number).alias(column)).to_series()


def _checked(path: Path, at: int, column: str, values: pl.Series, low: float, high: float) -> pl.Series:
    """Reject values outside the field's physical range; ratios may exceed 1 by float round-off."""
    tolerance = _RATIO_TOLERANCE if high == 1.0 else 0.0
    _check(path, at, column, (values < low) | (values > high + tolerance), values,
           f"outside the valid range [{low:g}, {high:g}]")
    return values.clip(low, high) if tolerance else values


def _fb_total(path: Path, at: int, columns: dict[str, str], values: dict[str, pl.Series]) -> pl.Series | None:
    if "DCGM_FI_DEV_FB_TOTAL" in values:
        total = values["DCGM_FI_DEV_FB_TOTAL"]
    elif "DCGM_FI_DEV_FB_USED" in values and "DCGM_FI_DEV_FB_FREE" in values:
        total = values["DCGM_FI_DEV_FB_USED"] + values["DCGM_FI_DEV_FB_FREE"]
        if "DCGM_FI_DEV_FB_RESERVED" in values:
            total = total + values["DCGM_FI_DEV_FB_RESERVED"].fill_null(0.0)
    else:
        return None
    for part in ("DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_RESERVED", "DCGM_FI_DEV_FB_TOTAL"):
        if part in values:
            _checked(path, at, columns[part], values[part], 0.0, math.inf)
    return total
