"""The deployments table from a file: what each deployment runs on and what its GPUs cost.

Capacity (GPUs now = gpus_per_replica x replicas), GPU cost and MFU read the deployments table;
without DCGM telemetry a user says it with a CSV (a header row, then one row per deployment)
or a YAML file (a list of mappings, or a mapping whose ``deployments`` key holds that list):

- ``deployment``, ``gpu_type``, ``cost_per_gpu_hour`` (dollars per GPU-hour, >= 0): required;
- ``gpus`` (the deployment's GPUs in total), or ``gpus_per_replica`` and ``replicas``: whole
  numbers 1 .. 65535. ``gpus`` alone is stored as that many replicas of one GPU, so the capacity
  plan adds GPUs one at a time; given with the other two, it must equal their product;
- optional: ``model`` (default: the deployment's name), ``kind`` (chat, code, embedding,
  classic: the SLOs that select by kind), ``params_b`` (parameters in billions, > 0, for MFU),
  ``region``, ``owner``.

A CSV is recognised by its header (deployment, gpu_type and cost_per_gpu_hour, and no ts), a
YAML file by its name (.yaml, .yml). Every row is checked before anything is written; an error
names the file, the row (1-based data row, or list item) and the column. A file naming a
deployment twice is refused. Loaded rows get updated_at = the time of the load: the table keeps
the newest row per deployment (ReplacingMergeTree by updated_at), so loading a deployment again
replaces its row.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import yaml

from analytics.errors import InputError
from analytics.ingest import readers, rules
from analytics.store import conventions, journal
from analytics.store.client import Store

REQUIRED = ("deployment", "gpu_type", "cost_per_gpu_hour")
GPU_COUNTS = ("gpus", "gpus_per_replica", "replicas")
OPTIONAL = ("model", "kind", "params_b", "region", "owner")
COLUMNS = (*REQUIRED, *GPU_COUNTS, *OPTIONAL)
YAML_SUFFIXES = (".yaml", ".yml")
MAX_ROWS = 10_000  # deployments in one file: the table is read whole by every page
MAX_YAML_BYTES = 1 << 20  # 1 MiB: 10,000 deployments of ~100 bytes each
UINT16_MAX = 2**16 - 1  # gpus_per_replica and replicas are UInt16 columns
_TEXT = ("deployment", "model", "kind", "region", "gpu_type", "owner")


def is_deployments_file(path: Path) -> bool:
    """Whether a file holds deployments: a YAML name, or a CSV header with the required columns
    and no ``ts`` (a requests file needs one). An unreadable header says no: the requests reader
    then reports what is wrong with the file."""
    if path.suffix.lower() in YAML_SUFFIXES:
        return True
    try:
        if readers.sniff(path) not in ("text", "gzip"):
            return False
        names = {name.lower() for name in readers.csv_header(path)}
    except InputError:
        return False
    return set(REQUIRED) <= names and "ts" not in names


def _yaml_rows(path: Path) -> pl.DataFrame:
    """A YAML list of flat mappings as a frame of text columns (None for absent keys)."""
    readers.sniff(path)  # a regular file, readable
    if path.stat().st_size > MAX_YAML_BYTES:
        raise readers.fail(path, None, None, f"over {MAX_YAML_BYTES:,} bytes (the limit for a deployments file)")
    try:
        document = yaml.safe_load(path.read_bytes())
    except yaml.YAMLError as exc:
        raise readers.fail(path, None, None, f"not valid YAML ({str(exc).splitlines()[0]})") from None
    except RecursionError:
        raise readers.fail(path, None, None, "YAML nested too deeply") from None
    if isinstance(document, dict) and set(document) == {"deployments"}:
        document = document["deployments"]
    if not isinstance(document, list):
        raise readers.fail(path, None, None, "expected a list of deployments (or a mapping with a 'deployments' list)")
    rows = []
    for number, item in enumerate(document, start=1):
        if not isinstance(item, dict):
            raise readers.fail(path, number, None, "expected a mapping of column: value")
        for key, value in item.items():
            if not isinstance(key, str):
                raise readers.fail(path, number, str(key), "a column name must be text")
            if isinstance(value, dict | list | bool):
                raise readers.fail(path, number, key, f"{value!r:.40} is not a single value")
        rows.append({key: None if value is None else str(value) for key, value in item.items()})
    names = list(dict.fromkeys(key for row in rows for key in row))
    return pl.DataFrame([[row.get(name) for name in names] for row in rows],
                        schema=dict.fromkeys(names, pl.String), orient="row")


def _csv_rows(path: Path) -> pl.DataFrame:
    names, chunks = readers.csv_chunks(path, None, MAX_ROWS + 1)
    frames = [frame for _, frame in chunks]
    return pl.concat(frames) if frames else pl.DataFrame(schema=dict.fromkeys(names, pl.String))


def _raw_rows(path: Path) -> pl.DataFrame:
    """The file's rows as text columns named in lower case, checked for unknown and missing columns
    and the row limit."""
    frame = _yaml_rows(path) if path.suffix.lower() in YAML_SUFFIXES else _csv_rows(path)
    frame = frame.rename({name: name.strip().lower() for name in frame.columns})
    unknown = [name for name in frame.columns if name not in COLUMNS]
    if unknown:
        raise readers.fail(path, None, unknown[0], f"unknown column (known: {', '.join(COLUMNS)})")
    missing = [name for name in REQUIRED if name not in frame.columns]
    if missing:
        raise readers.fail(path, None, missing[0], f"missing column (required: {', '.join(REQUIRED)})")
    if "gpus" not in frame.columns and not {"gpus_per_replica", "replicas"} <= set(frame.columns):
        raise readers.fail(path, None, "gpus", "missing column: give gpus, or gpus_per_replica and replicas")
    if frame.height > MAX_ROWS:
        raise readers.fail(path, MAX_ROWS + 1, None, f"more than {MAX_ROWS:,} deployments (the limit for one file)")
    return frame.with_columns(pl.lit(None, pl.String).alias(name) for name in COLUMNS if name not in frame.columns)


def _whole(column: str) -> list[rules.Rule]:
    """A GPU or replica count: a whole number 1 .. UINT16_MAX."""
    return [rules.Rule(column, pl.col(column) < 1, lambda f, i: f"{f[column][i]} is below 1"),
            rules.Rule(column, pl.col(column) > UINT16_MAX,
                       lambda f, i: f"{f[column][i]} is above the largest count {UINT16_MAX:,}")]


def _empty(column: str) -> rules.Rule:
    return rules.Rule(column, pl.col(column).is_null() | (pl.col(column) == ""), lambda f, i: "empty")


def _rules() -> list[rules.Rule]:
    """Every rule, in the order an error is reported: each column's own rules, then across columns."""
    numbers = {"params_b": pl.Float64, "cost_per_gpu_hour": pl.Float64, **dict.fromkeys(GPU_COUNTS, pl.Int64)}
    what = {pl.Float64: "a number", pl.Int64: "a whole number"}
    found = [rules.unparsed(column, pl.String, what[dtype]) for column, dtype in numbers.items()]
    found += [_empty("deployment"), _empty("gpu_type"),
              rules.Rule("cost_per_gpu_hour", pl.col("cost_per_gpu_hour").is_null(), lambda f, i: "empty")]
    found += [rules.Rule(c, pl.col(c).str.len_bytes() > readers.MAX_TEXT_CELL_BYTES,
                         lambda f, i: f"a text value longer than {readers.MAX_TEXT_CELL_BYTES:,} bytes") for c in _TEXT]
    found += [rules.non_negative("cost_per_gpu_hour"), *rules.finite("cost_per_gpu_hour", "price"),
              rules.Rule("params_b", pl.col("params_b") <= 0, lambda f, i: f"{f['params_b'][i]}: parameters must be > 0"),
              *rules.finite("params_b", "number of parameters")]
    for column in GPU_COUNTS:
        found += _whole(column)
    given_pair = pl.col("gpus_per_replica").is_not_null() & pl.col("replicas").is_not_null()
    found += [
        rules.Rule("replicas", pl.col("gpus_per_replica").is_not_null() & pl.col("replicas").is_null(),
                   lambda f, i: "empty: gpus_per_replica needs replicas"),
        rules.Rule("gpus_per_replica", pl.col("replicas").is_not_null() & pl.col("gpus_per_replica").is_null(),
                   lambda f, i: "empty: replicas needs gpus_per_replica"),
        rules.Rule("gpus", pl.col("gpus").is_null() & ~given_pair,
                   lambda f, i: "empty: give gpus, or gpus_per_replica and replicas"),
        rules.Rule("gpus", given_pair & (pl.col("gpus") != pl.col("gpus_per_replica") * pl.col("replicas")),
                   lambda f, i: f"{f['gpus'][i]} is not gpus_per_replica x replicas "
                                f"({f['gpus_per_replica'][i]} x {f['replicas'][i]})"),
        rules.Rule("deployment", ~pl.col("deployment").is_first_distinct(),
                   lambda f, i: f"{f['deployment'][i]!r} appears earlier in the file"),
    ]
    return found


