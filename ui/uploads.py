"""The Data page's upload: validate, offer to move an old trace to the present, load, say what changed.

Fresh numbers after a load: every st.cache_data entry of this server process is dropped
(ui.traffic.clear: the loaders of every page, which all sessions share) and the page reruns, so
its sidebar (data range, request count, filter choices) and tables are drawn from the new data
and every other page and session reads it on its next run. A data-version token in every cache
key (the newest load in the ingest journal) was the alternative: it costs a query on every run
of every page and a parameter on every loader, and still misses telemetry that collectors
insert without our loader. Another server process on the same ClickHouse sees a load within
the loaders' TTL (60 s), as it sees any other insert.
"""

from __future__ import annotations

import os
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import streamlit as st

from analytics.errors import SourceError
from analytics.ingest import files as ingest
from analytics.ingest.load import Loaded, load_files, scan, shift_to
from analytics.store import queries
from analytics.times import parse_time
from ui import traffic as data
from ui.connection import get_store
from ui.format import text
from ui.page import ROOT, Filters, show_dates

OLD = timedelta(days=7)  # newest row older than the default view (the last 7 days): offer to move the trace
PENDING = "upload_pending"  # session state: an old trace awaiting the user's answer (Pending)
OUTCOME = "upload_outcome"  # session state: what the last load changed (Outcome), shown after the rerun
ROUND = "upload_round"  # session state: bumped after each load so the file picker starts empty
MAX_NAME_BYTES = 120  # an uploaded file's name as stored and shown (file systems allow 255 bytes)
CONCURRENT_UPLOADS = 1  # validations or loads at once in this server process: each may take a row group of memory
QUEUE_WAIT_S = 60  # how long an upload waits for the one before it
_running = threading.BoundedSemaphore(CONCURRENT_UPLOADS)


@dataclass(frozen=True)
class Choice:
    """The form's settings for one upload."""

    fmt: str
    deployment: str | None
    start: datetime | None


@dataclass(frozen=True)
class Pending:
    """Validated files whose data ends long ago, waiting for "move" or "as recorded"."""

    choice: Choice
    signature: tuple[str, ...]  # the picked files' ids: another pick cancels the question
    scanned: tuple[Loaded, ...]


@dataclass(frozen=True)
class Outcome:
    """What one load changed."""

    files: tuple[tuple[str, Loaded], ...]  # (file name as uploaded, what it put where)
    shift: timedelta
    new: tuple[str, ...]  # deployments the store did not hold before
    known: tuple[str, ...]
    before: tuple[datetime, datetime, int] | None  # queries.data_range before and after
    after: tuple[datetime, datetime, int] | None

    @property
    def first(self) -> datetime:
        return min(item.first for _, item in self.files if item.first is not None)

    @property
    def last(self) -> datetime:
        return max(item.last for _, item in self.files if item.last is not None)


def _signature(files) -> tuple[str, ...]:
    return tuple(f.file_id for f in files)


def safe_name(uploaded: str) -> str:
    """An uploaded file's name as it is stored and shown: its last path part, control characters
    (NUL included) as "?", at most MAX_NAME_BYTES of UTF-8 with the suffix kept ("..." marks a cut)."""
    name = "".join("?" if unicodedata.category(c) == "Cc" else c for c in uploaded.replace("\\", "/"))
    name = Path(name).name.strip() or "upload"
    if name in (".", ".."):
        name = "upload"
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    suffix = Path(name).suffix if len(Path(name).suffix.encode()) <= 16 else ""
    stem = name.removesuffix(suffix).encode()[:MAX_NAME_BYTES - len(suffix.encode()) - 3]
    return stem.decode("utf-8", "ignore") + "..." + suffix


