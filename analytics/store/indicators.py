"""Which requests an SLI counts: each kind's valid and good events, stated once, as data.

A valid event is a request whose status is one of ``valid_statuses`` and that carries every
field in ``fields``; a good event is a valid one whose status is one of ``good_statuses`` and
whose every field is <= its threshold (SLI = good / valid, Google SRE Workbook ch. 2
"Implementing SLOs"). Thresholds are read from the parameters named in ``params`` (bound SQL
parameters, and the analytics.slo.spec.Sli attributes of the same names).

- availability: valid = a recorded outcome (every status but 'unknown'; 'rejected' is valid and
  bad: the user got no answer), good = 'ok' (analytics.store.conventions.STATUSES).
- latency: valid = 'ok' with the field present, good = field <= threshold_ms.
- goodput (DistServe, Zhong et al., OSDI'24): valid = 'ok' with ttft and tpot present,
  good = ttft <= ttft_ms AND tpot <= tpot_ms.

Every SQL predicate over requests is rendered here (the rollup views' histogram buckets and
goodput rows, the SLO engine's targeted reads, the review's raw breakdown, the bench's raw
baselines), and analytics.slo.sli counts the rollups by the same definitions;
tests/test_indicators.py checks that both agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics.store import conventions


@dataclass(frozen=True)
class Indicator:
    """Valid and good events of one SLI (see the module docstring)."""

    kind: str
    valid_statuses: tuple[str, ...]
    good_statuses: tuple[str, ...]
    fields: tuple[str, ...] = ()  # latency fields a valid event carries
    params: tuple[str, ...] = ()  # per field: the parameter holding its threshold in ms

    @property
    def invalid_statuses(self) -> tuple[str, ...]:
        """Statuses never counted (availability: 'unknown')."""
        return tuple(s for s in conventions.STATUSES if s not in self.valid_statuses)

    def thresholds(self, values) -> dict[str, float]:
        """Field -> threshold in ms, read from an object with the params as attributes (an Sli)."""
        return {f: float(getattr(values, p)) for f, p in zip(self.fields, self.params, strict=True)}

    def valid_sql(self, prefix: str = "") -> str:
        """SQL condition of a valid event over request columns (``prefix``: a table alias and dot)."""
        return " AND ".join([_status_sql(self.valid_statuses, prefix),
                             *(f"isNotNull({prefix}{f})" for f in self.fields)])

    def good_sql(self, prefix: str = "") -> str:
        """SQL condition of a good event (within valid events): thresholds are bound Float64 parameters."""
        return " AND ".join([_status_sql(self.good_statuses, prefix),
                             *(f"{prefix}{f} <= {{{p}:Float64}}" for f, p in zip(self.fields, self.params, strict=True))])

    def bucket_good_sql(self) -> str:
        """SQL condition of a good cell of the goodput rollup at thresholds on bucket edges: bucket i
        holds EDGES[i-1] < x <= EDGES[i], so x <= EDGES[k] exactly when its bucket is <= k
        (analytics.store.conventions.EDGES_MS); each bound UInt8 parameter is named as its column."""
        return " AND ".join(f"{bucket_column(f)} <= {{{bucket_column(f)}:UInt8}}" for f in self.fields)


def _status_sql(statuses: tuple[str, ...], prefix: str) -> str:
    if len(statuses) == 1:
        return f"{prefix}status = {statuses[0]!r}"
    return f"{prefix}status IN {statuses!r}"


def bucket_column(field: str) -> str:
    """Goodput rollup column holding a field's bucket index (e.g. ttft_ms -> ttft_bucket)."""
    return field.removesuffix("_ms") + "_bucket"


AVAILABILITY = Indicator("availability", conventions.KNOWN_STATUSES, ("ok",))
GOODPUT = Indicator("goodput", ("ok",), ("ok",), ("ttft_ms", "tpot_ms"), ("ttft_ms", "tpot_ms"))
LATENCY = {f: Indicator("latency", ("ok",), ("ok",), (f,), ("threshold_ms",)) for f in conventions.LATENCY_FIELDS}


def indicator(kind: str, field: str | None = None) -> Indicator:
    """The indicator of an SLI kind (latency: of one field)."""
    if kind == "availability":
        return AVAILABILITY
    if kind == "goodput":
        return GOODPUT
    if kind == "latency":
        if field not in LATENCY:
            raise ValueError(f"unknown latency field {field!r}")
        return LATENCY[field]
    raise ValueError(f"unknown SLI kind {kind!r}")
