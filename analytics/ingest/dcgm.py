"""Parse DCGM-exporter-style CSV telemetry into the gpu_metrics layout (analytics.store.conventions.GPU_COLUMNS).

The file has a header row. Columns are matched case-insensitively:
- ``timestamp`` (or ``ts``/``time``): ISO 8601 (a naive time is taken as UTC) or Unix epoch
  seconds (values above 1e11 are taken as milliseconds);
- ``Hostname`` (or ``node``), ``gpu`` (index 0-255), ``modelName`` (or ``gpu_type``);
- optional ``deployment`` and ``region`` labels (the ``deployment`` argument overrides the column);
- DCGM field columns named by their DCGM field names (see ``FIELDS``); unknown columns such as
  ``UUID``, ``pod`` or ``DCGM_FI_DRIVER_VERSION`` are ignored.

DCGM blank sentinels and empty cells become NULL; nothing else is guessed. Any invalid value
raises InputError naming the file, the 1-based data row and the column, and nothing is returned.
"""

from __future__ import annotations

import csv
import math
import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from analytics.errors import InputError
from analytics.store import conventions as N

# DCGM blank values (DCGM dcgm_structs.h, "DCGM_BLANK_VALUES"): DCGM_INT32_BLANK = 0x7ffffff0,
# DCGM_INT64_BLANK = 0x7ffffffffffffff0 and DCGM_FP64_BLANK = 2**47; a value is blank when it is
# >= its type's base (DCGM_*_IS_BLANK), the values above the base encoding NOT_FOUND,
# NOT_SUPPORTED, NOT_PERMISSIONED. DCGM_STR_BLANK is "<<<NULL>>>".
DCGM_INT32_BLANK = 0x7FFFFFF0
DCGM_INT32_MAX = 0x7FFFFFFF
DCGM_INT64_BLANK = 0x7FFFFFFFFFFFFFF0
DCGM_FP64_BLANK = float(2**47)
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
_INTEGER = re.compile(r"^[+]?\d+$")
_EPOCH_MS_ABOVE = 1e11  # 1e11 s is the year 5138: larger epochs are milliseconds


def parse_dcgm_csv(
    path: str | Path, deployment: str | None = None, *, region: str | None = None
) -> pl.DataFrame:
    """Read a DCGM-exporter-style CSV into a frame with exactly the gpu_metrics columns."""
    path = Path(path)
    header, rows = _read_rows(path)
    columns = _match_columns(path, header)
    if not rows:
        raise InputError(f"{path}: no data rows")
    if deployment is None and "deployment" not in columns:
        raise InputError(f"{path}: no 'deployment' column; name the deployment with --deployment")
    by_name = {name: [row[i] for row in rows] for name, i in columns.items()}
    out: dict[str, pl.Series] = {"ts": _parse_ts(path, header[columns["ts"]], by_name["ts"])}
    out["node"] = _labels(path, header[columns["node"]], by_name["node"])
    out["gpu"] = _parse_gpu(path, header[columns["gpu"]], by_name["gpu"])
    out["gpu_type"] = _labels(path, header[columns["gpu_type"]], by_name["gpu_type"])
    if deployment is not None:
        out["deployment"] = pl.Series([deployment] * len(rows), dtype=pl.String)
    else:
        out["deployment"] = _labels(path, header[columns["deployment"]], by_name["deployment"])
    if region is not None or "region" not in columns:
        out["region"] = pl.Series([region or UNKNOWN_REGION] * len(rows), dtype=pl.String)
    else:
        out["region"] = _labels(path, header[columns["region"]], by_name["region"])
    values = {
        field: _parse_values(path, header[columns[field]], by_name[field])
        for field in (*FIELDS, *FB_PARTS)
        if field in columns
    }
    for field, (column, scale, (low, high)) in FIELDS.items():
        if field in values:
            out[column] = _checked(path, header[columns[field]], values[field] * scale, low, high)
    total = _fb_total(path, values)
    if total is not None:
        out["fb_total_mib"] = total
    frame = pl.DataFrame(out)
    return frame.select(
        [
            (pl.col(name) if name in out else pl.lit(None)).cast(_dtype(name)).alias(name)
            for name in N.GPU_COLUMNS
        ]
    )


