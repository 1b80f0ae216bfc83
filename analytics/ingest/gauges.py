"""DCGM exporter gauges in the OpenTelemetry exporter's gauge table as a source of gpu_metrics.

`add_source` DESCs the gauge table, refuses one it cannot read, and creates a materialized view
(analytics.store.otel_metrics: the pivot and why it is per insert block) that turns the DCGM
gauges inserted from now on into gpu_metrics rows, and through its rollup view into the GPU pages;
`backfill` pivots what was there before, in journaled batches (analytics.ingest.otel_backfill).

The fields and their ranges are the DCGM CSV reader's (analytics.ingest.dcgm.FIELDS), and so are
the blank sentinels (DCGM's "no data" values become NULL). Unlike the CSV reader, which refuses a
file with an out-of-range value, the view leaves such a value out (NULL): a view that raised would
fail the exporter's insert. Labels come from the data point's attributes (the Prometheus labels
DCGM exporter writes: Hostname, gpu, modelName; pod when it maps Kubernetes pods) and then its
resource attributes; `--attribute-map` overrides them. The deployment is the first present of
`deployment` attributes, else the Deployment a `pod` name belongs to, else the ServiceName.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from analytics.errors import InputError
from analytics.ingest import dcgm
from analytics.ingest import otel as ingest_otel
from analytics.ingest import otel_backfill as ingest_otel_backfill
from analytics.store import conventions
from analytics.store import otel as store_otel
from analytics.store import otel_metrics as store_otel_metrics
from analytics.store.client import Store

DEFAULT_TABLE = "otel_metrics_gauge"
DEFAULT_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "deployment": ("deployment", "k8s.deployment.name"),
    "pod": ("pod", "k8s.pod.name"),  # a Deployment's pod name: its deployment when none is named
    "node": ("Hostname", "host.name", "k8s.node.name"),
    "gpu": ("gpu",),
    "gpu_type": ("modelName",),
    "region": ("region", "cloud.region"),
}
# DCGM metric name -> (gpu_metrics column, low, high): the CSV reader's table (scales are all 1).
FIELDS = {name: (column, low, high) for name, (column, _scale, (low, high)) in dcgm.FIELDS.items()}
FB_PARTS = ("DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_RESERVED", "DCGM_FI_DEV_FB_TOTAL")
assert set(FB_PARTS) == set(dcgm.FB_PARTS)
BLANKS = (dcgm.DCGM_FP64_BLANK, dcgm.DCGM_INT32_BLANK, dcgm.DCGM_INT32_MAX)

_STRING = ("String", "LowCardinality(String)")
_MAP = ("Map(LowCardinality(String), String)", "Map(String, String)")
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "TimeUnix": ("DateTime64(",),
    "ServiceName": _STRING,
    "MetricName": _STRING,
    "Value": ("Float64",),
    "Attributes": _MAP,
    "ResourceAttributes": _MAP,
}


@dataclass(frozen=True)
class GaugeSource:
    """Which gauge table becomes gpu_metrics, and where the labels come from."""

    table: str = DEFAULT_TABLE
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_ATTRIBUTES))

    @property
    def view(self) -> str:
        """The materialized view feeding gpu_metrics from this table."""
        return f"gpu_metrics_from_{self.table.rpartition('.')[2]}_mv"


def source(table: str = DEFAULT_TABLE, attribute_map: Path | None = None) -> GaugeSource:
    """The gauge source from command-line values and an optional attribute-map file."""
    attributes = dict(DEFAULT_ATTRIBUTES)
    if attribute_map is not None:
        attributes.update(ingest_otel.read_attribute_map(attribute_map, DEFAULT_ATTRIBUTES))
    return GaugeSource(ingest_otel.check_table_name(table), attributes)


def check_columns(table: str, columns: Mapping[str, str], required: Mapping[str, tuple[str, ...]],
                  what: str) -> None:
    """Refuse an exporter table we cannot read (DESC TABLE: column name -> type), naming why."""
    for name, accepted in required.items():
        type_ = columns.get(name)
        if type_ is None:
            raise InputError(f"{table}: no column {name}; is this the OpenTelemetry exporter's {what} table?")
        if name.endswith("Attributes") and type_.startswith("JSON"):
            raise InputError(f"{table}.{name} is {type_} (the exporter's `json: true` mode); only Map attribute "
                             "columns are read so far: use the exporter's default Map schema")
        if not any(type_ == a or (a.endswith("(") and type_.startswith(a)) for a in accepted):
            raise InputError(f"{table}.{name} has type {type_}; expected {' or '.join(accepted)}")


def _select(src: GaugeSource, time_filter: str) -> tuple[str, dict]:
    return store_otel_metrics.gpu_select(src.table, src.attributes, FIELDS, FB_PARTS, BLANKS, dcgm._RATIO_TOLERANCE,
                        dcgm.UNKNOWN_REGION, store_otel_metrics.GPU_TIME_FILTERS[time_filter])


def _definition(src: GaugeSource) -> str:
    return json.dumps({"table": src.table, "kind": "otel-gpu-metrics",
                       "attributes": {k: list(v) for k, v in src.attributes.items()}}, sort_keys=True)


def add_source(store: Store, src: GaugeSource, now_ns: int) -> ingest_otel_backfill.Added:
    """Create the view pivoting `src`'s DCGM gauges into gpu_metrics, from `now_ns` on (idempotent)."""
    columns = store_otel.describe(store, src.table)
    if columns is None:
        raise InputError(f"--table {src.table}: no such table in {store.target} "
                         "(the exporter creates otel_metrics_gauge unless create_schema is false)")
    check_columns(src.table, columns, REQUIRED_COLUMNS, "gauge")
    select, params = _select(src, "view")
    return ingest_otel_backfill.add_view(store, src.view, src.table, _definition(src), now_ns,
                      lambda cutoff: store_otel_metrics.create_gpu_view(store, src.view, select, params, cutoff))


def backfill(store: Store, src: GaugeSource, batch_hours: int = ingest_otel_backfill.DEFAULT_BATCH_HOURS,
             progress: ingest_otel_backfill.Progress | None = None) -> ingest_otel_backfill.Backfilled:
    """Pivot the DCGM gauges from before the source's cut-off into gpu_metrics, batch by batch."""
    cutoff = ingest_otel_backfill.cutoff_of(store, src.view, src.table)
    select, params = _select(src, "batch")
    span = store_otel_metrics.gauge_range(store, src.table, [*FIELDS, *FB_PARTS], cutoff)
    return ingest_otel_backfill.backfill(store, src.view, cutoff, span, conventions.GPU_METRICS, tuple(conventions.GPU_COLUMNS),
                      lambda stage, lo, hi: store_otel_metrics.insert_gpu(store, stage, select, params, lo, hi),
                      batch_hours, progress, "GPU samples")
