"""Read an embedded store another process holds (a running dashboard) through a hard-link snapshot.

chDB admits one process per store folder: its engine holds an exclusive flock on the folder's
``status`` file (and writes its PID there). A second process can still read a consistent copy:

- MergeTree part folders are immutable once committed (a merge or mutation writes a new part and
  removes the old one later), so their files are hard-linked: no data is copied;
- everything outside a part (table metadata, ``format_version.txt``, mutation entries, the
  relative symlinks of ``data/`` and ``metadata/``) is small and copied; ``status`` and ``tmp``
  belong to the running engine and are left out (a link to ``status`` would share its locked
  inode), as are parts still being written (``tmp*`` folders) and the ingest staging folder;
- no row may be inserted into the ingest journal while the copy is taken, else it is taken again
  (after a short wait, a few times): every step of a load writes a journal row first, so with no
  journal insert no load moved on during the copy (the engine's merges of the journal's parts do
  not count). A load ``done`` in it had committed every part before that row was written, so its
  rows are in the copy; one still staging has written nothing yet; one publishing is rolled back
  in the copy when the copy is opened (analytics.store.journal.recover, as after a crash), so a
  snapshot never holds half a file.

A part removed while it is linked (an old part after a merge) also restarts the copy. The
snapshot is a sibling folder of the store (hard links need one filesystem), removed after use;
one a killed process left behind is removed by the next snapshot of that store.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from analytics.errors import SourceError
from analytics.store.journal import JOURNAL, STAGING_FOLDER

STATUS_FILE = "status"  # chDB's lock file; "PID: <pid>" on its first line
ENGINE_OWNED = {STATUS_FILE, "tmp", STAGING_FOLDER}  # top-level entries a snapshot leaves out
PART_NAME = re.compile(r"_\d+_(\d+)_\d+(?:_\d+)?$")  # ..._<min block>_<max block>_<level>[_<mutation>]
PART_MARKER = "checksums.txt"  # every committed MergeTree part folder holds one
UNCOMMITTED_PREFIXES = ("tmp", "delete_tmp")  # parts being written or removed
SNAPSHOT_TAG = ".snapshot-"  # <store>.snapshot-<pid>-<random>, beside the store
COMMAND_CHARS = 60  # of a holder's command line, in messages
ATTEMPTS = 8  # copies taken before giving up on a store that changes under each
RETRY_WAIT_S = 0.2  # seconds before the next copy, times the attempt number


@dataclass(frozen=True)
class Holder:
    """The process that holds an embedded store."""

    pid: int | None
    command: str  # its command line, or '' when unknown

    def __str__(self) -> str:
        pid = f"pid {self.pid}" if self.pid else "unknown pid"
        return f"{self.command} ({pid})" if self.command else f"a process ({pid})"


def locked(path: Path) -> bool:
    """Whether a live process holds an flock on the file at `path` (False when it is absent)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)  # conflicts with the engine's LOCK_EX
        return False
    except OSError:
        return True
    finally:
        os.close(descriptor)  # closing releases a lock we took


def holder(folder: Path) -> Holder | None:
    """The other live process holding the embedded store in `folder`, or None when it is free or
    this process holds it (an flock taken through another descriptor conflicts even in one process)."""
    status = folder / STATUS_FILE
    if not locked(status):
        return None
    with contextlib.suppress(OSError):
        found = re.match(r"PID: (\d+)", status.read_text())
        if found:
            pid = int(found.group(1))
            return None if pid == os.getpid() else Holder(pid, _command_line(pid))
    return Holder(None, "")


def _command_line(pid: int) -> str:
    """A process's command line on one line, the interpreter's folder left out; '' when unreadable."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return ""
    words = [w for w in words if w]
    line = " ".join(" ".join([os.path.basename(words[0]), *words[1:]]).split()) if words else ""  # one line
    return line if len(line) <= COMMAND_CHARS else line[:COMMAND_CHARS].rsplit(" ", 1)[0] + " ..."


@contextlib.contextmanager
def snapshot(folder: Path) -> Iterator[Path]:
    """A consistent copy of the embedded store in `folder`, usable while another process holds it;
    removed when the block ends. A SourceError when the store kept changing under every attempt."""
    _remove_abandoned(folder)
    target = _take(folder.resolve())
    try:
        yield target
    finally:
        shutil.rmtree(target, ignore_errors=True)


def _take(source: Path) -> Path:
    """Copy the store until a copy is taken with its journal unchanged (see the module docstring)."""
    journal = _journal_folder(source)
    for attempt in range(ATTEMPTS):
        target = Path(tempfile.mkdtemp(prefix=f"{source.name}{SNAPSHOT_TAG}{os.getpid()}-", dir=source.parent))
        before = _last_block(journal)
        try:
            _copy_tree(source, target, top=True)
            if _last_block(journal) == before:
                return target
        except FileNotFoundError:  # a part removed mid-copy: copy again
            pass
        shutil.rmtree(target, ignore_errors=True)
        if attempt < ATTEMPTS - 1:
            time.sleep(RETRY_WAIT_S * (attempt + 1))
    raise SourceError(f"the embedded database {source} changed during each of {ATTEMPTS} snapshots "
                      "(a load is running?); try again when it ends")


def _journal_folder(source: Path) -> Path:
    """The ingest journal table's data folder (data/default/<table> links to it)."""
    return (source / "data" / "default" / JOURNAL).resolve()


def _last_block(folder: Path) -> int:
    """The highest block number among a MergeTree table's committed parts (0 without any).

    A part is named <partition>_<min block>_<max block>_<level>[_<mutation>] (ClickHouse,
    MergeTreePartInfo); every INSERT takes a new block number, while a merge or a mutation only
    covers numbers already there: the number moves exactly when rows were inserted.
    """
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return 0
    blocks = [int(found.group(1)) for name in names if not name.startswith(UNCOMMITTED_PREFIXES)
              and (found := PART_NAME.search(name))]
    return max(blocks, default=0)


def _remove_abandoned(folder: Path) -> None:
    """Remove this store's snapshots whose process is gone (killed before it removed them)."""
    for path in folder.parent.glob(f"{glob.escape(folder.name)}{SNAPSHOT_TAG}*"):
        pid = path.name.removeprefix(f"{folder.name}{SNAPSHOT_TAG}").split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)


def _copy_tree(source: Path, target: Path, top: bool = False) -> None:
    """Copy a folder: committed parts as hard links, uncommitted parts (and at the top, the
    engine's own entries) not at all, anything else as a copy, symlinks as symlinks."""
    if (source / PART_MARKER).exists():
        _link_tree(source, target)
        return
    target.mkdir(exist_ok=True)
    for entry in sorted(source.iterdir()):
        if top and entry.name in ENGINE_OWNED:
            continue
        if entry.is_symlink():
            os.symlink(os.readlink(entry), target / entry.name)
        elif entry.is_dir():
            if not entry.name.startswith(UNCOMMITTED_PREFIXES):
                _copy_tree(entry, target / entry.name)
        else:
            shutil.copy2(entry, target / entry.name)


def _link_tree(source: Path, target: Path) -> None:
    """Hard-link every file of a committed part (projections are sub-folders); a file or folder
    that vanished meanwhile raises FileNotFoundError."""
    target.mkdir()
    for entry in os.scandir(source):
        if entry.is_dir(follow_symlinks=False):
            _link_tree(Path(entry.path), target / entry.name)
        else:
            os.link(entry.path, target / entry.name)
