"""All-or-nothing loads: staging tables, the ingest journal, publishing and recovery.

ClickHouse has no multi-statement transaction, and a large INSERT commits block by block, each
block pushed through the materialized views on its own: a process killed mid-insert leaves part
of a file in the raw table and a different part in the rollups. So a load goes:

1. journal row ``staging``; every validated chunk goes to the load's stage, where no view reads
   it and nothing is visible: on the embedded engine an LZ4 Arrow file in a folder of the
   store's own, on a server a staging table (``CREATE TABLE ... AS`` the raw table);
2. once every file is staged: one journal ``scope`` row per raw table (rows, deployments,
   min/max ts), then the load row ``publishing``;
3. ``INSERT INTO raw SELECT ..., load_id FROM`` the stage (PUBLISH_FILES files at a time): the
   views fill the rollups;
4. the load row ``done``; the stage is removed.

Each journal write is one small single-block INSERT, so it is atomic. A load that is not
``done`` when its process died is rolled back on the next open (``recover``): its raw rows are
deleted by ``load_id`` and the rollup rows it may have touched (its deployments, in the slots
between its first and last ts) are rebuilt from raw with the view's own SELECT. Every step is
idempotent, so a kill during recovery is recovered on the open after. Staging tables and files
of dead loads are removed then too.

Why files on the embedded engine: a staging MergeTree sorts, compresses and writes every row once
more before publishing copies it again (measured: 1.2 CPU-s per million request rows), while an
LZ4 Arrow file costs 0.3 to write and ~0.5 more to publish from than a table (the raw insert
then builds the LowCardinality dictionaries): a load costs ~0.4 CPU-s per million rows less
(docs/bench.md, "Ingest speed"; ``python -m analytics bench --only ingest``).
clickhouse-connect's own chDB insert is not used either: it writes each insert to a
NamedTemporaryFile in the system temp folder and deletes it only on a clean return, so a killed
process left it behind (252 MB for a 2M-row file); ours are deleted by the next open.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.ipc

from analytics.store.client import Store
from analytics.store.ddl import SINGLE, Engine, Layout, layout_of

JOURNAL = "ingest_journal"
LOAD_ID = "load_id"  # column of every raw table: the load that wrote the row ('' before journaling)
STAGE_PREFIX = "ingest_stage_"
STAGING_FOLDER = "ingest-staging"  # inside the embedded store's folder
PUBLISH_FILES = 4  # chunk files per publishing INSERT: 1M rows of a file load (250k-row chunks)

# Load states, in order; the journal keeps the row with the highest step per (load_id, table).
STAGING, PUBLISHING, DONE, ROLLED_BACK = "staging", "publishing", "done", "rolled_back"
STEP = {STAGING: 0, PUBLISHING: 1, DONE: 2, ROLLED_BACK: 2}
LOAD_ROW = ""  # the `table` value of a load's own row; scope rows name their raw table

# This process's loads carry this token: recovery never touches a load whose process is alive.
_PROCESS = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

JOURNAL_COLUMNS = """load_id String,
    table LowCardinality(String),
    state LowCardinality(String),
    step UInt8,
    owner String,
    files Array(String),
    rows UInt64,
    deployments Array(String),
    min_ts DateTime64(3, 'UTC'),
    max_ts DateTime64(3, 'UTC'),
    at DateTime64(3, 'UTC') DEFAULT now64(3)"""
# On a cluster one load's rows share a shard, so FINAL and argMax per load see all of them.
JOURNAL_SHARD_BY = "cityHash64(load_id)"


def journal_ddl(layout: Layout = SINGLE) -> list[str]:
    """CREATE statements of the journal (analytics.store.ddl: one node or a cluster)."""
    return layout.create_table(JOURNAL, JOURNAL_COLUMNS, Engine("ReplacingMergeTree", "step", " ORDER BY (load_id, table)"),
                               JOURNAL_SHARD_BY)


@dataclass(frozen=True)
class Rollup:
    """A rollup table, the raw table a materialized view feeds it from, and that view's SELECT."""

    raw: str
    table: str
    time_key: str  # the rollup's time column
    step_seconds: int  # its width: a raw ts belongs to the row floor(ts / step) * step
    select: str  # SELECT ..., without FROM, WHERE or GROUP BY
    group_by: str
    alias: str = ""  # of the raw table in FROM, e.g. " AS src"
    where: str = ""  # the raw rows the view reads ("": all)
    source_time: str = "ts"  # the raw table's time column

    @property
    def view(self) -> str:
        """Name of the materialized view."""
        return f"{self.table}_mv"

    def query(self, where: str = "", source: str = "") -> str:
        """The view's SELECT from raw (or `source`), optionally restricted to rows matching `where`."""
        conditions = " AND ".join(f"({c})" for c in (self.where, where) if c)
        return (f"{self.select}\nFROM {source or self.raw}{self.alias}\n{'WHERE ' + conditions if conditions else ''}"
                f"\nGROUP BY {self.group_by}")

    def view_ddl(self, layout: Layout = SINGLE) -> str:
        """CREATE statement of the materialized view: on a cluster, one per shard, from the local raw
        table into the local rollup (analytics.store.ddl)."""
        return layout.materialized_view(self.view, layout.local(self.table), self.query(source=layout.local(self.raw)))


