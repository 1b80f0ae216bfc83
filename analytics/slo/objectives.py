"""Which objectives judge a deployment's load: its latency and goodput SLOs, else the defaults.

Capacity (SLO-compliant throughput), right-sizing and goodput per GPU ask "did this deployment
meet its objectives in this hour?" (analytics.slo.compliance). The objectives are the latency
and goodput SLOs of the SLO file whose selector covers the deployment; a deployment that none
covers gets the packaged defaults for its kind (analytics/slo/defaults.yaml). Availability SLOs
are left out: errors have causes other than load (a bad release, a regional outage), so an
availability miss says nothing about how much traffic the GPUs can carry.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from analytics.slo.files import default_slos
from analytics.slo.spec import Slo

LOAD_SLIS = ("latency", "goodput")


def _covering(slos: Sequence[Slo], row: dict) -> tuple[Slo, ...]:
    return tuple(
        s for s in slos
        if s.sli.kind in LOAD_SLIS
        and s.selector.matches(row["deployment"], row.get("model") or "", row.get("region") or "",
                               row.get("kind") or "")
    )


def objectives_by_deployment(deployments: pl.DataFrame, slos: Sequence[Slo],
                             defaults: Sequence[Slo] | None = None) -> dict[str, tuple[Slo, ...]]:
    """Per deployment of the table (deployment, model, region, kind): the SLOs judging its load.

    ``defaults`` apply where no SLO covers a deployment (None: the packaged defaults); a
    deployment with neither maps to () (not judged).
    """
    defaults = default_slos() if defaults is None else defaults
    columns = [c for c in ("deployment", "model", "region", "kind") if c in deployments.columns]
    return {
        row["deployment"]: _covering(slos, row) or _covering(defaults, row)
        for row in deployments.select(columns).iter_rows(named=True)
    }


def describe(objectives: Sequence[Slo]) -> str:
    """E.g. 'ttft_ms <= 600 ms for 99% (chat-ttft)'; 'no latency objective' when empty."""
    if not objectives:
        return "no latency objective"
    return " and ".join(f"{s.sli.describe()} for {s.target * 100:g}% ({s.name})" for s in objectives)