def _dtype(column: str) -> pl.DataType:
    if column == "ts":
        return pl.Datetime("ms", "UTC")
    if column == "gpu":
        return pl.UInt8()
    if column in N.GPU_VALUE_COLUMNS:
        return pl.Float32()
    return pl.String()


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                raise InputError(f"{path}: empty file (expected a header row with DCGM field names)")
            rows = []
            for number, row in enumerate(reader, start=1):
                if not row:
                    continue  # blank line
                if len(row) != len(header):
                    raise InputError(
                        f"{path}: row {number}: {len(row)} fields where the header has {len(header)}"
                    )
                rows.append(row)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except csv.Error as exc:
        raise InputError(f"{path}: malformed CSV ({exc})") from exc
    return [h.strip() for h in header], rows


def _match_columns(path: Path, header: list[str]) -> dict[str, int]:
    """Map our label names and DCGM field names to header positions (case-insensitive)."""
    lowered: dict[str, int] = {}
    for i, name in enumerate(header):
        key = name.lower()
        if key in lowered:
            raise InputError(f"{path}: column {name!r} appears twice in the header")
        lowered[key] = i
    columns: dict[str, int] = {}
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


def _fail(path: Path, row_index: int, column: str, problem: str, value) -> InputError:
    return InputError(f"{path}: row {row_index + 1}, column {column!r}: {problem}: {value!r}")


def _labels(path: Path, column: str, raw: list[str]) -> pl.Series:
    values = [v.strip() for v in raw]
    for i, value in enumerate(values):
        if value in NULL_TOKENS:
            raise _fail(path, i, column, "empty label", raw[i])
    return pl.Series(values, dtype=pl.String)


def _parse_gpu(path: Path, column: str, raw: list[str]) -> pl.Series:
    out = []
    for i, value in enumerate(raw):
        text = value.strip()
        if not _INTEGER.match(text) or int(text) > 255:
            raise _fail(path, i, column, "GPU index must be an integer 0-255", value)
        out.append(int(text))
    return pl.Series(out, dtype=pl.UInt8)


def _parse_ts(path: Path, column: str, raw: list[str]) -> pl.Series:
    cache: dict[str, datetime] = {}
    out = []
    for i, value in enumerate(raw):
        text = value.strip()
        if text not in cache:
            parsed = _timestamp(text)
            if parsed is None:
                raise _fail(path, i, column, "not an ISO 8601 time or Unix epoch", value)
            cache[text] = parsed
        out.append(cache[text])
    return pl.Series(out, dtype=pl.Datetime("ms", "UTC"))


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


def _parse_values(path: Path, column: str, raw: list[str]) -> pl.Series:
    """Numbers as float64; empty cells and DCGM blank sentinels become NULL."""
    out: list[float | None] = []
    for i, value in enumerate(raw):
        text = value.strip()
        if text.upper() in NULL_TOKENS or text in NULL_TOKENS:
            out.append(None)
            continue
        if _INTEGER.match(text):
            number = int(text)
            # Integer blanks: INT64 (>= DCGM_INT64_BLANK) and INT32 (DCGM_INT32_BLANK..INT32_MAX).
            if number >= DCGM_INT64_BLANK or DCGM_INT32_BLANK <= number <= DCGM_INT32_MAX:
                out.append(None)
                continue
            out.append(float(number))
            continue
        try:
            number = float(text)
        except ValueError:
            raise _fail(path, i, column, "not a number", value) from None
        if math.isnan(number):
            raise _fail(path, i, column, "not a number", value)
        out.append(None if number >= DCGM_FP64_BLANK else number)
    return pl.Series(out, dtype=pl.Float64)


def _checked(path: Path, column: str, values: pl.Series, low: float, high: float) -> pl.Series:
    """Reject values outside the field's physical range; ratios may exceed 1 by float round-off."""
    tolerance = _RATIO_TOLERANCE if high == 1.0 else 0.0
    bad = ((values < low) | (values > high + tolerance)).fill_null(False)
    if bad.any():
        i = int(bad.arg_max())
        raise _fail(path, i, column, f"outside the valid range [{low:g}, {high:g}]", values[i])
    return values.clip(low, high) if tolerance else values


def _fb_total(path: Path, values: dict[str, pl.Series]) -> pl.Series | None:
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
            _checked(path, part, values[part], 0.0, math.inf)
    return total