def read(path: Path, updated_at: datetime) -> pl.DataFrame:
    """The file's deployments as rows of the deployments table, stamped `updated_at`; InputError
    (file, row, column) at the first row breaking a rule, before anything is returned."""
    raw = _raw_rows(path).select(pl.col(COLUMNS).name.prefix(rules.RAW))
    work = raw.with_columns(
        *(pl.col(rules.RAW + c).str.strip_chars().alias(c) for c in _TEXT),
        *(rules.parsed(c, pl.String, pl.Int64).alias(c) for c in GPU_COUNTS),
        *(rules.parsed(c, pl.String, pl.Float64).alias(c) for c in ("params_b", "cost_per_gpu_hour")),
    )
    rules.enforce(path, 0, work, _rules())
    given_pair = pl.col("gpus_per_replica").is_not_null() & pl.col("replicas").is_not_null()
    return work.select(
        "deployment",
        pl.coalesce(pl.col("model").replace("", None), "deployment").alias("model"),
        pl.col("kind").fill_null(""),
        pl.col("params_b").cast(pl.Float32),
        pl.col("region").fill_null(""),
        "gpu_type",
        pl.when(given_pair).then("gpus_per_replica").otherwise(1).cast(pl.UInt16).alias("gpus_per_replica"),
        pl.when(given_pair).then("replicas").otherwise("gpus").cast(pl.UInt16).alias("replicas"),
        "cost_per_gpu_hour",
        pl.col("owner").fill_null(""),
        pl.lit(updated_at.astimezone(UTC)).cast(rules.TIME).alias("updated_at"),
    )


def chunks(path: Path) -> Iterator[pl.DataFrame]:
    """The file as one validated frame (files.Source.chunks), stamped with the time it is read."""
    yield read(path, datetime.now(UTC))


def replace(store: Store, frames: list[pl.DataFrame], name: str) -> int:
    """Write validated deployments frames (a later frame wins for a deployment named twice) and
    return the rows written.

    One INSERT of at most a few thousand rows is one block, which ClickHouse commits whole: a
    kill leaves the table with all of the rows or none. Rows replace rather than add, so writing
    the same file again after a kill elsewhere in a load gives the same table.
    """
    frame = pl.concat(frames).unique(subset="deployment", keep="last", maintain_order=True)
    if frame.height:
        journal.insert_chunk(store, conventions.DEPLOYMENTS, frame, name)
    return frame.height