def staging_folder(store: Store) -> Path | None:
    """Folder for chunk files of the embedded store (None for a server or an in-memory store)."""
    if store.target.engine != "chdb" or store.target.location == ":memory:":
        return None
    return Path(store.target.location) / STAGING_FOLDER


def _write(store: Store, load_id: str, table: str, state: str, **fields) -> None:
    """Append one journal row (a single-row insert: atomic)."""
    values = {"load_id": load_id, "table": table, "state": state, "step": STEP[state], "owner": _PROCESS,
              "files": [], **fields}
    names = ", ".join(values)
    types = {"step": "UInt8", "files": "Array(String)"}
    params = ", ".join(f"{{{k}:{types.get(k, 'String')}}}" for k in values)
    store.command(f"INSERT INTO {JOURNAL} ({names}) VALUES ({params})", values)


def begin(store: Store, files: list[str]) -> str:
    """Journal a new load of `files` and return its id."""
    load_id = uuid.uuid4().hex
    _write(store, load_id, LOAD_ROW, STAGING, files=files)
    return load_id


@dataclass(frozen=True)
class Stage:
    """Where a load keeps one raw table's validated rows until it publishes them."""

    raw: str
    name: str  # staging table, or file name prefix (embedded engine, chunks from Python)
    columns: tuple[str, ...]  # the staged columns, named like raw's
    table: bool  # a staging table (a server, or a stage filled by INSERT ... SELECT)


def _stage_files(folder: Path, name: str) -> Path:
    return folder / f"{name}_*.arrow"


def _stage_source(store: Store, stage: Stage) -> tuple[str, dict]:
    """FROM clause reading a whole stage, and its parameters."""
    if stage.table:
        return stage.name, {}
    folder = staging_folder(store)
    return "file({stage_files:String}, 'Arrow')", {"stage_files": str(_stage_files(folder, stage.name))}


def _stage_parts(store: Store, stage: Stage) -> list[tuple[str, dict]]:
    """FROM clauses reading a stage PUBLISH_FILES chunk files at a time (all of a staging table at once).

    One INSERT over every file of a large load held memory that grew with the load (measured:
    peak RSS +350 MiB over staging for 20 files of 250k rows, +40 MiB for 4 files).
    """
    if stage.table:
        return [(stage.name, {})]
    folder = staging_folder(store)
    files = sorted(p.name for p in folder.glob(_stage_files(folder, stage.name).name))
    return [("file({stage_files:String}, 'Arrow')",
             {"stage_files": str(folder / ("{" + ",".join(files[i:i + PUBLISH_FILES]) + "}"))})
            for i in range(0, len(files), PUBLISH_FILES)]


