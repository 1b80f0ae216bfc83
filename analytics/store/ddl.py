"""DDL for one ClickHouse node or a cluster, from one description of each table and view.

Every CREATE, DROP, ALTER and DELETE of the schema goes through a Layout. A single node (embedded
chDB, a plain server) gets exactly the statements the schema always had. A cluster (``cluster=NAME``
in the DSN or secrets, analytics.store.dsn) gets, for each table:

- ``<table>_local``: the data, in the Replicated variant of the table's engine
  (ReplicatedMergeTree, ReplicatedAggregatingMergeTree, ReplicatedReplacingMergeTree ...), created
  ``ON CLUSTER`` so every host of the cluster gets its replica. "Replication is only supported for
  tables in the MergeTree family: ReplicatedMergeTree, ReplicatedSummingMergeTree,
  ReplicatedReplacingMergeTree, ReplicatedAggregatingMergeTree ..."; replication "does not depend
  on sharding. Each shard has its own independent replication" (ClickHouse docs, Table engines >
  MergeTree family > Data replication, clickhouse.com/docs/engines/table-engines/mergetree-family/replication).
- ``<table>``: a Distributed table over the local ones, under today's name, so every query and
  insert of the app runs unchanged: "Tables with Distributed engine do not store any data of their
  own, but allow distributed query processing on multiple servers. Reading is automatically
  parallelized"; ``CREATE TABLE t ON CLUSTER c AS local ENGINE = Distributed(cluster, database,
  table[, sharding_key])`` adopts the local table's columns (ClickHouse docs, Table engines >
  Special > Distributed, clickhouse.com/docs/engines/table-engines/special/distributed).
- materialized views ``ON CLUSTER`` from a ``_local`` table to a ``_local`` table: a view is an
  insert trigger, "every time rows are inserted into the source table, the MV's SELECT query runs
  on the newly inserted block and inserts the result into the target table" (docs, Quickstarts >
  Create your first materialized view), so on each shard it sees the blocks the Distributed table
  forwarded to that shard's local raw table and writes that shard's rollup rows. A rollup is
  therefore per shard, fed by its own view; the view runs where the block was inserted, and its
  target being a Replicated table is what brings the rollup rows to the shard's other replicas.

"By default, the CREATE, DROP, ALTER, and RENAME queries affect only the current server where they
are executed. In a cluster setup, it is possible to run such queries in a distributed manner with
the ON CLUSTER clause" (ClickHouse docs, SQL reference > Distributed DDL,
clickhouse.com/docs/sql-reference/distributed-ddl). Lightweight deletes take it too:
``DELETE FROM [db.]table [ON CLUSTER cluster] WHERE expr`` (docs, Statements > DELETE), and they
work on MergeTree tables, not on a Distributed one, so a delete goes to ``<table>_local``.
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics.errors import SourceError

# ZooKeeper (Keeper) path and replica name of every local table. {shard} and {replica} are the
# server's <macros>; {database} and {table} make the path readable in Keeper; {uuid} is the
# table's UUID, so a table dropped and created again gets a new path instead of "replica already
# exists" while the old one is still being removed (Atomic databases drop tables late). {uuid}
# needs every replica to share the table's UUID, which ON CLUSTER ensures (docs, Database engines >
# Replicated: "If zoo_path contains macro {uuid}, it is required to specify explicit UUID or add ON
# CLUSTER"; the server's own default_replica_path is '/clickhouse/tables/{uuid}/{shard}').
ZOOKEEPER_PATH = "/clickhouse/tables/{shard}/{database}/{table}/{uuid}"
REPLICA_NAME = "{replica}"
LOCAL_SUFFIX = "_local"


@dataclass(frozen=True)
class Engine:
    """A MergeTree-family engine: its name, its own arguments, and the clauses after it."""

    family: str  # "MergeTree", "AggregatingMergeTree", "ReplacingMergeTree", ...
    args: str = ""  # e.g. "updated_at" for ReplacingMergeTree(updated_at)
    clauses: str = ""  # " PARTITION BY ... ORDER BY ...", with its leading space or newline

    def single(self) -> str:
        return f"{self.family}{f'({self.args})' if self.args else ''}{self.clauses}"

    def replicated(self) -> str:
        args = ", ".join(filter(None, [f"'{ZOOKEEPER_PATH}'", f"'{REPLICA_NAME}'", self.args]))
        return f"Replicated{self.family}({args}){self.clauses}"


# A stage (journal) or any table copied from another on a cluster: rows kept as inserted.
COPY_ENGINE = Engine("MergeTree", "", " ORDER BY tuple()")


@dataclass(frozen=True)
class Layout:
    """Where tables live: one node (cluster '') or a named cluster of a database."""

    cluster: str = ""
    database: str = ""  # the Distributed tables' database (a literal: see distributed())

    @property
    def clustered(self) -> bool:
        return bool(self.cluster)

    @property
    def on(self) -> str:
        """The ON CLUSTER clause, or nothing on one node."""
        return f" ON CLUSTER {self.cluster}" if self.cluster else ""

    def local(self, table: str) -> str:
        """The table holding the rows: `table` itself on one node, `table`_local on a cluster."""
        return f"{table}{LOCAL_SUFFIX}" if self.cluster else table

    def distributed(self, table: str, shard_by: str) -> str:
        """The Distributed table `table` over `table`_local.

        The database is written as a literal: an ON CLUSTER statement runs on the other hosts in
        the server's own context, where currentDatabase() need not be the app's database.
        """
        return (f"CREATE TABLE IF NOT EXISTS {table}{self.on} AS {self.local(table)}\n"
                f"ENGINE = Distributed({self.cluster}, '{self.database}', {self.local(table)}, {shard_by})")

    def create_table(self, table: str, columns: str, engine: Engine, shard_by: str) -> list[str]:
        """CREATE statements of a table: one on one node, its local table and Distributed table on a
        cluster. `columns` is the column list as written inside the parentheses."""
        head = f"CREATE TABLE IF NOT EXISTS {self.local(table)}{self.on} (\n    {columns}\n) ENGINE = "
        if not self.cluster:
            return [head + engine.single()]
        return [head + engine.replicated(), self.distributed(table, shard_by)]

    def copy_table(self, table: str, like: str, shard_by: str = "rand()") -> list[str]:
        """A table with the columns of `like`: on one node a copy of it, engine included; on a
        cluster a Replicated local copy (never `like`'s own engine, whose Keeper path would make it
        a replica of `like`) and a Distributed table over it."""
        if not self.cluster:
            return [f"CREATE TABLE IF NOT EXISTS {table} AS {like}"]
        return [f"CREATE TABLE IF NOT EXISTS {self.local(table)}{self.on} AS {self.local(like)}\n"
                f"ENGINE = {COPY_ENGINE.replicated()}", self.distributed(table, shard_by)]

    def materialized_view(self, view: str, target: str, select: str) -> str:
        """A materialized view writing `select` into `target` (names as given: callers pass
        local() names for per-shard views)."""
        return f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view}{self.on} TO {target} AS\n{select}"

    def drop(self, kind: str, name: str) -> str:
        """DROP a TABLE or VIEW by its exact name (on a cluster, a table and its local table are
        two names: drop both)."""
        return f"DROP {kind} IF EXISTS {name}{self.on} SYNC"

    def add_column(self, table: str, column: str) -> list[str]:
        """ALTER ... ADD COLUMN: the local table first, then the Distributed table reading it."""
        tables = [self.local(table), table] if self.cluster else [table]
        return [f"ALTER TABLE {t}{self.on} ADD COLUMN IF NOT EXISTS {column}" for t in tables]

    def delete(self, table: str, where: str) -> str:
        """A lightweight DELETE of the rows matching `where`, on every shard."""
        return f"DELETE FROM {self.local(table)}{self.on} WHERE {where}"


SINGLE = Layout()


def layout_of(store) -> Layout:
    """The layout of a store: SINGLE, or its cluster in its current database (asked once)."""
    if not store.cluster:
        return SINGLE
    if store.layout is None:
        found = store.query("SELECT currentDatabase() AS db, (SELECT count() FROM system.clusters "
                            "WHERE cluster = {c:String}) AS hosts", {"c": store.cluster})
        if not found.item(0, "hosts"):
            raise SourceError(f"{store.target}: no cluster {store.cluster!r} on this server (system.clusters); "
                              "fix cluster= in the DSN or secrets, or remove it for a single server")
        store.layout = Layout(store.cluster, found.item(0, "db"))
    return store.layout
