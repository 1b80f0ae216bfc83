"""SQL of the weekly review: breakdowns of an incident window by the rollup keys, the values of
model_version and gpu_type per deployment and slot, and GPUs reporting per deployment and hour.

All of them read the rollups (requests_5m, gpu_metrics_1h), never raw rows; user values are bound
parameters.
"""

from __future__ import annotations

import functools
from datetime import datetime

import polars as pl

from analytics.store import conventions
from analytics.store.client import Store
from analytics.store.conventions import hist_column
from analytics.store.indicators import indicator
from analytics.store.schema import HIST_MERGE
from analytics.times import as_utc

BREAKDOWN_KEYS = ("deployment", "region", "gpu_type", "model_version")
CHANGE_KEYS = ("model_version", "gpu_type")  # rollup keys whose changes are deploy markers

_WINDOW = """
    r.slot >= {start:DateTime64(0, 'UTC')} AND r.slot < {end:DateTime64(0, 'UTC')}
    AND (empty({deployments:Array(String)}) OR has({deployments:Array(String)}, r.deployment))
    AND (empty({regions:Array(String)}) OR has({regions:Array(String)}, r.region))"""


@functools.cache
def breakdown_sql(fields: tuple[str, ...]) -> str:
    """Counts by status and merged histograms of ``fields`` per combination of BREAKDOWN_KEYS."""
    unknown = set(fields) - set(conventions.LATENCY_FIELDS)
    if unknown:
        raise ValueError(f"unknown latency fields {sorted(unknown)}")
    statuses = "".join(f", sum(r.{s}) AS {s}" for s in conventions.STATUSES)
    hists = "".join(f",\n    {HIST_MERGE}(r.{hist_column(f)}) AS {hist_column(f)}" for f in fields)
    keys = ", ".join(f"r.{k} AS {k}" for k in BREAKDOWN_KEYS)
    return f"""
SELECT {keys}, sum(r.requests) AS requests{statuses}{hists}
FROM {conventions.REQUESTS_5M} AS r
WHERE {_WINDOW}
GROUP BY {", ".join(BREAKDOWN_KEYS)}
ORDER BY {", ".join(BREAKDOWN_KEYS)}
"""


# Only deployments served by more than one value of a key in the window can show a change of it
# (analytics.review.changes): the others, most of the slots, are not sent (at 100M, a month of the
# busiest deployments: 0.08-0.14 s instead of 0.25-0.32 s, and 8k rows instead of 67k to examine).
VALUES_SQL = f"""
SELECT r.deployment AS deployment, r.slot AS slot, {", ".join(f"r.{k} AS {k}" for k in CHANGE_KEYS)},
    sum(r.requests) AS requests
FROM {conventions.REQUESTS_5M} AS r
WHERE {_WINDOW} AND r.deployment IN (
    SELECT r.deployment FROM {conventions.REQUESTS_5M} AS r WHERE {_WINDOW}
    GROUP BY r.deployment HAVING {" OR ".join(f"uniqExact(r.{k}) > 1" for k in CHANGE_KEYS)})
GROUP BY deployment, slot, {", ".join(CHANGE_KEYS)}
ORDER BY deployment, slot
"""

GPUS_SQL = f"""
SELECT g.deployment AS deployment, g.hour AS hour, uniqExact(g.node, g.gpu) AS gpus
FROM {conventions.GPU_1H} AS g
WHERE g.hour >= {{start:DateTime64(0, 'UTC')}} AND g.hour < {{end:DateTime64(0, 'UTC')}}
    AND (empty({{deployments:Array(String)}}) OR has({{deployments:Array(String)}}, g.deployment))
GROUP BY deployment, hour
ORDER BY deployment, hour
"""


def _params(start: datetime, end: datetime, deployments=(), regions=()) -> dict:
    return {"start": start, "end": end, "deployments": list(deployments), "regions": list(regions)}


def breakdown(store: Store, start: datetime, end: datetime, deployments=(), regions=(),
              fields: tuple[str, ...] = ()) -> pl.DataFrame:
    """Per (deployment, region, gpu_type, model_version) in [start, end): requests, a count per
    status and the merged histograms of ``fields`` (empty filters mean all)."""
    fields = tuple(f for f in conventions.LATENCY_FIELDS if f in fields)
    return store.query(breakdown_sql(fields), _params(start, end, deployments, regions))


