"""Deploy markers found in the telemetry itself: changes of model_version, GPU type and replica count.

Grafana draws deploys as annotations on every time series; here they are derived from what
served the traffic, so they need no deploy hook:

- model_version and gpu_type (rollup keys, per deployment and 5-minute slot): the value
  serving most requests in a slot is the slot's dominant value. A change of the dominant value
  between consecutive slots with traffic is a marker ("v1 -> v2"). A value that starts serving
  while another stays dominant (a canary) is marked when it first appears, and a value that stops
  serving while not dominant (the old version at the end of a gradual rollout) when it disappears.
- replicas: distinct (node, gpu) pairs reporting DCGM samples in an hour (gpu_metrics_1h)
  divided by the deployment's gpus_per_replica (deployments table); a change between
  consecutive hours with samples is a marker.

Changes of one deployment and kind closer than COLLAPSE are one marker from the first
"before" to the last "after", dropped when they cancel out (a node missing from one hour's
samples, a dominant value flapping during a 50/50 split).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import polars as pl

COLLAPSE = timedelta(hours=1)
CHANGE_SCHEMA = {
    "deployment": pl.String, "ts": pl.Datetime("us", "UTC"), "kind": pl.String, "before": pl.String,
    "after": pl.String, "description": pl.String,
}


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=CHANGE_SCHEMA)


def _collapse(rows: list[dict]) -> list[dict]:
    """Merge changes of one deployment and kind closer than COLLAPSE; drop those that cancel out."""
    out: list[dict] = []
    for row in sorted(rows, key=lambda r: (r["deployment"], r["kind"], r["ts"])):
        last = out[-1] if out else None
        if last and (last["deployment"], last["kind"]) == (row["deployment"], row["kind"]) \
                and row["ts"] - last["_last_ts"] <= COLLAPSE:
            last.update(after=row["after"], _last_ts=row["ts"], _share=row.get("_share"))
            continue
        out.append(row | {"_last_ts": row["ts"]})
    return [r for r in out if r["before"] != r["after"]]


def value_changes(values: pl.DataFrame) -> pl.DataFrame:
    """Markers from what served each slot (analytics.store.review.values_by_slot: deployment,
    slot, model_version, gpu_type, requests): dominant-value changes, appearances and
    disappearances of non-dominant values, for every column but deployment, slot and requests."""
    if values.is_empty():
        return _empty()
    rows: list[dict] = []
    for kind in [c for c in values.columns if c not in ("deployment", "slot", "requests")]:
        per = values.group_by("deployment", "slot", kind).agg(pl.col("requests").sum()).rename({kind: "value"})
        slots = (per.sort("requests", "value", descending=[True, False])
                 .group_by("deployment", "slot", maintain_order=True)
                 .agg(pl.col("value").first().alias("dominant"), pl.col("requests").first().alias("top"),
                      pl.col("requests").sum().alias("total"))
                 .sort("deployment", "slot")
                 .with_columns(pl.col("dominant").shift(1).over("deployment").alias("previous")))
        switched = slots.filter(pl.col("previous").is_not_null() & (pl.col("previous") != pl.col("dominant")))
        changes = [{"deployment": r["deployment"], "ts": r["slot"], "kind": kind, "before": r["previous"],
                    "after": r["dominant"], "_share": r["top"] / r["total"]} for r in switched.iter_rows(named=True)]
        rows += _collapse(changes)
        bounds = slots.group_by("deployment").agg(pl.col("slot").min().alias("first"), pl.col("slot").max().alias("last"))
        span = (per.group_by("deployment", "value").agg(pl.col("slot").min().alias("from"), pl.col("slot").max().alias("to"))
                .join(bounds, on="deployment"))
        edges = pl.concat([
            span.filter(pl.col("from") > pl.col("first")).select("deployment", "value", pl.col("from").alias("slot"),
                                                                 pl.lit("appears").alias("edge")),
            span.filter(pl.col("to") < pl.col("last")).select("deployment", "value", pl.col("to").alias("slot"),
                                                              pl.lit("disappears").alias("edge")),
        ]).join(slots, on=["deployment", "slot"]).join(per, on=["deployment", "slot", "value"])
        for r in edges.filter(pl.col("value") != pl.col("dominant")).iter_rows(named=True):
            appears = r["edge"] == "appears"
            rows.append({"deployment": r["deployment"], "kind": kind,
                         "ts": r["slot"] if appears else r["slot"] + timedelta(minutes=5),
                         "before": None if appears else r["value"], "after": r["value"] if appears else None,
                         "_share": r["requests"] / r["total"]})
    return _finish(rows)


def replica_changes(gpus: pl.DataFrame, gpus_per_replica: Mapping[str, int]) -> pl.DataFrame:
    """Markers where a deployment's replica count changes between consecutive hours with DCGM
    samples (analytics.store.review.gpus_by_hour: deployment, hour, gpus)."""
    if gpus.is_empty():
        return _empty()
    per = pl.DataFrame({"deployment": list(gpus_per_replica), "per": [max(int(v), 1) for v in gpus_per_replica.values()]},
                       schema={"deployment": pl.String, "per": pl.Int64})
    frame = (gpus.join(per, on="deployment", how="left").with_columns(pl.col("per").fill_null(1))
             .with_columns((pl.col("gpus").cast(pl.Int64) / pl.col("per")).ceil().cast(pl.Int64).alias("replicas"))
             .sort("deployment", "hour")
             .with_columns(pl.col("replicas").shift(1).over("deployment").alias("previous")))
    switched = frame.filter(pl.col("previous").is_not_null() & (pl.col("previous") != pl.col("replicas")))
    rows = [{"deployment": r["deployment"], "ts": r["hour"], "kind": "replicas", "before": str(r["previous"]),
             "after": str(r["replicas"]), "_share": None} for r in switched.iter_rows(named=True)]
    return _finish(_collapse(rows))


def _describe(r: dict) -> str:
    kind, before, after = r["kind"], r["before"], r["after"]
    if kind == "replicas":
        return f"replicas {before} → {after}"
    share = f" ({r['_share']:.0%} of requests)" if r.get("_share") is not None else ""
    if before is None:
        return f"{kind} {after} starts serving{share}"
    if after is None:
        return f"{kind} {before} stops serving{share.replace('(', '(last slot: ')}"
    return f"{kind} {before} → {after}{share}"


def _finish(rows: list[dict]) -> pl.DataFrame:
    if not rows:
        return _empty()
    frame = pl.DataFrame([{k: r[k] for k in CHANGE_SCHEMA if k != "description"} | {"description": _describe(r)}
                          for r in rows], schema=CHANGE_SCHEMA)
    return frame.sort("ts", "deployment", "kind")


def changes(values: pl.DataFrame, gpus: pl.DataFrame, gpus_per_replica: Mapping[str, int]) -> pl.DataFrame:
    """Every deploy marker, oldest first.

    Columns: deployment, ts (aware UTC: the first slot or hour with the new state), kind
    (model_version, gpu_type or replicas), before and after (null when a value starts or stops
    serving beside the dominant one), description (one line for a chart annotation or table).
    """
    return pl.concat([value_changes(values), replica_changes(gpus, gpus_per_replica)]).sort("ts", "deployment", "kind")
