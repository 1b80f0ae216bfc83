"""Load telemetry all or nothing: every file (or frame) is staged first, then all are published.

A load is journaled (analytics.store.journal): a kill -9 at any moment leaves raw and rollup
tables with either all of it or none of it, once the store is next opened.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from analytics.errors import SourceError
from analytics.ingest.files import open_file
from analytics.store import journal
from analytics.store.client import Store
from analytics.store.schema import ROLLUPS


@dataclass(frozen=True)
class Loaded:
    """What one file (or frame stream) put into a table."""

    path: Path | str
    table: str
    rows: int


class Load:
    """A load in progress: chunks go to staging tables; nothing is visible before publishing."""

    def __init__(self, store: Store, load_id: str):
        self.store = store
        self.load_id = load_id
        self.stages: dict[str, str] = {}  # raw table -> staging table
        self._chunks = 0

    def add(self, table: str, frame: pl.DataFrame) -> None:
        """Stage a validated frame whose columns are named like `table`'s."""
        if frame.is_empty():
            return
        self._chunks += 1
        journal.insert_chunk(self.store, self.stage(table), frame, f"{self.stages[table]}_{self._chunks}")

    def stage(self, table: str) -> str:
        """The load's staging table for `table` (created on first use), for INSERT ... SELECT loads."""
        if table not in self.stages:
            self.stages[table] = journal.stage_table(self.store, self.load_id, table)
        return self.stages[table]


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


def load_files(store: Store, paths: Iterable[Path | str], fmt: str | None = None,
               deployment: str | None = None, start: datetime | None = None) -> list[Loaded]:
    """Validate and stage every file, then publish them all; any invalid file means nothing is written."""
    sources = [open_file(Path(p), fmt, deployment, start) for p in paths]
    loaded = []
    with loading(store, [str(s.path) for s in sources]) as load:
        for source in sources:
            rows = 0
            for chunk in source.chunks():
                load.add(source.table, chunk)
                rows += chunk.height
            loaded.append(Loaded(source.path, source.table, rows))
    return loaded


def load_frames(store: Store, table: str, frames: Iterable[pl.DataFrame], label: str) -> Loaded:
    """Load in-memory frames (columns named like `table`'s) all or nothing; `label` names them in the journal."""
    rows = 0
    with loading(store, [label]) as load:
        for frame in frames:
            load.add(table, frame)
            rows += frame.height
    return Loaded(label, table, rows)
