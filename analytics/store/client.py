"""One layer over clickhouse-connect for both engines: embedded chDB and a ClickHouse server.

Every query takes ClickHouse server-side parameters (``{name:Type}``); results come back as
Arrow and are handed over as polars frames.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import logging
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import polars as pl
import pyarrow as pa

from analytics.errors import SourceError
from analytics.store.dsn import CHDB_SCHEME, check_credentials, split_cluster

# Seconds. Every read carries the server-side limit `max_execution_time` (ClickHouse, and chDB
# honours it too: the query stops with TIMEOUT_EXCEEDED, code 159), so a heavy query ends on the
# server with a clear message; the client's own socket timeout is a little longer, for a server
# or proxy that never answers at all. A dashboard panel therefore waits at most ~35 s.
CONNECT_TIMEOUT_S = 5
QUERY_TIMEOUT_S = 30
CLIENT_TIMEOUT_S = QUERY_TIMEOUT_S + 5
# After the server was unreachable (refused, closed, no answer), further calls fail at once with
# the same message for this long, so a page with ten panels does not wait ten timeouts.
UNREACHABLE_BACKOFF_S = 30
# ClickHouse error codes (src/Common/ErrorCodes.cpp): 159 TIMEOUT_EXCEEDED; 192 UNKNOWN_USER,
# 193 WRONG_PASSWORD, 194 REQUIRED_PASSWORD, 516 AUTHENTICATION_FAILED.
TIMEOUT_EXCEEDED = 159
AUTH_CODES = {192, 193, 194, 516}
MESSAGE_CHARS = 400  # the longest server text passed on, after redaction
# On a cluster, an INSERT into a Distributed table returns only once every shard stored its rows
# (docs, Settings > distributed_foreground_insert, alias insert_distributed_sync: "the INSERT
# operation succeeds only after all the data is saved on all shards"); by default it is queued and
# sent in the background, so a load the journal calls done could still be invisible, or lost with
# the node that queued it. The alias is the name every server version knows.
CLUSTER_SETTINGS = {"insert_distributed_sync": 1}
# chDB's engine start-up folder in $TMPDIR (see _remove_engine_leftovers)
ENGINE_TEMP_PREFIX = "clickhouse-embedded-"
# An engine writes its start-up folder's status file right after making the folder: one still
# without it this many seconds later belongs to a process killed in between.
ENGINE_START_GRACE_S = 10


@dataclass(frozen=True)
class Target:
    """Where the data lives, safe to show (no password)."""

    engine: str  # "chdb" or "server"
    location: str  # a path, or scheme://host:port/database

    def __str__(self) -> str:
        return f"{self.engine} {self.location}"


def describe(dsn: str) -> Target:
    """Describe a DSN without its credentials; a malformed one is a SourceError, never a traceback."""
    if dsn.startswith(CHDB_SCHEME):
        return Target("chdb", dsn[len(CHDB_SCHEME):] or ":memory:")
    check_credentials(dsn)  # before urlsplit, which would read such a password as host, port or path
    shown = redact(dsn.split("@")[-1])
    hint = "(use chdb:///abs/path or http(s)://user:password@host:port/database)"
    try:
        parts = urlsplit(dsn)
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # 'Port out of range 0-65535', 'Invalid IPv6 URL', a port that is not a number
        raise SourceError(f"not a valid ClickHouse DSN: {shown!r}: {exc} {hint}") from None
    if parts.scheme not in ("http", "https", "clickhouse", "clickhouses") or not host:
        raise SourceError(f"not a ClickHouse DSN: {shown!r} {hint}")
    if port == 0:
        raise SourceError(f"not a valid ClickHouse DSN: {shown!r}: port 0 {hint}")
    shown_host = f"[{host}]" if ":" in host else host
    return Target("server", f"{parts.scheme}://{shown_host}{f':{port}' if port else ''}{parts.path or '/'}")


# Credentials a server or proxy may echo back (headers, URLs, settings): never shown.
_REDACTIONS = (
    (re.compile(r"(?i)\b((?:proxy-)?authorization|x-clickhouse-(?:key|user)|cookie|set-cookie|x-api-key)"
                r"([\"']?\s*[:=]\s*)[^\r\n]*"), r"\1\2[redacted]"),
    (re.compile(r"(?i)\b(basic|bearer|digest)\s+[A-Za-z0-9+/=._~-]{6,}"), r"\1 [redacted]"),
    (re.compile(r"(?i)\b(password|passwd|pwd|secret|token|access_key|api_key)([\"']?\s*[:=]\s*[\"']?)[^\s&,;'\"]+"),
     r"\1\2[redacted]"),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]*@"), r"\1[redacted]@"),
)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` with credentials removed: known secrets verbatim, and anything shaped like one."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _secrets_of(dsn: str) -> tuple[str, ...]:
    """The password of a DSN, raw, URL-decoded and as an HTTP Basic token."""
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return ()
    if not parts.password:
        return ()
    user, password = unquote(parts.username or ""), unquote(parts.password)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return tuple(s for s in {parts.password, password, token} if len(s) >= 3)


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, its causes and contexts, and urllib3's retry reasons, each once."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo:
        item = todo.pop()
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        todo += [item.__cause__, item.__context__, getattr(item, "reason", None)]
    return [e for e in seen if isinstance(e, BaseException)]


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status clickhouse-connect reports for a non-ClickHouse error response."""
    found = re.search(r"HTTP status (\d{3})\b", str(exc))
    return int(found.group(1)) if found else None