def values_by_slot(store: Store, start: datetime, end: datetime, deployments=()) -> pl.DataFrame:
    """Per (deployment, slot, model_version, gpu_type) in [start, end): requests (what served
    each deployment in each 5-minute slot), of the deployments served by more than one model
    version or GPU type in [start, end)."""
    return as_utc(store.query(VALUES_SQL, _params(start, end, deployments)), "slot")


def gpus_by_hour(store: Store, start: datetime, end: datetime, deployments=()) -> pl.DataFrame:
    """Per (deployment, hour) in [start, end): distinct (node, gpu) pairs reporting DCGM samples."""
    return as_utc(store.query(GPUS_SQL, _params(start, end, deployments)), "hour")


# Input-token bands (powers of 4 from 256 tokens): prompt length drives prefill time, so a
# regression confined to long prompts shows as one band.
INPUT_BANDS = (256, 1024, 4096, 16384)
_BAND = "multiIf(" + ", ".join(
    f"r.input_tokens < {hi}, '{lo}-{hi - 1}'" for lo, hi in zip((0, *INPUT_BANDS), INPUT_BANDS, strict=False)
) + f", '{INPUT_BANDS[-1]}+')"
@functools.cache
def raw_breakdown_sql(kind: str, field: str | None = None) -> str:
    """Good and bad requests per (deployment/replica, input-token band) under an SLI kind
    (valid and good events: analytics.store.indicators)."""
    sli = indicator(kind, field)
    good, valid = sli.good_sql("r."), sli.valid_sql("r.")
    return f"""
SELECT concat(r.deployment, '/', r.replica) AS replica, {_BAND} AS input_band,
    toFloat64(sumIf(r.weight, {good})) AS good,
    toFloat64(sumIf(r.weight, ({valid}) AND NOT ({good}))) AS bad
FROM {conventions.REQUESTS} AS r
WHERE r.ts >= {{start:DateTime64(3, 'UTC')}} AND r.ts < {{end:DateTime64(3, 'UTC')}}
    AND has({{deployments:Array(String)}}, r.deployment)
    AND (empty({{regions:Array(String)}}) OR has({{regions:Array(String)}}, r.region))
GROUP BY replica, input_band
ORDER BY replica, input_band
"""


def raw_breakdown(store: Store, start: datetime, end: datetime, deployments, regions, kind: str,
                  field: str | None = None, threshold_ms: float | None = None, ttft_ms: float | None = None,
                  tpot_ms: float | None = None) -> pl.DataFrame:
    """Per (deployment/replica, input-token band) in [start, end): good and bad requests under an SLI,
    exact at any threshold. Replica and prompt length are not rollup keys, so this groups the raw
    requests of the scope and window in ClickHouse (empty where raw rows have expired)."""
    params = _params(start, end, deployments, regions)
    params |= {k: v for k, v in (("threshold_ms", threshold_ms), ("ttft_ms", ttft_ms), ("tpot_ms", tpot_ms))
               if v is not None}
    return store.query(raw_breakdown_sql(kind, field), params)


# Reviewers' notes on incidents (table created with the schema, analytics.store.schema): the only
# table the UI writes besides ingestion. Append-only; the latest note per incident wins on read
# (argMax over written_at), so a note is never lost to a background merge and the history stays.
INSERT_NOTE_SQL = f"""
INSERT INTO {conventions.REVIEW_NOTES} (incident_key, note, owner, written_at)
VALUES ({{key:String}}, {{note:String}}, {{owner:String}}, {{written_at:DateTime64(3, 'UTC')}})
"""
NOTES_SQL = f"""
SELECT n.incident_key AS incident_key, argMax(n.note, n.written_at) AS note,
    argMax(n.owner, n.written_at) AS owner, max(n.written_at) AS written_at, count() AS notes
FROM {conventions.REVIEW_NOTES} AS n
WHERE has({{keys:Array(String)}}, n.incident_key)
   OR has({{slos:Array(String)}}, splitByChar('@', n.incident_key)[1])
GROUP BY n.incident_key
ORDER BY incident_key
"""


def write_note(store: Store, key: str, note: str, owner: str, written_at: datetime) -> None:
    """Append a note and owner for an incident key (bound parameters)."""
    store.command(INSERT_NOTE_SQL, {"key": key, "note": note, "owner": owner, "written_at": written_at})


def read_notes(store: Store, keys, slos=()) -> pl.DataFrame:
    """The latest note, owner and time per incident key among ``keys``, or of an incident led by one
    of ``slos`` (a key is 'lead-slo@start'), and how many were written."""
    return as_utc(store.query(NOTES_SQL, {"keys": list(keys), "slos": list(slos)}), "written_at")
