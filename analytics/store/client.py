"""One layer over clickhouse-connect for both engines: embedded chDB and a ClickHouse server.

Every query takes ClickHouse server-side parameters (``{name:Type}``); results come back as
Arrow and are handed over as polars frames.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import polars as pl

from analytics.errors import SourceError

CHDB_SCHEME = "chdb://"
# Seconds; a server that does not answer in time is reported, never waited on forever.
CONNECT_TIMEOUT_S = 5
QUERY_TIMEOUT_S = 60


@dataclass(frozen=True)
class Target:
    """Where the data lives, safe to show (no password)."""

    engine: str  # "chdb" or "server"
    location: str  # a path, or scheme://host:port/database

    def __str__(self) -> str:
        return f"{self.engine} {self.location}"


def describe(dsn: str) -> Target:
    """Describe a DSN without its credentials."""
    if dsn.startswith(CHDB_SCHEME):
        return Target("chdb", dsn[len(CHDB_SCHEME):] or ":memory:")
    parts = urlsplit(dsn)
    if parts.scheme not in ("http", "https", "clickhouse", "clickhouses") or not parts.hostname:
        raise SourceError(
            f"not a ClickHouse DSN: {dsn.split('@')[-1]!r} "
            "(use chdb:///abs/path or http(s)://user:password@host:port/database)"
        )
    port = f":{parts.port}" if parts.port else ""
    return Target("server", f"{parts.scheme}://{parts.hostname}{port}{parts.path or '/'}")


def _explain(exc: Exception, target: Target) -> str:
    """Turn a driver exception into one line that says what failed and how to fix it."""
    text = " ".join(str(exc).split())
    if "Cannot lock file" in text or "already initialized" in text:
        return (
            f"the embedded database {target.location} is in use by another process "
            "(a running dashboard?): stop it, or point this command elsewhere with --dsn"
        )
    if "Authentication failed" in text or "401" in text or "516" in text:
        return f"{target}: authentication failed; check the user and password in the DSN"
    if "Connection refused" in text or "Failed to establish" in text or "NewConnectionError" in text:
        return f"{target}: connection refused; is the server running and the port right?"
    if "timed out" in text.lower() or "timeout" in text.lower():
        return f"{target}: no answer within the timeout; the server is down or overloaded"
    return f"{target}: {text[:400]}"


class Store:
    """A connection to ClickHouse (server or embedded chDB), safe to share across threads."""

    def __init__(self, dsn: str):
        self.dsn = dsn
        self.target = describe(dsn)
        self._lock = threading.Lock()
        try:
            if self.target.engine == "chdb":
                Path(self.target.location).mkdir(parents=True, exist_ok=True)
                with _native_stderr_captured() as captured:  # chDB prints the cause to fd 2
                    try:
                        self._client = _get_client(dsn=dsn)
                    except Exception as exc:
                        raise SourceError(_explain(RuntimeError(f"{exc} {captured()}"), self.target)) from exc
            else:
                self._client = _get_client(
                    dsn=dsn,
                    connect_timeout=CONNECT_TIMEOUT_S,
                    send_receive_timeout=QUERY_TIMEOUT_S,
                )
        except SourceError:
            raise
        except Exception as exc:  # the driver raises many types; all become one message
            raise SourceError(_explain(exc, self.target)) from exc

    def query(self, sql: str, parameters: dict | None = None) -> pl.DataFrame:
        """Run a SELECT with bound parameters and return a polars frame."""
        try:
            with self._lock:
                table = self._client.query_arrow(sql, parameters=parameters or {})
        except Exception as exc:
            raise SourceError(_explain(exc, self.target)) from exc
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        # LowCardinality columns arrive as Arrow dictionaries; strings are simpler downstream.
        return frame.with_columns(pl.col(pl.Categorical).cast(pl.String))

    def command(self, sql: str, parameters: dict | None = None) -> None:
        """Run a statement (DDL, INSERT ... SELECT) with bound parameters."""
        try:
            with self._lock:
                self._client.command(sql, parameters=parameters or {})
        except Exception as exc:
            raise SourceError(_explain(exc, self.target)) from exc

    def insert(self, table: str, frame: pl.DataFrame) -> None:
        """Insert a polars frame whose columns are named like the table's."""
        if frame.is_empty():
            return
        try:
            with self._lock:
                self._client.insert_arrow(table, frame.to_arrow())
        except Exception as exc:
            raise SourceError(_explain(exc, self.target)) from exc

    def scalar(self, sql: str, parameters: dict | None = None):
        """Run a query returning one value."""
        frame = self.query(sql, parameters)
        return frame.item(0, 0) if frame.height else None

    def close(self) -> None:
        """Release the connection."""
        try:
            self._client.close()
        except Exception:  # closing a dead connection must not mask the real error
            pass


@contextlib.contextmanager
def _native_stderr_captured():
    """Capture what native code writes to file descriptor 2; yields a reader of the text."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lambda: (sink.seek(0), sink.read().decode(errors="replace"))[1]
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _get_client(**kwargs):
    import clickhouse_connect  # imported here: keeps `import analytics` light

    return clickhouse_connect.get_client(**kwargs)
