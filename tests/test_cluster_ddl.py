"""The schema's DDL as text, on one node and on a cluster (analytics.store.ddl).

No ClickHouse cluster (nor Keeper) can run on the development machines, so the cluster DDL is
checked here as text, and parsed by the real engine: chDB's formatQuery() parses a statement
without running it. The single-node DDL runs in chDB in every other test of the suite.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analytics.errors import SourceError
from analytics.store import conventions
from analytics.store.client import Store
from analytics.store.ddl import SINGLE, ZOOKEEPER_PATH, Layout
from analytics.store.dsn import dsn_from_settings, split_cluster
from analytics.store.journal import JOURNAL
from analytics.store.otel import sources_ddl
from analytics.store.schema import ROLLUPS, schema_ddl, tables_ddl

GOLDEN = Path(__file__).parent / "data" / "single_node_ddl.sql"  # the single-node DDL, as before cluster mode
CLUSTER = Layout("prod", "telemetry")
TABLES = [conventions.SCHEMA_VERSION_TABLE, conventions.REQUESTS, conventions.GPU_METRICS, conventions.DEPLOYMENTS, conventions.REQUESTS_5M, conventions.REQUESTS_1H, conventions.GPU_1H,
          conventions.GOODPUT_5M, JOURNAL,
          conventions.REVIEW_NOTES, conventions.BUDGET_CORRECTIONS, conventions.CORRECTION_WITHDRAWALS, conventions.OTEL_SOURCES]
CREATE = re.compile(r"CREATE (TABLE|MATERIALIZED VIEW) IF NOT EXISTS (\w+)")


def every_statement(layout: Layout) -> list[str]:
    """Every statement the app may run on `layout`: the schema, the sources table, and the journal's
    stage, drop, delete and migration statements."""
    stage = "ingest_stage_0123_requests"
    return [*schema_ddl(layout), *sources_ddl(layout), *layout.copy_table(stage, conventions.REQUESTS),
            layout.drop("TABLE", stage), layout.drop("VIEW", ROLLUPS[conventions.REQUESTS_5M].view),
            layout.delete(conventions.REQUESTS, "load_id = 'x'"), *layout.add_column(conventions.REQUESTS, "extra UInt8 DEFAULT 0"),
            layout.materialized_view("requests_from_otel_traces_mv", conventions.REQUESTS, "SELECT * FROM otel_traces")]


def created(statements: list[str]) -> dict[str, str]:
    return {CREATE.match(s).group(2): s for s in statements if CREATE.match(s)}


def test_the_single_node_ddl_is_exactly_what_it_was_before_cluster_mode():
    statements = schema_ddl(SINGLE) + sources_ddl(SINGLE)
    assert ";\n\n".join(statements) + ";\n" == GOLDEN.read_text()
    assert not any("ON CLUSTER" in s or "_local" in s or "Replicated" in s for s in every_statement(SINGLE))


def test_on_a_cluster_every_table_is_a_replicated_local_table_under_a_distributed_one():
    single, clustered = created(tables_ddl(SINGLE) + sources_ddl(SINGLE)), created(every_statement(CLUSTER))
    for table in TABLES:
        local, distributed = clustered[f"{table}_local"], clustered[table]
        # Same columns and engine as on one node, the engine's Replicated variant with the Keeper
        # path and replica macros first (the engine's own arguments, e.g. a version column, after).
        engine = re.search(r"\) ENGINE = (\w+)(\(([^)]*)\))?", single[table])
        family, args = engine.group(1), engine.group(3)
        replicated = f"ENGINE = Replicated{family}('{ZOOKEEPER_PATH}', '{{replica}}'{', ' + args if args else ''})"
        assert replicated in local, local
        assert local.split(" ENGINE")[0].split("(", 1)[1] == single[table].split(" ENGINE")[0].split("(", 1)[1]
        assert distributed.startswith(f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER prod AS {table}_local\n"
                                      f"ENGINE = Distributed(prod, 'telemetry', {table}_local, ")
    assert {"{shard}", "{replica}", "{uuid}", "{database}", "{table}"} <= set(re.findall(r"\{\w+\}", ZOOKEEPER_PATH
                                                                                        + "{replica}"))


def test_raw_tables_and_their_rollups_are_sharded_by_deployment():
    clustered = created(schema_ddl(CLUSTER))
    for table in (conventions.REQUESTS, conventions.REQUESTS_5M, conventions.REQUESTS_1H, conventions.GPU_METRICS, conventions.GPU_1H, conventions.GOODPUT_5M, conventions.DEPLOYMENTS):
        assert clustered[table].endswith(f"{table}_local, cityHash64(deployment))")
    assert clustered[JOURNAL].endswith("cityHash64(load_id))")  # one load's journal rows on one shard


def test_on_a_cluster_every_rollup_view_reads_a_local_raw_table_into_a_local_rollup():
    views = {name: s for name, s in created(schema_ddl(CLUSTER)).items() if "MATERIALIZED VIEW" in s}
    assert set(views) == {r.view for r in ROLLUPS.values()}
    for rollup in ROLLUPS.values():
        ddl = views[rollup.view]
        assert f" ON CLUSTER prod TO {rollup.table}_local AS\n" in ddl
        assert re.findall(r"\bFROM (\w+)", ddl) == [f"{rollup.raw}_local"]
    # A rollback rebuilds rollup rows with the same SELECT through the Distributed tables, which
    # route them by deployment to the shard the view wrote them on.
    assert re.findall(r"\bFROM (\w+)", ROLLUPS[conventions.REQUESTS_5M].query("deployment = 'd'")) == [conventions.REQUESTS]


def test_every_cluster_statement_runs_on_cluster():
    statements = every_statement(CLUSTER)
    assert len(statements) > 25
    for statement in statements:
        head = statement.split("(", 1)[0].split("\n", 1)[0]
        assert " ON CLUSTER prod" in head, statement[:200]


def test_a_stage_on_a_cluster_is_never_a_replica_of_the_raw_table():
    local, distributed = CLUSTER.copy_table("ingest_stage_1_requests", conventions.REQUESTS)
    assert local.startswith("CREATE TABLE IF NOT EXISTS ingest_stage_1_requests_local ON CLUSTER prod AS requests_local\n")
    assert f"ENGINE = ReplicatedMergeTree('{ZOOKEEPER_PATH}', '{{replica}}') ORDER BY tuple()" in local
    assert distributed.endswith("Distributed(prod, 'telemetry', ingest_stage_1_requests_local, rand())")
    assert SINGLE.copy_table("ingest_stage_1_requests", conventions.REQUESTS) == [
        "CREATE TABLE IF NOT EXISTS ingest_stage_1_requests AS requests"]


@pytest.mark.parametrize("layout", [SINGLE, CLUSTER], ids=["single", "cluster"])
def test_every_statement_parses_in_the_real_engine(store, layout):
    for statement in every_statement(layout):
        formatted = store.scalar("SELECT formatQuery({q:String})", {"q": statement})
        assert formatted.startswith(statement.split(" ", 1)[0])
        assert ("ON CLUSTER prod" in formatted) == layout.clustered


# --- where the cluster name comes from ------------------------------------------------------------

def test_the_cluster_comes_from_the_dsn_or_the_secrets_and_never_reaches_the_driver():
    assert split_cluster("https://u:pw@host:8443/telemetry?cluster=prod&compress=false") == (
        "https://u:pw@host:8443/telemetry?compress=false", "prod")
    assert split_cluster("https://u:pw@host:8443/telemetry") == ("https://u:pw@host:8443/telemetry", "")
    assert dsn_from_settings({"host": "ch", "password": "pw", "database": "telemetry", "cluster": "prod"}) == (
        "http://default:pw@ch:8123/telemetry?cluster=prod")
    assert dsn_from_settings({"url": "https://u:pw@ch:8443/t", "cluster": "prod"}) == "https://u:pw@ch:8443/t?cluster=prod"


@pytest.mark.parametrize(("dsn", "message"), [
    ("https://u:pw@host:8443/t?cluster=prod;DROP", r"^cluster='prod;DROP' in the DSN: not a cluster name"),
    ("chdb:///tmp/nowhere?cluster=prod", r"^cluster=prod in the DSN: the embedded engine has no cluster"),
])
def test_a_bad_cluster_setting_is_one_clear_line(dsn, message):
    with pytest.raises(SourceError, match=message):
        Store(dsn)