def _server_code(exc: BaseException) -> int | None:
    """The ClickHouse error code: the driver's `code` (X-ClickHouse-Exception-Code), or chDB's 'Code: N.'."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    found = re.match(r"\s*(?:Code: )(\d+)\.", str(exc))
    return int(found.group(1)) if found else None


def _explain(exc: BaseException, target: Target, secrets: tuple[str, ...] = ()) -> tuple[str, bool]:
    """One line saying what failed and how to fix it, classified by exception type and HTTP
    status (never by digits that may be part of a port), and whether the server was unreachable."""
    import urllib3.exceptions as U  # clickhouse-connect's transport

    chain = _chain(exc)
    text = " ".join(redact(" ".join(str(e) for e in chain[:1]), secrets).split())
    if "Cannot lock file" in text or "already initialized" in text:  # chDB: no typed errors
        return (f"the embedded database {target.location} is in use by another process "
                "(a running dashboard?): stop it, or point this command elsewhere with --dsn"), False
    # Connection errors first: the server never answered, so nothing it said can be trusted.
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return f"{target}: connection refused; is the server running and the port right?", True
    if any(isinstance(e, socket.gaierror | U.NameResolutionError) for e in chain):
        return f"{target}: host name not found; check the host in the DSN", True
    if any(isinstance(e, TimeoutError | U.TimeoutError) for e in chain):
        return (f"{target}: no answer within {CLIENT_TIMEOUT_S} s; the server is down or overloaded "
                "(or a proxy holds the request)"), True
    if any(isinstance(e, ConnectionError | U.ProtocolError | U.NewConnectionError) for e in chain):
        return f"{target}: the server closed the connection without an answer; is it restarting?", True
    codes = {c for c in map(_server_code, chain) if c is not None}
    status = next((s for s in map(_http_status, chain) if s is not None), None)
    if codes & AUTH_CODES or status in (401, 403):
        return f"{target}: authentication failed; check the user and password in the DSN", False
    if TIMEOUT_EXCEEDED in codes:
        return (f"{target}: the query ran longer than the {QUERY_TIMEOUT_S} s limit (max_execution_time); "
                "narrow the time range or filters"), False
    text = re.sub(r"\s*\(for url [^)]*\)", "", text)  # the driver's suffix repeats the target
    if status is not None and codes == set():  # not ClickHouse speaking: a proxy or another server
        body = text.split("server response:", 1)[-1].strip()
        return f"{target}: HTTP {status} from the server or a proxy: {body[:MESSAGE_CHARS]}", False
    return f"{target}: {text[:MESSAGE_CHARS]}", False


class Store:
    """A connection to ClickHouse (server or embedded chDB), safe to share across threads."""

    def __init__(self, dsn: str):
        self.dsn = dsn
        dsn, self.cluster = split_cluster(dsn)  # '' on one node; analytics.store.ddl reads it
        self.layout = None  # analytics.store.ddl.layout_of fills it once
        # optional tables found to exist (nothing here drops one): asked of system.tables until found
        self.tables_found: set[str] = set()
        self.target = describe(dsn)
        self._secrets = _secrets_of(dsn)
        self._lock = threading.Lock()
        self._unreachable: tuple[float, str] | None = None  # (until, message) after a dead server
        try:
            if self.target.engine == "chdb":
                Path(self.target.location).mkdir(parents=True, exist_ok=True)
                with _native_stderr_captured() as captured:  # chDB prints the cause to fd 2
                    try:
                        self._client = _get_client(dsn=dsn)
                    except Exception as exc:
                        raise self._error(RuntimeError(f"{exc} {captured()}")) from exc
                _remove_engine_leftovers()
            else:
                self._client = _get_client(
                    dsn=dsn,
                    connect_timeout=CONNECT_TIMEOUT_S,
                    send_receive_timeout=CLIENT_TIMEOUT_S,
                    **({"settings": CLUSTER_SETTINGS} if self.cluster else {}),
                )
        except SourceError:
            raise
        except Exception as exc:  # the driver raises many types; all become one message
            raise self._error(exc) from exc

    def _error(self, exc: BaseException) -> SourceError:
        """The SourceError for a driver exception; remembers an unreachable server for a while."""
        message, unreachable = _explain(exc, self.target, self._secrets)
        if unreachable:
            self._unreachable = (time.monotonic() + UNREACHABLE_BACKOFF_S, message)
        return SourceError(message)

    @contextlib.contextmanager
    def _call(self):
        """Serialise a driver call and turn its failure into one SourceError line."""
        if self._unreachable and time.monotonic() < self._unreachable[0]:
            raise SourceError(f"{self._unreachable[1]} (not retried for {UNREACHABLE_BACKOFF_S} s)")
        try:
            with self._lock:
                yield
        except Exception as exc:
            raise self._error(exc) from exc
        self._unreachable = None

    def query(self, sql: str, parameters: dict | None = None) -> pl.DataFrame:
        """Run a SELECT with bound parameters and return a polars frame (at most QUERY_TIMEOUT_S)."""
        with self._call():
            table = self._client.query_arrow(sql, parameters=parameters or {},
                                             settings={"max_execution_time": QUERY_TIMEOUT_S})
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        # LowCardinality columns arrive as Arrow dictionaries; strings are simpler downstream.
        return frame.with_columns(pl.col(pl.Categorical).cast(pl.String))

    def command(self, sql: str, parameters: dict | None = None) -> None:
        """Run a statement (DDL, INSERT ... SELECT) with bound parameters. Loads may take longer
        than a dashboard query: only the client's timeout applies."""
        with self._call():
            self._client.command(sql, parameters=parameters or {})

    def insert(self, table: str, frame: pl.DataFrame | pa.Table) -> None:
        """Insert a polars frame (or an Arrow table) whose columns are named like the table's."""
        arrow = frame if isinstance(frame, pa.Table) else frame.to_arrow()
        if not arrow.num_rows:
            return
        with self._call():
            self._client.insert_arrow(table, arrow)

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


