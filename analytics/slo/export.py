"""Burn-rate alerts as Grafana alert-rule provisioning files, so they run without the dashboard.

One file per SLO: ``apiVersion: 1`` and one rule group holding a rule per alert tier
(analytics.slo.alerts.tiers_for), in the file-provisioning format of Grafana Alerting
(grafana.com/docs/grafana/latest/alerting/set-up/provision-alerting-resources/file-provisioning/:
groups -> orgId, name, folder, interval, rules; a rule -> uid, title, condition, data, for,
noDataState, execErrState, labels, annotations; each data entry -> refId, relativeTimeRange,
datasourceUid, model). Each rule has three steps:

- A: the ClickHouse data source's SQL (analytics.store.alert_sql): the smaller of the long- and
  short-window burn rates at the evaluation time, 0 below the minimum-traffic guard;
- B: a reduce expression (last value of A);
- C: a threshold expression, B > the tier's burn-rate threshold (analytics.slo.alerts.Tier.threshold:
  budget_fraction x period / long window, SRE Workbook ch. 5, Table 5-8), the rule's condition.

So a rule fires exactly when the app's tier fires (both windows above the threshold, enough events).
Labels carry severity page|ticket; annotations the SLO's description (the SLO file has no runbook
field yet) and a link to its view on the dashboard's SLOs page.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote, urlencode

from analytics.slo.alerts import Tier, tiers_for
from analytics.slo.spec import Slo, format_duration

DEFAULT_DASHBOARD_URL = "http://localhost:8501"
SLO_PAGE = "SLOs"  # Streamlit's URL path of pages/1_SLOs.py
EVALUATE_EVERY = "1m"  # the rule group's evaluation interval: finer than the 5-minute slots
EXPRESSIONS = "__expr__"  # Grafana's datasource uid of server-side expressions
QUERY, REDUCE, CONDITION = "A", "B", "C"


def exportable(slo: Slo) -> str | None:
    """Why an SLO's alerts cannot be exported as rollup SQL (None: they can).

    The exported SQL covers every SLI kind, window and budgeting method, with slices that divide a day."""
    if slo.composite is not None:
        return (f"a composite SLO ({slo.composite.describe()}) is computed from its objectives' evaluations, "
                "not from one rollup query; its objectives' own rules alert")
    if slo.budgeting.slice is not None and timedelta(days=1) % slo.budgeting.slice:
        return (f"slices of {format_duration(slo.budgeting.slice)} (the export needs slices that divide a day, "
                "so they align to UTC midnight as on the dashboard)")
    return None


def dashboard_link(base_url: str, slo_name: str) -> str:
    """The SLO's view on the dashboard: the SLOs page with ?slo=<name>."""
    return f"{base_url.rstrip('/')}/{SLO_PAGE}?{urlencode({'slo': slo_name}, quote_via=quote)}"


@dataclass(frozen=True)
class RuleQuery:
    """A tier's SQL and the ClickHouse data source that runs it."""

    tier: Tier
    sql: str


def _uid(slo: Slo, tier: Tier) -> str:
    """A stable rule uid (Grafana allows at most 40 characters): a hash of the SLO and tier."""
    return "slo-" + hashlib.sha1(f"{slo.name}/{tier.label}".encode()).hexdigest()[:32]


def rule(slo: Slo, query: RuleQuery, threshold: float, datasource_uid: str, dashboard_url: str) -> dict:
    """One Grafana alert rule for one tier of an SLO."""
    tier = query.tier
    long_seconds = int(tier.long_window.total_seconds())
    annotations = {
        "summary": (f"{slo.name}: {tier.budget_fraction:.0%} of the {slo.window.label} error budget spent in "
                    f"{format_duration(tier.long_window)}: burn rate above {threshold:.4g} over "
                    f"{format_duration(tier.long_window)} and {format_duration(tier.short_window)}"
                    + ("" if slo.window.rolling else
                       f" (for a {format_duration(slo.window.max_period)} period; scaled to the current one)")),
        "dashboard_url": dashboard_link(dashboard_url, slo.name),
    }
    if slo.description:
        annotations["description"] = slo.description
    annotations["corrections"] = corrections_note(slo)
    return {
        "uid": _uid(slo, tier),
        "title": f"{slo.name} {tier.severity} {tier.label}",
        "condition": CONDITION,
        "data": [
            {"refId": QUERY, "relativeTimeRange": {"from": long_seconds, "to": 0}, "datasourceUid": datasource_uid,
             "model": {"refId": QUERY, "editorType": "sql", "format": 1, "queryType": "table", "rawSql": query.sql}},
            {"refId": REDUCE, "datasourceUid": EXPRESSIONS,
             "model": {"refId": REDUCE, "type": "reduce", "expression": QUERY, "reducer": "last"}},
            {"refId": CONDITION, "datasourceUid": EXPRESSIONS,
             "model": {"refId": CONDITION, "type": "threshold", "expression": REDUCE,
                       "conditions": [{"evaluator": {"type": "gt", "params": [threshold]}}]}},
        ],
        "for": "0s",  # the short window already debounces (SRE Workbook ch. 5, multiwindow alerts)
        "noDataState": "OK",  # no valid events: the app does not fire either
        "execErrState": "Error",
        "labels": {"severity": tier.severity, "slo": slo.name},
        "annotations": annotations,
    }


def reference_period(slo: Slo) -> timedelta:
    """The period the rules' thresholds are computed for: the rolling length, or the longest
    calendar period (the rules' SQL scales a calendar SLO's burn by this / the period at the
    evaluation time, analytics.store.alert_sql.rule_sql)."""
    return slo.window.max_period


def provisioning(slo: Slo, queries: list[RuleQuery], datasource_uid: str, folder: str,
                 dashboard_url: str = DEFAULT_DASHBOARD_URL) -> dict:
    """The provisioning document of one SLO: apiVersion 1, one group, a rule per tier."""
    period = reference_period(slo)
    return {
        "apiVersion": 1,
        "groups": [{
            "orgId": 1,
            "name": slo.name,
            "folder": folder,
            "interval": EVALUATE_EVERY,
            "rules": [rule(slo, q, q.tier.threshold(period), datasource_uid, dashboard_url) for q in queries],
        }],
    }


def tiers(slo: Slo) -> tuple[Tier, ...]:
    """The tiers an exportable SLO alerts on: those fitting its period (a calendar week or month
    holds every tier's window, whatever its length)."""
    return tiers_for(reference_period(slo))


def corrections_note(slo: Slo) -> str:
    """What the rule's SQL leaves out (excluded_sql), in words."""
    listed = "; ".join(f"{c.describe()} ({c.reason})" for c in slo.corrections)
    return ((f"Budget corrections from the SLO file excluded: {listed}. " if listed else "")
            + "Corrections added on the dashboard's SLOs page (less the withdrawn ones) are read from the budget_corrections "
            "table at each evaluation.")

