"""SQL of the SLO engine: the scope catalog, per-slot counts and histograms of a scope, and the
goodput counts (joint histogram, exact counts at a threshold pair).

Goodput reads the joint (ttft bucket, tpot bucket) rollup (requests_goodput_5m), which counts the
same valid events as the raw requests (analytics.store.indicators.GOODPUT) bucketed like the
latency histograms: the joint histogram is the same cells as a raw GROUP BY, and exact counts at
a threshold pair of bucket edges are the same numbers. Only a pair with a threshold between edges
is counted from the raw requests (TARGETED_SQL).

Per-slot sums over a scope are done by ClickHouse, and only the histogram fields the SLIs read
are merged, as UInt32 (see analytics.slo.sli for the measured costs).
"""

from __future__ import annotations

import functools
from datetime import datetime

import polars as pl

from analytics import histogram
from analytics.store import conventions
from analytics.store.client import Store
from analytics.store.conventions import hist_column
from analytics.store.indicators import GOODPUT, bucket_column
from analytics.store.schema import HIST_MERGE

_RANGE = """slot >= {start:DateTime('UTC')} AND slot < {end:DateTime('UTC')}"""
_SCOPE = """
    AND has({deployments:Array(String)}, deployment)
    AND (empty({regions:Array(String)}) OR has({regions:Array(String)}, region))"""

# kind comes from the deployments table ('' where it has no row), for SLOs that select by kind.
CATALOG_SQL = f"""
SELECT r.deployment AS deployment, r.model AS model, r.region AS region,
    ifNull(d.kind, '') AS kind, r.requests AS requests
FROM (
    SELECT deployment, model, region, sum(requests) AS requests
    FROM {conventions.REQUESTS_5M}
    WHERE {_RANGE}
    GROUP BY deployment, model, region
) AS r
LEFT JOIN (SELECT deployment, toNullable(toString(kind)) AS kind FROM {conventions.DEPLOYMENTS} FINAL) AS d
    ON d.deployment = r.deployment
ORDER BY deployment, model, region
"""

@functools.cache
def scope_sql(fields: tuple[str, ...]) -> str:
    """Per-slot counts and histograms summed over a scope; fields choose among fixed columns
    (user values such as deployments, regions and times are bound parameters)."""
    unknown = set(fields) - set(conventions.LATENCY_FIELDS)
    if unknown:
        raise ValueError(f"unknown latency fields {sorted(unknown)}")
    hists = "".join(f",\n    arrayMap(x -> toUInt32(x), {HIST_MERGE}({h})) AS {h}"
                    for h in (hist_column(f) for f in fields))
    return f"""
SELECT slot, sum(requests) AS requests, sum(ok) AS ok, sum(unknown) AS unknown{hists}
FROM {conventions.REQUESTS_5M}
WHERE {_RANGE} {_SCOPE}
GROUP BY slot
ORDER BY slot
"""


JOINT_SQL = f"""
SELECT slot, ttft_bucket, tpot_bucket, toUInt32(sum(n)) AS n
FROM {conventions.GOODPUT_5M}
WHERE {_RANGE} {_SCOPE}
GROUP BY slot, ttft_bucket, tpot_bucket
"""

# Exact counts at a pair of bucket edges (analytics.store.indicators.Indicator.bucket_good_sql).
EDGE_PAIR_SQL = f"""
SELECT slot, toUInt32(sum(n)) AS valid,
    toUInt32(sumIf(n, {GOODPUT.bucket_good_sql()})) AS good
FROM {conventions.GOODPUT_5M}
WHERE {_RANGE} {_SCOPE}
GROUP BY slot
"""

TARGETED_SQL = f"""
SELECT toDateTime(toStartOfInterval(ts, INTERVAL 5 MINUTE), 'UTC') AS slot,
    toUInt32(sum(weight)) AS valid,
    toUInt32(sumIf(weight, {GOODPUT.good_sql()})) AS good
FROM {conventions.REQUESTS}
WHERE ts >= {{start:DateTime64(3, 'UTC')}} AND ts < {{end:DateTime64(3, 'UTC')}} {_SCOPE}
    AND {GOODPUT.valid_sql()}
GROUP BY slot
"""


def _params(start: datetime, end: datetime, deployments, regions) -> dict:
    return {"start": start, "end": end, "deployments": list(deployments), "regions": list(regions)}


def catalog(store: Store, start: datetime, end: datetime) -> pl.DataFrame:
    """Every (deployment, model, region) with requests in [start, end), with its kind."""
    return store.query(CATALOG_SQL, {"start": start, "end": end})


def scope_slots(store: Store, start: datetime, end: datetime, deployments, regions=(),
                fields: tuple[str, ...] = ()) -> pl.DataFrame:
    """Per 5-minute slot: requests, ok and unknown-status requests and the merged histograms of `fields`, summed over a scope."""
    fields = tuple(f for f in conventions.LATENCY_FIELDS if f in fields)
    return store.query(scope_sql(fields), _params(start, end, deployments, regions))


def joint_slots(store: Store, start: datetime, end: datetime, deployments, regions=()) -> pl.DataFrame:
    """Per slot: 'ok' requests by (ttft bucket, tpot bucket), from the goodput rollup."""
    return store.query(JOINT_SQL, _params(start, end, deployments, regions))


def goodput_slots(store: Store, start: datetime, end: datetime, deployments, regions, ttft_ms: float,
                  tpot_ms: float) -> pl.DataFrame:
    """Per slot: valid and good requests for ttft <= ttft_ms AND tpot <= tpot_ms: from the goodput
    rollup when both are bucket edges, else from the raw requests."""
    params = _params(start, end, deployments, regions)
    located = {f: histogram.locate(ms) for f, ms in zip(GOODPUT.fields, (ttft_ms, tpot_ms), strict=True)}
    if all(s.exact for s in located.values()):
        return store.query(EDGE_PAIR_SQL, params | {bucket_column(f): s.bucket for f, s in located.items()})
    return store.query(TARGETED_SQL, params | dict(zip(GOODPUT.params, (ttft_ms, tpot_ms), strict=True)))