@contextmanager
def _on_disk(files) -> Iterator[tuple[list[Path], Callable[[Path], str], Callable[[str], str]]]:
    """The uploads written to a temporary folder, one sub-folder per file (two uploads with the
    same name never overwrite each other); yields the paths, each path's name as uploaded, and
    a function removing server paths from a message."""
    with tempfile.TemporaryDirectory() as folder:
        paths, names = [], {}
        repeated = len({safe_name(f.name) for f in files}) < len(files)
        for number, upload in enumerate(files, 1):
            name = safe_name(upload.name)
            path = Path(folder) / str(number) / name
            path.parent.mkdir()
            path.write_bytes(upload.getvalue())
            paths.append(path)
            names[str(number)] = f"{name} (file {number})" if repeated else name

        def clean(message: str) -> str:
            """An error as the user knows the files: no server path (the temporary folder, in
            any spelling, or the project's), each file by its uploaded name."""
            for spelling in {folder, os.path.realpath(folder)}:
                for path in paths:
                    message = message.replace(f"{spelling}/{path.parent.name}/{path.name}", names[path.parent.name])
                message = message.replace(spelling, "<upload>")
            return message.replace(str(ROOT), "<project>")

        yield paths, lambda path: names[Path(path).parent.name], clean


def _attempt(files, step: Callable[[list[Path]], list[Loaded]]) -> tuple[tuple[str, Loaded], ...] | None:
    """Run a scan or a load over the uploads, one upload at a time in this process (each may hold
    a Parquet row group in memory); on bad input or a store failure, say so in one line."""
    if not _running.acquire(blocking=False):
        with st.spinner("Waiting for another upload to finish..."):
            if not _running.acquire(timeout=QUEUE_WAIT_S):
                st.error(f"Another upload has been running for over {QUEUE_WAIT_S} s; try again when it is done.")
                return None
    try:
        with _on_disk(files) as (paths, name_of, clean):
            try:
                return tuple((name_of(item.path), item) for item in step(paths))
            except ValueError as exc:  # InputError: file, row and column
                st.error(text(clean(str(exc))))
            except SourceError as exc:
                st.error(f"The store refused the rows: {text(clean(str(exc)))}")
    except OSError as exc:  # writing the upload to the server's temporary folder
        st.error(f"The server could not store the upload ({text(exc.strerror or type(exc).__name__)}).")
    finally:
        _running.release()
    return None


def _validate(files, choice: Choice) -> None:
    """Check every file; load at once, unless the data ends long ago: then ask (Pending)."""
    scanned = _attempt(files, lambda paths: scan(paths, choice.fmt, choice.deployment, choice.start))
    if scanned is None:
        return
    items = tuple(item for _, item in scanned)
    if shift_to(items, datetime.now(UTC)) >= OLD:
        st.session_state[PENDING] = Pending(choice, _signature(files), items)
    else:
        _load(files, choice, timedelta(0))


def _load(files, choice: Choice, shift: timedelta) -> None:
    """Load all or nothing, drop every cached query, remember what changed and rerun the page."""
    store = get_store()
    seen = {}

    def step(paths: list[Path]) -> list[Loaded]:
        seen["before"], seen["known"] = queries.data_range(store), set(queries.deployment_names(store))
        loaded = load_files(store, paths, choice.fmt, choice.deployment, choice.start, shift)
        seen["after"] = queries.data_range(store)
        return loaded

    loaded = _attempt(files, step)
    st.session_state.pop(PENDING, None)
    if loaded is None:
        return
    data.clear()
    names = {name for _, item in loaded for name in item.deployments}
    st.session_state[OUTCOME] = Outcome(loaded, shift, tuple(sorted(names - seen["known"])),
                                        tuple(sorted(names & seen["known"])), seen["before"], seen["after"])
    st.session_state[ROUND] = st.session_state.get(ROUND, 0) + 1
    st.rerun()


def _span(first: datetime, last: datetime) -> str:
    return f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"


def _offer(files, pending: Pending) -> None:
    """Ask whether to move an old trace so it ends now, or load it as recorded."""
    if _signature(files) != pending.signature:  # other files picked since: ask again on submit
        st.session_state.pop(PENDING, None)
        return
    now = datetime.now(UTC)
    shift = shift_to(pending.scanned, now)
    first = min(item.first for item in pending.scanned if item.first is not None)
    last = max(item.last for item in pending.scanned if item.last is not None)
    st.warning(
        f"These files hold data from {_span(first, last)}, which ended {(now - last).days:,} days ago: "
        f"as recorded it lies outside the recent view. Moved {shift.days:,} days later, its newest row "
        "falls in the last day and every row keeps its hour of the day."
    )
    with st.container(horizontal=True):
        move = st.button(f"Move {shift.days:,} days later and load", type="primary", key="upload_shift")
        as_recorded = st.button("Load as recorded", key="upload_as_recorded")
        cancel = st.button("Cancel", key="upload_cancel")
    if move or as_recorded:
        _load(files, pending.choice, shift if move else timedelta(0))
    elif cancel:
        st.session_state.pop(PENDING, None)
        st.rerun()


