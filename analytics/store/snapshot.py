"""Read an embedded store another process holds (a running dashboard) through a hard-link snapshot.

chDB admits one process per store folder: its engine holds an exclusive flock on the folder's
``status`` file (and writes its PID there). A second process can still read a consistent copy:

- MergeTree part folders are immutable once committed (a merge or mutation writes a new part and
  removes the old one later), so their files are hard-linked: no data is copied;
- everything outside a part (table metadata, ``format_version.txt``, mutation entries, the
  relative symlinks of ``data/`` and ``metadata/``) is small and copied; ``status`` and ``tmp``
  belong to the running engine and are left out (a link to ``status`` would share its locked
  inode), as are parts still being written (``tmp*`` folders) and the ingest staging folder;
- the ingest journal's table is copied first: a load the copied journal calls ``done`` had
  committed every part before that row was written, so its parts are in the copy; a load still
  open there is rolled back in the copy when it is opened (analytics.store.journal.recover), like
  the load of a killed process.

A part removed while it is linked (an old part after a merge) restarts the copy. The snapshot is
a sibling folder of the store (hard links need one filesystem), removed after use; one a killed
process left behind is removed by the next snapshot of that store.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from analytics.store.journal import JOURNAL, STAGING_FOLDER

STATUS_FILE = "status"  # chDB's lock file; "PID: <pid>" on its first line
ENGINE_OWNED = {STATUS_FILE, "tmp", STAGING_FOLDER}  # top-level entries a snapshot leaves out
PART_MARKER = "checksums.txt"  # every committed MergeTree part folder holds one
UNCOMMITTED_PREFIXES = ("tmp", "delete_tmp")  # parts being written or removed
SNAPSHOT_TAG = ".snapshot-"  # <store>.snapshot-<pid>-<random>, beside the store
COMMAND_CHARS = 120  # of a holder's command line, in messages
ATTEMPTS = 3  # copies restarted when a part vanished while it was linked


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
    line = " ".join([os.path.basename(words[0]), *words[1:]]) if words else ""
    return " ".join(line.split())[:COMMAND_CHARS]  # one line, whatever the arguments hold


@contextlib.contextmanager
def snapshot(folder: Path) -> Iterator[Path]:
    """A consistent copy of the embedded store in `folder`, usable while another process holds it;
    removed when the block ends."""
    _remove_abandoned(folder)
    for attempt in range(ATTEMPTS):
        target = Path(tempfile.mkdtemp(prefix=f"{folder.name}{SNAPSHOT_TAG}{os.getpid()}-", dir=folder.parent))
        try:
            _copy_store(folder, target)
            break
        except FileNotFoundError:  # a part removed mid-copy: its replacement is committed, copy again
            shutil.rmtree(target, ignore_errors=True)
            if attempt == ATTEMPTS - 1:
                raise
    try:
        yield target
    finally:
        shutil.rmtree(target, ignore_errors=True)


def _remove_abandoned(folder: Path) -> None:
    """Remove this store's snapshots whose process is gone (killed before it removed them)."""
    for path in folder.parent.glob(f"{glob.escape(folder.name)}{SNAPSHOT_TAG}*"):
        pid = path.name.removeprefix(f"{folder.name}{SNAPSHOT_TAG}").split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)


def _copy_store(source: Path, target: Path) -> None:
    """The journal's table folder first, then the rest of the store (see the module docstring)."""
    source = source.resolve()
    journal = (source / "data" / "default" / JOURNAL).resolve()
    done: set[Path] = set()
    if journal.is_dir() and journal.is_relative_to(source):
        _copy_tree(journal, target / journal.relative_to(source), done)
    for entry in sorted(source.iterdir()):
        if entry.name not in ENGINE_OWNED:
            _copy_entry(entry, target / entry.name, done)


def _copy_entry(source: Path, target: Path, done: set[Path]) -> None:
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
    elif source.is_dir():
        _copy_tree(source, target, done)
    else:
        shutil.copy2(source, target)


def _copy_tree(source: Path, target: Path, done: set[Path]) -> None:
    """Copy a folder: committed parts as hard links, anything else as a copy, uncommitted parts not at all."""
    if source in done:
        return
    done.add(source)
    if (source / PART_MARKER).exists():
        _link_tree(source, target)
        return
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(source.iterdir()):
        if entry.is_dir() and not entry.is_symlink() and entry.name.startswith(UNCOMMITTED_PREFIXES):
            continue
        _copy_entry(entry, target / entry.name, done)


def _link_tree(source: Path, target: Path) -> None:
    """Hard-link every file of a committed part (projections are sub-folders); a file or folder
    that vanished meanwhile raises FileNotFoundError."""
    target.mkdir()
    for entry in os.scandir(source):
        if entry.is_dir(follow_symlinks=False):
            _link_tree(Path(entry.path), target / entry.name)
        else:
            os.link(entry.path, target / entry.name)
