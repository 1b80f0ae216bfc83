"""`python -m analytics alerts export`: the SLOs' burn-rate alerts as rule files for Grafana.

Each SLO's scope (its deployments and regions) is resolved against the store's catalog when
exporting, as the app resolves it (analytics.slo.sli.resolve): a deployment added later needs a
new export, except for SLOs over every deployment, whose rules filter none.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

import yaml

from analytics.errors import InputError
from analytics.slo import export as slo_export
from analytics.slo.evaluation import history_start
from analytics.slo.files import PROJECT_SLO_FILE, load_slos
from analytics.slo.sli import resolve
from analytics.slo.spec import Selector, Slo, evaluation_time
from analytics.store import alert_sql
from analytics.store import slo as store_slo
from analytics.store.client import Store
from analytics.store.indicators import indicator
from analytics.store.queries import data_end

FORMATS = ("grafana", "prometheus")
PROMETHEUS_REFUSAL = ("--format prometheus needs SLIs computed from Prometheus metrics (request counters or "
                      "histograms scraped by Prometheus); these SLOs are computed from ClickHouse rollups, "
                      "export them with --format grafana")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the alerts command."""
    parser.add_argument("action", choices=("export",), help="export: write one alert-rule file per SLO")
    parser.add_argument("--format", choices=FORMATS, default="grafana",
                        help="grafana: Grafana alert-rule provisioning YAML over the ClickHouse data source; "
                        "prometheus: refused unless SLIs come from Prometheus metrics")
    parser.add_argument("--out", required=True, help="folder to write the rule files into (created if missing)")
    parser.add_argument("--config", default=str(PROJECT_SLO_FILE),
                        help="SLO file, ours or OpenSLO v1 YAML (default: slos.yaml in the project)")
    parser.add_argument("--dashboard-url", default=slo_export.DEFAULT_DASHBOARD_URL,
                        help="base URL of this dashboard, for the link in each alert (default: "
                        f"{slo_export.DEFAULT_DASHBOARD_URL})")
    parser.add_argument("--datasource-uid", default="clickhouse",
                        help="uid of the Grafana ClickHouse data source that reads this store (default: clickhouse)")
    parser.add_argument("--folder", default="SLOs", help="Grafana folder of the rules (default: SLOs)")


def rule_queries(slo: Slo, deployments: tuple[str, ...], regions: tuple[str, ...]) -> list[slo_export.RuleQuery]:
    """The SQL of each alert tier of an exportable SLO over its resolved scope."""
    thresholds_ms = tuple(indicator(slo.sli.kind, slo.sli.field).thresholds(slo.sli).values())
    reference = int(slo_export.reference_period(slo).total_seconds())
    if slo.window.rolling:
        period, scaled_to = str(reference), None
    else:
        period, scaled_to = alert_sql.calendar_period_sql(slo.window.unit, slo.window.timezone), reference
    out = []
    for tier in slo_export.tiers(slo):
        windows = alert_sql.windows_sql(slo.sli.kind, slo.sli.field, thresholds_ms, deployments, regions,
                                        slo.target, int(tier.long_window.total_seconds()),
                                        int(tier.short_window.total_seconds()), period, slo.budgeting.method,
                                        int(slo.budgeting.slice.total_seconds()) if slo.budgeting.slice else 0,
                                        slo.budgeting.slice_target, excluded=excluded_sql(slo))
        out.append(slo_export.RuleQuery(tier, alert_sql.rule_sql(windows, slo.min_events, scaled_to)))
    return out


def grafana_documents(store: Store, slos: list[Slo], datasource_uid: str, folder: str,
                      dashboard_url: str) -> tuple[dict[str, dict], list[str]]:
    """Per exportable SLO name, its provisioning document; and one note per SLO left out."""
    end = data_end(store) or datetime.now(UTC)
    at = evaluation_time(end)
    catalog = store_slo.catalog(store, history_start(slos, at), at)
    documents, notes = {}, []
    for slo in slos:
        reason = slo_export.exportable(slo)
        deployments, regions = resolve(slo.selector, catalog)
        if reason is None and not deployments:
            reason = f"no deployment in the store matches its scope ({slo.selector.describe()})"
        if reason is not None:
            notes.append(f"note: {slo.name}: not exported: {reason}")
            continue
        if slo.selector == Selector():  # every deployment: no filter, so deployments added later count
            deployments = ()
        documents[slo.name] = slo_export.provisioning(slo, rule_queries(slo, deployments, regions), datasource_uid,
                                                      folder, dashboard_url)
    return documents, notes


HEADER = """\
# Grafana alert-rule provisioning for SLO {name} (exported by `python -m analytics alerts export`).
# Format: Grafana Alerting file provisioning (grafana.com/docs/grafana/latest/alerting/set-up/
# provision-alerting-resources/file-provisioning/); needs the ClickHouse data source plugin.
# Rules: multiwindow, multi-burn-rate alerts (Google SRE Workbook ch. 5 "Alerting on SLOs", Table 5-8):
# a tier fires when the burn rate over both its long and short window exceeds its threshold and the
# long window holds >= min_events valid events; burn rate = (bad / valid) / (1 - target).
# Latency thresholds: exact on a histogram bucket edge; between edges the good count is interpolated
# log-linearly inside the straddled bucket, as the dashboard's estimate (analytics.histogram.count_le).
# Calendar windows: thresholds are for the longest period; the query scales the burn by that / the
# period at the evaluation time, so a rule fires when the burn exceeds the threshold of that period.
"""


class _Dumper(yaml.SafeDumper):
    """YAML with multi-line strings (the rules' SQL) as literal blocks, readable in review."""


_Dumper.add_representer(str, lambda dumper, value: dumper.represent_scalar(
    "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None))


def run(args, store: Store) -> int:
    """Write one rule file per exportable SLO into --out."""
    if args.format == "prometheus":
        raise InputError(PROMETHEUS_REFUSAL)
    slos = load_slos(args.config)
    if not slos:
        raise InputError(f"{args.config}: no SLOs defined")
    documents, notes = grafana_documents(store, slos, args.datasource_uid, args.folder, args.dashboard_url)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, document in documents.items():
        text = HEADER.format(name=name) + yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=120)
        (out / f"{name}.yaml").write_text(text)
    for note in notes:
        print(note, file=sys.stderr)
    rules = sum(len(d["groups"][0]["rules"]) for d in documents.values())
    print(f"wrote {len(documents)} files, {rules} alert rules, to {out}")
    return 0


def excluded_sql(slo: Slo) -> str:
    """The rule SQL's predicate for the slots the SLO's budget corrections cover
    (analytics.slo.corrections): the SLO file's as literal windows and weekly/daily predicates, the
    page's as a subquery on the corrections table (so one added later applies without exporting again)."""
    terms = [alert_sql.recurring_sql(c.every, f"{c.at:%H:%M}", int(c.duration.total_seconds()), c.timezone)
             if c.recurring else alert_sql.one_off_sql(c.start, c.start + c.duration) for c in slo.corrections]
    return " OR ".join([*terms, alert_sql.stored_corrections_sql(slo.name)])
