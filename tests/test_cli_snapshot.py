"""The command line while another process (the dashboard) holds the embedded store: read commands
give the same answers from a snapshot (analytics.store.snapshot), write commands refuse in one line
and write nothing. Real processes throughout: a store seeded by the CLI, a holder that opens it
and waits, and the commands run beside it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics.errors import SourceError
from analytics.store import snapshot as store_snapshot

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
WEEK = "2026-W43"
# Opens the store the way the dashboard does (schema check, recovery) and holds it until stdin closes.
HOLDER = ("import sys\nfrom analytics.store.schema import open_store\n"
          "store = open_store(sys.argv[1])\nprint('ready', flush=True)\nsys.stdin.read()\n")


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analytics", "--dsn", f"chdb://{db}", *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """A two-week demo store of its own (this test process holds the session's)."""
    folder = tmp_path_factory.mktemp("held") / "telemetry"
    seeded = _cli(folder, "demo", "--days", "14", "--requests", "40000", "--end", "2026-11-01T00:00:00Z",
                  "--scrape-seconds", "300", "--no-forecasts")
    assert seeded.returncode == 0, seeded.stderr
    return folder


@pytest.fixture
def held(db) -> Iterator[subprocess.Popen]:
    """Another process holding the store, as a running dashboard does."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, f"chdb://{db}"], cwd=ROOT, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout.readline().strip() == "ready", process.stderr.read()
        yield process
    finally:
        process.stdin.close()
        process.wait(timeout=60)


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file of a store but the engine's own lock and temp folder: path -> (size, mtime)."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")
            if p.is_file() and not p.is_symlink() and p.relative_to(folder).parts[0] not in ("status", "tmp")}


def _report_tables(out: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(out.glob("*.csv"))}


def test_slo_and_report_give_the_same_numbers_while_another_process_holds_the_store(db, tmp_path, request):
    alone_slo = _cli(db, "slo", "--json")
    alone_report = _cli(db, "report", "--week", WEEK, "--out", str(tmp_path / "alone"), "--no-cache")
    assert alone_slo.returncode == 0 and alone_report.returncode == 0, alone_slo.stderr + alone_report.stderr

    holder = request.getfixturevalue("held")
    held_slo = _cli(db, "slo", "--json")
    held_report = _cli(db, "report", "--week", WEEK, "--out", str(tmp_path / "held"), "--no-cache")

    assert held_slo.returncode == 0, held_slo.stderr
    assert held_report.returncode == 0, held_report.stderr
    assert held_slo.stdout == alone_slo.stdout and '"attainment"' in held_slo.stdout
    assert _report_tables(tmp_path / "held") == _report_tables(tmp_path / "alone")
    assert len(_report_tables(tmp_path / "held")) == 9
    assert f"(pid {holder.pid}) holds {db}; reading a snapshot of it" in held_slo.stderr
    assert not list(db.parent.glob(f"{db.name}{store_snapshot.SNAPSHOT_TAG}*"))  # removed after use


def test_ingest_refuses_in_one_line_naming_the_holder_and_writes_nothing(db, held):
    before = _files(db)
    result = _cli(db, "ingest", str(DATA / "azure_code_excerpt.csv"), "--format", "azure-llm",
                  "--deployment", "refused")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "in use by another process, python -c" in lines[0] and f"(pid {held.pid})" in lines[0]
    assert "`ingest` writes to it, so stop that process first" in lines[0]
    assert _files(db) == before


def _store_tree(folder: Path) -> None:
    """The shape of a chDB folder: a table with a committed part, a part being written and a
    mutation entry, relative links under data/, the engine's lock file and temp folder."""
    table = folder / "store" / "abc" / "abc-uuid"
    (table / "all_1_1_0").mkdir(parents=True)
    (table / "all_1_1_0" / "checksums.txt").write_text("sums")
    (table / "all_1_1_0" / "ts.bin").write_bytes(b"column")
    (table / "tmp_insert_all_2_2_0").mkdir()
    (table / "tmp_insert_all_2_2_0" / "ts.bin").write_bytes(b"half")
    (table / "format_version.txt").write_text("1")
    (table / "mutation_3.txt").write_text("DELETE")
    (folder / "data" / "default").mkdir(parents=True)
    (folder / "data" / "default" / "requests").symlink_to("../../store/abc/abc-uuid")
    (folder / "status").write_text(f"PID: {os.getpid()}\n")
    (folder / "tmp").mkdir()


def test_a_snapshot_links_committed_parts_copies_the_rest_and_leaves_the_engines_files_out(tmp_path):
    folder = tmp_path / "telemetry"
    _store_tree(folder)
    with store_snapshot.snapshot(folder) as copy:
        table = copy / "store" / "abc" / "abc-uuid"
        source = folder / "store" / "abc" / "abc-uuid"
        assert (table / "all_1_1_0" / "ts.bin").stat().st_ino == (source / "all_1_1_0" / "ts.bin").stat().st_ino
        assert (table / "mutation_3.txt").read_text() == "DELETE"
        assert (table / "mutation_3.txt").stat().st_ino != (source / "mutation_3.txt").stat().st_ino
        assert not (table / "tmp_insert_all_2_2_0").exists()
        assert os.readlink(copy / "data" / "default" / "requests") == "../../store/abc/abc-uuid"
        assert (copy / "data" / "default" / "requests" / "all_1_1_0" / "ts.bin").read_bytes() == b"column"
        assert not (copy / "status").exists() and not (copy / "tmp").exists()
    assert not copy.exists()


def test_a_snapshot_removes_the_ones_a_killed_process_left_behind(tmp_path):
    folder = tmp_path / "telemetry"
    _store_tree(folder)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    abandoned = tmp_path / f"telemetry{store_snapshot.SNAPSHOT_TAG}{dead.stdout.strip()}-x1"
    abandoned.mkdir()
    with store_snapshot.snapshot(folder):
        assert not abandoned.exists()


def test_this_process_holding_the_store_is_not_another_holder(store, db_path):
    assert store_snapshot.holder(db_path) is None


def test_a_journal_insert_during_the_copy_takes_it_again_and_a_merge_does_not(tmp_path, monkeypatch):
    folder = tmp_path / "telemetry"
    _store_tree(folder)
    journal = folder / "store" / "jjj" / "jjj-uuid"
    (journal / "all_1_1_0").mkdir(parents=True)
    (journal / "all_1_1_0" / "checksums.txt").write_text("sums")
    (folder / "data" / "default" / "ingest_journal").symlink_to("../../store/jjj/jjj-uuid")
    monkeypatch.setattr(store_snapshot, "RETRY_WAIT_S", 0.0)
    writes = iter(["all_2_2_0", "all_1_2_1"])  # a load's journal row, then a merge of the two parts
    copy_tree, copies = store_snapshot._copy_tree, []

    def copy_while_the_journal_changes(source, target, top=False):
        copy_tree(source, target, top)
        if top:
            copies.append(target)
            (journal / next(writes, "all_1_2_1")).mkdir(exist_ok=True)

    monkeypatch.setattr(store_snapshot, "_copy_tree", copy_while_the_journal_changes)
    with store_snapshot.snapshot(folder) as copy:
        assert len(copies) == 2 and copy == copies[1]  # the insert retook it; the merge did not
        assert not copies[0].exists()
        assert (copy / "store" / "jjj" / "jjj-uuid" / "all_2_2_0").is_dir()

    blocks = iter(range(3, 100))

    def copy_during_a_stream_of_loads(source, target, top=False):
        copy_tree(source, target, top)
        if top:
            block = next(blocks)
            (journal / f"all_{block}_{block}_0").mkdir()

    monkeypatch.setattr(store_snapshot, "_copy_tree", copy_during_a_stream_of_loads)
    with pytest.raises(SourceError, match=f"changed during each of {store_snapshot.ATTEMPTS} snapshots"):
        with store_snapshot.snapshot(folder):
            pass
    assert not list(tmp_path.glob(f"telemetry{store_snapshot.SNAPSHOT_TAG}*"))