def stage(store: Store, load_id: str, raw: str, columns: tuple[str, ...], *, table: bool = False) -> Stage:
    """A new, empty stage of the load for `raw`: a table on a server, or with table=True (for
    INSERT ... SELECT), else chunk files that come with the chunks."""
    found = Stage(raw, f"{STAGE_PREFIX}{load_id}_{raw}", columns, table or staging_folder(store) is None)
    if found.table:
        for statement in layout_of(store).copy_table(found.name, raw):
            store.command(statement)
    return found


def stage_chunk(store: Store, stage: Stage, frame: pl.DataFrame, number: int) -> None:
    """Add a validated frame (stage.columns, in that order) to a stage as its `number`-th chunk."""
    if stage.table:
        store.insert(stage.name, frame)
        return
    folder = staging_folder(store)
    folder.mkdir(exist_ok=True)
    # LZ4: a fifth of the uncompressed size (30 vs 150 bytes per request row) for ~0.15 CPU-s
    # more per million rows (measured): the stage of a 50M-row file stays near 1.5 GB on disk.
    frame.write_ipc(folder / f"{stage.name}_{number:08d}.arrow", compression="lz4")


def insert_chunk(store: Store, table: str, frame: pl.DataFrame | pa.Table, name: str) -> None:
    """Insert a frame (columns named like the table's) at once, without leaving a file behind.

    An Arrow table is taken as well, for the types polars has not (a Map column).

    On the embedded engine the frame goes through `name`.arrow in the store's staging folder,
    deleted right after (and on the next open if the process dies first); a server gets it over
    HTTP, which writes no file.
    """
    folder = staging_folder(store)
    if folder is None:
        store.insert(table, frame)
        return
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.arrow"
    try:
        if isinstance(frame, pa.Table):
            with pa.ipc.new_file(path, frame.schema) as writer:
                writer.write_table(frame)
        else:
            frame.write_ipc(path, compression="uncompressed")  # fastest to write and read (measured)
        columns = ", ".join(frame.column_names if isinstance(frame, pa.Table) else frame.columns)
        store.command(f"INSERT INTO {table} ({columns}) SELECT * FROM file({{path:String}}, 'Arrow')",
                      {"path": str(path)})
    finally:
        path.unlink(missing_ok=True)


def publish(store: Store, load_id: str, stages: Mapping[str, Stage], files: list[str] | None = None) -> None:
    """Make a staged load visible: journal its scope, copy each stage into raw, mark it done.

    `stages` maps each raw table to its stage. A kill anywhere in here leaves the load
    'publishing' (or 'staging'), which the next open rolls back. `files` (as given to begin) is
    written again with each state: the journal keeps only a load's latest row once merged, and a
    done load's files say what was loaded (a backfill skips the batches it names).
    """
    for raw, found in stages.items():
        source, params = _stage_source(store, found)
        store.command(
            f"INSERT INTO {JOURNAL} (load_id, table, state, step, owner, rows, deployments, min_ts, max_ts) "
            f"SELECT {{id:String}}, {{raw:String}}, 'scope', {STEP[PUBLISHING]}, {{owner:String}}, count(), "
            f"groupUniqArray(deployment), min(ts), max(ts) FROM {source}",
            {"id": load_id, "raw": raw, "owner": _PROCESS, **params},
        )
    _write(store, load_id, LOAD_ROW, PUBLISHING, files=files or [])
    for raw, found in stages.items():
        columns = ", ".join(found.columns)
        for source, params in _stage_parts(store, found):
            store.command(f"INSERT INTO {raw} ({columns}, {LOAD_ID}) SELECT {columns}, {{id:String}} FROM {source}",
                          {"id": load_id, **params})
    _write(store, load_id, LOAD_ROW, DONE, files=files or [])
    drop_stages(store, load_id)


def drop_stages(store: Store, load_id: str = "") -> None:
    """Remove the stages (tables and files) of one load (every load's when load_id is '')."""
    names = store.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() AND startsWith(name, {p:String})",
        {"p": STAGE_PREFIX + load_id},
    )["name"]
    layout = layout_of(store)
    for name in names:  # on a cluster: the stage's Distributed and local tables
        store.command(layout.drop("TABLE", name))
    folder = staging_folder(store)
    if folder is not None and folder.exists():
        for path in folder.glob(f"{STAGE_PREFIX}{load_id}*.arrow"):
            path.unlink(missing_ok=True)


