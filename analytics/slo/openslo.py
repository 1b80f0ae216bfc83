"""Import OpenSLO v1 documents (https://github.com/OpenSLO/OpenSLO, README "SLO", "SLI").

Each OpenSLO objective is translated into our concise mapping and handed to
analytics.slo.spec.parse_slo, so units are converted in one place. The mapping convention
(annotations ``mlserving.dev/*``, labels deployment/model/region) is documented in
analytics.slo.spec.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from analytics.errors import SpecError
from analytics.slo.spec import ANNOTATION_PREFIX, Slo, _show, parse_slo

_BUDGETING = {"Occurrences": "occurrences", "Timeslices": "timeslices", "RatioTimeslices": "ratio_timeslices"}
_CALENDAR = {"1w": "calendar-week", "1M": "calendar-month"}


# metadata.labels that choose deployments (the selector); every other label is one of our labels.
SELECTOR_LABELS = ("deployment", "model", "region")


def _get(mapping, *keys, default=None):
    for key in keys:
        if not isinstance(mapping, Mapping) or key not in mapping:
            return default
        mapping = mapping[key]
    return mapping


def _mapping(value, where: str) -> Mapping:
    """A mapping from the file ({} for a missing one), or a SpecError naming the field."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SpecError(f"{where}: expected a mapping, got {_show(value)}")
    return value


def _metadata(*metas: tuple[str, object]) -> tuple[dict, dict]:
    """Labels and our annotations, later metadata winning (the SLO's, then the indicator's);
    metas are (where, metadata) pairs."""
    labels: dict = {}
    notes: dict = {}
    for where, meta in metas:
        meta = _mapping(meta, where)
        labels |= _mapping(meta.get("labels"), f"{where}.labels")
        for key, value in _mapping(meta.get("annotations"), f"{where}.annotations").items():
            if str(key).startswith(ANNOTATION_PREFIX):
                notes[str(key).removeprefix(ANNOTATION_PREFIX)] = value
    return labels, notes


def _number(value, where: str) -> float:
    """A finite number from the file (an infinite or NaN target, threshold or count means nothing)."""
    try:
        number = float(value)
    except OverflowError:  # a whole number of hundreds of digits
        number = math.inf
    except (TypeError, ValueError):
        raise SpecError(f"{where}: {_show(value)} is not a number") from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise SpecError(f"{where}: {_show(value)} is not a finite number")
    return number


def _window(spec: Mapping, where: str) -> dict:
    windows = spec.get("timeWindow")
    if not isinstance(windows, list) or len(windows) != 1 or not isinstance(windows[0], Mapping):
        raise SpecError(f"{where}.timeWindow: expected a list with exactly one window")
    tw = windows[0]
    duration = tw.get("duration", "")
    calendar = tw.get("calendar")
    rolling = tw.get("isRolling", calendar is None)
    if rolling:
        return {"window": duration}
    if not isinstance(duration, str) or duration not in _CALENDAR:
        raise SpecError(f"{where}.timeWindow[0].duration: calendar windows supported are 1w and 1M, "
                        f"got {_show(duration)}")
    calendar = _mapping(calendar, f"{where}.timeWindow[0].calendar")
    return {"window": _CALENDAR[duration], "timezone": calendar.get("timeZone", "UTC")}


def _sli(indicator: Mapping, notes: Mapping, objective: Mapping, where: str) -> dict:
    spec = _mapping(indicator.get("spec"), "indicator.spec")
    if "thresholdMetric" in spec:
        op = objective.get("op")
        if op not in ("lte", "lt"):
            raise SpecError(f"{where}.op: a latency threshold needs op lte or lt "
                            f"(good = latency <= value), got {_show(op)}")
        if "value" not in objective:
            raise SpecError(f"{where}.value: a thresholdMetric objective needs a value (the threshold in ms)")
        field = notes.get("field")
        return {"latency": {"field": field, "threshold_ms": _number(objective["value"], f"{where}.value")}}
    if "ratioMetric" not in spec:
        raise SpecError("indicator.spec: needs ratioMetric or thresholdMetric")
    ratio = _mapping(spec["ratioMetric"], "indicator.spec.ratioMetric")
    if not ("raw" in ratio or ("total" in ratio and ("good" in ratio) != ("bad" in ratio))):
        raise SpecError("indicator.spec.ratioMetric: needs good/total, bad/total or raw")
    kind = notes.get("sli")
    if kind is None:
        raise SpecError(f"metadata.annotations.{ANNOTATION_PREFIX}sli: a ratioMetric needs it to say "
                        "which of our SLIs it is (availability, latency or goodput)")
    if kind == "latency":
        threshold = _number(notes.get("threshold-ms"), f"{ANNOTATION_PREFIX}threshold-ms")
        return {"latency": {"field": notes.get("field"), "threshold_ms": threshold}}
    if kind == "goodput":
        return {"goodput": {"ttft_ms": _number(notes.get("ttft-ms"), f"{ANNOTATION_PREFIX}ttft-ms"),
                            "tpot_ms": _number(notes.get("tpot-ms"), f"{ANNOTATION_PREFIX}tpot-ms")}}
    return kind  # availability, or an unknown kind that parse_slo reports