def _remove_engine_leftovers() -> None:
    """Remove the start-up folders of chDB engines that were killed while starting.

    chDB's engine makes ``$TMPDIR/clickhouse-embedded-<uuid>`` (a ``status`` file and ``tmp``)
    while it starts and removes it ~0.1-0.3 s later; a process killed in between leaves it behind.
    The engine holds an exclusive flock on that ``status`` file while alive (the same lock that
    says "Cannot lock file ... status" to a second process on one store), so a folder whose lock
    can be taken belongs to no live process; nor does one still without a status file
    ENGINE_START_GRACE_S after it was made.
    """
    for folder in Path(tempfile.gettempdir()).glob(f"{ENGINE_TEMP_PREFIX}*"):
        try:
            status = os.open(folder / "status", os.O_RDONLY)
        except OSError:  # no status file: a process creating it this instant, or one killed before it did
            with contextlib.suppress(OSError):
                if time.time() - folder.stat().st_mtime > ENGINE_START_GRACE_S:
                    shutil.rmtree(folder, ignore_errors=True)
            continue
        try:
            fcntl.flock(status, fcntl.LOCK_EX | fcntl.LOCK_NB)
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # locked: a live engine is starting
            pass
        finally:
            os.close(status)


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

    # The driver logs a warning for every transport error before raising it; the SourceError
    # says it once, in one line.
    logging.getLogger("clickhouse_connect").setLevel(logging.ERROR)

    return clickhouse_connect.get_client(**kwargs)
