"""Load telemetry all or nothing: every file (or frame) is staged first, then all are published.

A load is journaled (analytics.store.journal): a kill -9 at any moment leaves raw and rollup
tables with either all of it or none of it, once the store is next opened. Deployments files
(analytics.ingest.deployments) are written in one block once every file of the load has passed,
just before the telemetry is published: their rows replace rather than add, so a load retried
after a kill gives the same tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from analytics.errors import SourceError
from analytics.ingest import deployments as deployments_file
from analytics.ingest.files import Source, open_file
from analytics.store import conventions, journal
from analytics.store.client import Store
from analytics.store.schema import ROLLUPS

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Loaded:
    """What one file (or frame stream) put into a table: rows, the first and last row time
    (None without rows) and the deployments named in it."""

    path: Path | str
    table: str
    rows: int
    first: datetime | None = None
    last: datetime | None = None
    deployments: tuple[str, ...] = ()


class Load:
    """A load in progress: chunks go to the load's stages; nothing is visible before publishing."""

    def __init__(self, store: Store, load_id: str):
        self.store = store
        self.load_id = load_id
        self.stages: dict[str, journal.Stage] = {}  # raw table -> its stage
        self._chunks = 0

    def add(self, table: str, frame: pl.DataFrame) -> None:
        """Stage a validated frame whose columns are named like `table`'s (the same columns every time)."""
        if frame.is_empty():
            return
        if table not in self.stages:
            self.stages[table] = journal.stage(self.store, self.load_id, table, tuple(frame.columns))
        stage = self.stages[table]
        if tuple(frame.columns) != stage.columns:
            frame = frame.select(stage.columns)  # same columns, another order
        self._chunks += 1
        journal.stage_chunk(self.store, stage, frame, self._chunks)

    def stage_table(self, table: str, columns: tuple[str, ...]) -> str:
        """A staging table for `table` that SQL fills (INSERT ... SELECT of `columns`); its name."""
        if table in self.stages:
            raise ValueError(f"{table} is already staged in this load")
        self.stages[table] = journal.stage(self.store, self.load_id, table, columns, table=True)
        return self.stages[table].name


@contextmanager
def loading(store: Store, files: list[str]) -> Iterator[Load]:
    """Stage inside the block; on a clean exit publish everything, on an error roll all of it back."""
    load = Load(store, journal.begin(store, files))
    try:
        yield load
        journal.publish(store, load.load_id, load.stages, files)
    except BaseException:
        try:
            journal.rollback(store, load.load_id, ROLLUPS)
        except SourceError:  # the store failed mid-rollback: the next open finishes it
            pass
        raise


def _read(source: Source, shift: timedelta, sink: Callable[[pl.DataFrame], None]) -> Loaded:
    """Pass every validated chunk of `source`, its times moved by `shift`, to `sink`, and
    summarise what passed."""
    rows, first, last, names = 0, None, None, set()
    timed = source.table != conventions.DEPLOYMENTS  # the deployments table has no row times
    for chunk in source.chunks():
        if shift and timed:
            chunk = chunk.with_columns(pl.col("ts") + shift)
        sink(chunk)
        if chunk.height:
            rows += chunk.height
            if timed:
                low, high = chunk["ts"].min(), chunk["ts"].max()
                first, last = min(first or low, low), max(last or high, high)
            names.update(chunk["deployment"].unique().to_list())
    return Loaded(source.path, source.table, rows, first, last, tuple(sorted(names)))


def scan(paths: Iterable[Path | str], fmt: str | None = None, deployment: str | None = None,
         start: datetime | None = None) -> list[Loaded]:
    """Validate every file completely and say what it holds (rows, time span, deployments);
    nothing is written. Raises InputError like load_files."""
    return [_read(open_file(Path(p), fmt, deployment, start), timedelta(0), lambda chunk: None) for p in paths]


def shift_to(scanned: Iterable[Loaded], now: datetime) -> timedelta:
    """The shift that moves the newest row of an old trace into the day before `now` (0 when it
    is already there): whole days, so every row keeps its hour of day, the strongest
    seasonality of serving traffic (forecasts and right-sizing read hours of day); one shift
    for all files, so files of one upload stay aligned."""
    last = max((item.last for item in scanned if item.last is not None), default=None)
    if last is None or last > now:
        return timedelta(0)
    return (now - last) // DAY * DAY


def load_files(store: Store, paths: Iterable[Path | str], fmt: str | None = None,
               deployment: str | None = None, start: datetime | None = None,
               shift: timedelta = timedelta(0)) -> list[Loaded]:
    """Validate and stage every file, then publish them all; any invalid file means nothing is written.

    `shift` moves every row time (shift_to: an old trace placed to end now)."""
    sources = [open_file(Path(p), fmt, deployment, start) for p in paths]
    with loading(store, [str(s.path) for s in sources]) as load:
        deployments: list[pl.DataFrame] = []
        loaded = [_read(source, shift, deployments.append if source.table == conventions.DEPLOYMENTS
                        else lambda chunk, table=source.table: load.add(table, chunk))
                  for source in sources]
        if deployments:
            deployments_file.replace(store, deployments, f"{load.load_id}_deployments")
        return loaded


def load_frames(store: Store, table: str, frames: Iterable[pl.DataFrame], label: str) -> Loaded:
    """Load in-memory frames (columns named like `table`'s) all or nothing; `label` names them in the journal."""
    rows = 0
    with loading(store, [label]) as load:
        for frame in frames:
            load.add(table, frame)
            rows += frame.height
    return Loaded(label, table, rows)