def _rows(count: int) -> str:
    return f"{count:,} row" + ("" if count == 1 else "s")


def _report(outcome: Outcome, filters: Filters) -> None:
    """What the last load changed, and where its data lies when the sidebar's filters hide it."""
    per_table: dict[str, int] = {}
    for _, item in outcome.files:
        per_table[item.table] = per_table.get(item.table, 0) + item.rows
    moved = f", moved {outcome.shift.days:,} days later" if outcome.shift else ""
    st.success("Loaded " + ", ".join(f"{_rows(rows)} into {table}" for table, rows in per_table.items()) + moved)
    lines = [f"- {text(name)}: {_rows(item.rows)} into {item.table}"
             + (f", {_span(item.first, item.last)}" if item.first else "") for name, item in outcome.files]
    if outcome.new:
        lines.append(f"- New deployments ({len(outcome.new)}): {text(', '.join(outcome.new))}")
    if outcome.known:
        lines.append(f"- Existing deployments ({len(outcome.known)}): {text(', '.join(outcome.known))}")
    if outcome.after:
        start, end, requests = outcome.after
        was = (f"before: {_span(*outcome.before[:2])}, {outcome.before[2]:,} requests" if outcome.before
               else "before: none")
        lines.append(f"- Stored requests now: {_span(start, end)}, {requests:,} requests ({was})")
    st.markdown("\n".join(lines))
    if not any(item.first for _, item in outcome.files):  # no rows with times (none, or deployments only)
        return
    first, last = outcome.first, outcome.last
    if last < filters.start or first >= filters.end:
        st.info(f"The new rows span {_span(first, last)}, outside the time range in the sidebar "
                f"({_span(filters.start, filters.end)}).")
        low = max(first.date(), filters.data_start.date())
        high = min(last.date(), filters.data_end.date())
        if low <= high:  # GPU rows beyond the request data cannot be chosen as dates
            st.button(f"Show {low} to {high}" if low != high else f"Show {low}", key="upload_show_dates",
                      on_click=show_dates, args=(low, high))
    names = {name for _, item in outcome.files for name in item.deployments}
    if filters.deployments and not names & set(filters.deployments):
        st.info("The deployments chosen in the sidebar do not include the new rows' "
                f"({text(', '.join(sorted(names)))}).")


def section(filters: Filters) -> None:
    """The upload form, the question about an old trace, and what the last load changed."""
    st.subheader("Upload telemetry")
    st.caption("Files are validated completely before anything is written: a bad file loads nothing "
               "and the error names the file, row and column. A deployments file (CSV or YAML: deployment, "
               "gpu_type, gpus, cost_per_gpu_hour) says what each deployment runs on; its header tells it apart.")
    with st.form("upload"):
        files = st.file_uploader("Files", accept_multiple_files=True,
                                 type=["csv", "parquet", "json", "jsonl", "yaml", "yml"],
                                 key=f"upload_files_{st.session_state.get(ROUND, 0)}")
        fmt = st.selectbox("Format", ingest.FORMATS, key="upload_format", help=ingest.__doc__)
        deployment = st.text_input("Deployment name (optional; default: the file name)", key="upload_deployment")
        start_text = st.text_input("Trace start, ISO time UTC (relative-time traces)", key="upload_start",
                                   placeholder="2024-01-01T00:00:00Z")
        submitted = st.form_submit_button("Validate and load")
    if submitted:
        st.session_state.pop(PENDING, None)
        st.session_state.pop(OUTCOME, None)
        if not files:
            st.warning("Choose at least one file.")
            return
        try:
            start = parse_time(start_text, "trace start") if start_text.strip() else None
        except ValueError as exc:
            st.error(text(exc))
            return
        _validate(files, Choice(fmt, deployment.strip() or None, start))
    if PENDING in st.session_state:
        _offer(files, st.session_state[PENDING])
    if OUTCOME in st.session_state:
        _report(st.session_state[OUTCOME], filters)