def _budgeting(spec: Mapping, objective: Mapping, where: str) -> object:
    method = spec.get("budgetingMethod")
    if not isinstance(method, str) or method not in _BUDGETING:
        raise SpecError(f"spec.budgetingMethod: {_show(method)} is not one of {', '.join(_BUDGETING)}")
    if method == "Occurrences":
        return "occurrences"
    window = objective.get("timeSliceWindow")
    if window is None:
        raise SpecError(f"{where}.timeSliceWindow: required for {method}")
    if isinstance(window, int | float) and not isinstance(window, bool):
        minutes = _number(window, f"{where}.timeSliceWindow")
        if minutes != int(minutes):
            raise SpecError(f"{where}.timeSliceWindow: {_show(window)} is not a whole number of minutes")
        window = f"{int(minutes)}m"  # OpenSLO: a bare number means minutes
    out: dict = {"method": _BUDGETING[method], "slice": window}
    if method == "Timeslices":
        if "timeSliceTarget" not in objective:
            raise SpecError(f"{where}.timeSliceTarget: required for Timeslices")
        out["slice_target_ratio"] = _number(objective["timeSliceTarget"], f"{where}.timeSliceTarget")
    return out


def from_openslo(docs: list[Mapping], source: str = "") -> list[Slo]:
    """Translate OpenSLO v1 SLO documents (SLI documents serve indicatorRef) into SLOs."""
    indicators = {str(_get(d, "metadata", "name")): d for d in docs if d.get("kind") == "SLI"}
    slos: list[Slo] = []
    for doc in docs:
        if doc.get("kind") != "SLO":
            continue  # Service, DataSource, AlertPolicy...: nothing to evaluate
        name = _get(doc, "metadata", "name", default="") or ""
        name = name if isinstance(name, str) else _show(name)
        raws: list[dict] = []
        try:
            spec = _mapping(doc.get("spec"), "spec")
            if doc.get("apiVersion") != "openslo/v1":
                raise SpecError(f"apiVersion: only openslo/v1 is supported, got {_show(doc.get('apiVersion'))}")
            indicator = spec.get("indicator")
            if indicator is None and spec.get("indicatorRef") is not None:
                ref = spec["indicatorRef"]
                indicator = indicators.get(ref) if isinstance(ref, str) else None
                if indicator is None:
                    raise SpecError(f"spec.indicatorRef: no kind: SLI document named {_show(ref)}")
            if not isinstance(indicator, Mapping):
                raise SpecError("spec.indicator: an inline indicator or an indicatorRef is required")
            labels, notes = _metadata(("metadata", doc.get("metadata")),
                                      ("indicator.metadata", indicator.get("metadata")))
            objectives = spec.get("objectives")
            if not isinstance(objectives, list) or not objectives:
                raise SpecError("spec.objectives: at least one objective is required")
            common = {
                "description": spec.get("description") or "",
                "deployments": labels.get("deployment"),
                "models": labels.get("model"),
                "regions": labels.get("region"),
                **_window(spec, "spec"),
            }
            grouping = {k: v for k, v in labels.items() if k not in SELECTOR_LABELS}
            if grouping:  # team, service, tier...: our labels, validated by parse_slo
                common["labels"] = grouping
            if "policy" in notes:  # OpenSLO v1 has no error budget policy field: our annotation
                common["policy"] = notes["policy"]
            if "min-events" in notes:
                common["min_events"] = int(_number(notes["min-events"], f"{ANNOTATION_PREFIX}min-events"))
            for i, objective in enumerate(objectives):
                where = f"spec.objectives[{i}]"
                if not isinstance(objective, Mapping):
                    raise SpecError(f"{where}: expected a mapping")
                raw = dict(common)
                raw["name"] = name if len(objectives) == 1 else f"{name}/{objective.get('displayName') or i}"
                raw["sli"] = _sli(indicator, notes, objective, where)
                raw["budgeting"] = _budgeting(spec, objective, where)
                if ("target" in objective) == ("targetPercent" in objective):
                    raise SpecError(f"{where}: give exactly one of target (ratio) or targetPercent")
                if "target" in objective:
                    raw["target_ratio"] = _number(objective["target"], f"{where}.target")
                else:
                    raw["target"] = objective["targetPercent"]
                raws.append({k: v for k, v in raw.items() if v is not None})
        except SpecError as exc:
            prefix = f"{source}: " if source else ""
            raise SpecError(f"{prefix}SLO {name or '(unnamed)'!r}: {exc}") from None
        slos.extend(parse_slo(raw, source) for raw in raws)  # our fields are checked there
    return slos