def rollback(store: Store, load_id: str, rollups: Mapping[str, Rollup]) -> None:
    """Undo a load that may be partly published: raw rows out, touched rollup rows rebuilt.

    `rollups`: any mapping whose values are the Rollups (a raw table may feed several).

    Idempotent: each statement gives the same result when run again after a kill.
    """
    scopes = store.query(
        f"SELECT table, deployments, toInt64(toUnixTimestamp(min_ts)) AS lo, "
        f"toInt64(toUnixTimestamp(max_ts)) AS hi FROM {JOURNAL} FINAL "
        f"WHERE load_id = {{id:String}} AND table != '' AND rows > 0",
        {"id": load_id},
    )
    layout = layout_of(store)
    for raw, deployments, lo, hi in scopes.iter_rows():
        store.command(layout.delete(raw, f"{LOAD_ID} = {{id:String}}"), {"id": load_id})
        rebuilt = {raw}
        for rollup in rollups.values():  # in order: a rollup fed by another rollup comes after it
            if rollup.raw in rebuilt:
                _rebuild(store, layout, rollup, deployments, lo, hi)
                rebuilt.add(rollup.table)
    drop_stages(store, load_id)
    _write(store, load_id, LOAD_ROW, ROLLED_BACK)


def _rebuild(store: Store, layout: Layout, rollup: Rollup, deployments: list[str], lo: int, hi: int) -> None:
    """Rebuild a rollup's rows of `deployments` between epoch seconds lo and hi from its source."""
    step = rollup.step_seconds
    params = {"deployments": deployments, "lo": lo - lo % step, "hi": hi - hi % step + step}
    # The rows the load's blocks may have reached: its deployments, in the rollup rows
    # covering its first to its last ts. Rebuilt from what its source holds now (a rollup fed by
    # another is rebuilt after it, over its own wider rows: rows its view added meanwhile go too).
    store.command(
        layout.delete(rollup.table, "deployment IN {deployments:Array(String)} "
                      f"AND {rollup.time_key} >= toDateTime64({{lo:Int64}}, 0, 'UTC') "
                      f"AND {rollup.time_key} < toDateTime64({{hi:Int64}}, 0, 'UTC')"),
        params,
    )
    store.command(
        f"INSERT INTO {rollup.table} "
        + rollup.query(f"deployment IN {{deployments:Array(String)}} "
                       f"AND {rollup.source_time} >= toDateTime64({{lo:Int64}}, 3, 'UTC') "
                       f"AND {rollup.source_time} < toDateTime64({{hi:Int64}}, 3, 'UTC')"),
        params,
    )


def _dead(owner: str, embedded: bool) -> bool:
    """Whether the process that owns a load is gone.

    The embedded engine admits one process per folder, so any other process's load is dead;
    on a server, only a load of a process of this host that no longer runs is known dead.
    """
    if owner == _PROCESS:
        return False
    if embedded:
        return True
    host, pid, _ = (owner.split(":") + ["", "", ""])[:3]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def recover(store: Store, rollups: Mapping[str, Rollup]) -> list[str]:
    """Roll back the loads of dead processes and remove their leftovers; return their load ids."""
    embedded = store.target.engine == "chdb"
    unfinished = store.query(
        f"SELECT load_id, argMax(state, step) AS state, argMax(owner, step) AS owner FROM {JOURNAL} "
        f"WHERE table = '' GROUP BY load_id HAVING state IN ({{open:Array(String)}}) ORDER BY load_id",
        {"open": [STAGING, PUBLISHING]},
    )
    dead = [load_id for load_id, _, owner in unfinished.iter_rows() if _dead(owner, embedded)]
    for load_id in dead:
        rollback(store, load_id, rollups)
    folder = staging_folder(store)
    if embedded and not unfinished.filter(pl.col("owner") == _PROCESS).height:
        drop_stages(store)  # orphans, e.g. of a process killed between CREATE and its journal row
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    return dead
