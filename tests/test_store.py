"""The store layer: DSN handling, bound parameters, and clear errors for every way a server fails."""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from analytics.errors import SourceError
from analytics.store import client as store_module
from analytics.store.client import Store, describe


@pytest.mark.parametrize(
    ("dsn", "engine", "location"),
    [
        ("chdb:///srv/db", "chdb", "/srv/db"),
        ("https://bob:s3cret@ch.example:8443/telemetry", "server", "https://ch.example:8443/telemetry"),
        ("http://ch.local:8123/", "server", "http://ch.local:8123/"),
    ],
    ids=["embedded path", "server url hides the password", "plain http server"],
)
def test_a_dsn_is_described_without_credentials(dsn, engine, location):
    target = describe(dsn)
    assert (target.engine, target.location) == (engine, location)
    assert "s3cret" not in str(target)


def test_a_dsn_that_is_not_clickhouse_is_refused_with_a_hint():
    with pytest.raises(SourceError, match="not a ClickHouse DSN.*chdb:///abs/path"):
        describe("postgres://x@y/z")


def test_a_hostile_filter_value_round_trips_as_data_not_sql(store):
    hostile = "x' OR 1=1 --"
    frame = store.query(
        "SELECT {name:String} AS name, count() AS n FROM requests WHERE deployment = {name:String}",
        {"name": hostile},
    )
    assert frame["name"].to_list() == [hostile]
    assert frame["n"].to_list() == [0]


def test_rollup_filters_treat_a_hostile_deployment_name_as_a_name(store):
    from datetime import UTC, datetime

    from analytics.store.queries import request_totals

    result = request_totals(store, datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC),
                            ["x' OR 1=1 --"], ["') OR ('1'='1"])
    assert result.is_empty()


def _serve(status: int | None):
    """A local stand-in for a ClickHouse server: answers every request with `status`,
    or never answers when status is None."""
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self):
            if status is None:
                release.wait(10)
                return
            body = b"Code: 516. DB::Exception: default: Authentication failed" if status == 401 else b"boom"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _reply

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, release


def test_a_refused_port_says_connection_refused():
    with socket.socket() as sock:  # bound but not listening: connections are refused, and no
        sock.bind(("127.0.0.1", 0))  # other process can take the port meanwhile
        with pytest.raises(SourceError, match="connection refused"):
            Store(f"http://default@127.0.0.1:{sock.getsockname()[1]}/default")


def test_wrong_credentials_say_authentication_failed():
    server, _ = _serve(401)
    try:
        with pytest.raises(SourceError, match="authentication failed"):
            Store(f"http://default:wrong@127.0.0.1:{server.server_port}/default")
    finally:
        server.shutdown()


def test_a_server_error_names_the_target():
    server, _ = _serve(500)
    try:
        with pytest.raises(SourceError, match=rf"127\.0\.0\.1:{server.server_port}"):
            Store(f"http://default@127.0.0.1:{server.server_port}/default")
    finally:
        server.shutdown()


def test_a_server_that_never_answers_times_out(monkeypatch):
    monkeypatch.setattr(store_module, "CONNECT_TIMEOUT_S", 1)
    monkeypatch.setattr(store_module, "CLIENT_TIMEOUT_S", 1)
    server, release = _serve(None)
    try:
        with pytest.raises(SourceError, match="no answer within 1 s"):
            Store(f"http://default@127.0.0.1:{server.server_port}/default")
    finally:
        release.set()
        server.shutdown()


@pytest.mark.parametrize("status", [401, 403])
def test_an_http_auth_status_without_a_clickhouse_code_says_authentication_failed(status):
    server, _ = _serve(status)
    try:
        with pytest.raises(SourceError, match="authentication failed"):
            Store(f"http://default:wrong@127.0.0.1:{server.server_port}/default")
    finally:
        server.shutdown()


def test_credentials_are_redacted_from_any_text():
    from analytics.store.client import redact

    text = ("Authorization: Basic ZGVmYXVsdDpzM2NyZXQ=\nX-ClickHouse-Key: k3y\n"
            "{'Authorization': 'Bearer abc.def.ghi'}\nhttp://bob:pw@host/ ?password=hunter2&user=x")
    cleaned = redact(text, ("s3cret",))
    for secret in ("ZGVmYXVsdDpzM2NyZXQ=", "k3y", "abc.def.ghi", "bob:pw", "hunter2"):
        assert secret not in cleaned
    assert "user=x" in cleaned


def test_a_second_process_on_the_same_embedded_path_is_told_it_is_in_use(store, db_path):
    result = subprocess.run(
        [sys.executable, "-m", "analytics", "--dsn", f"chdb://{db_path}", "demo", "--if-empty"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "in use by another process" in lines[0]


def test_opening_a_store_removes_the_start_up_folders_of_killed_engines_only(tmp_path):
    """chDB makes $TMPDIR/clickhouse-embedded-<uuid> while it starts; a kill -9 then leaves it.
    A folder whose status file is locked belongs to an engine starting right now and stays, as does
    one without a status file made moments ago; one still without it after the grace is removed."""
    temp = tmp_path / "tmp"
    for name in ("killed", "starting"):
        (temp / f"clickhouse-embedded-{name}" / "tmp").mkdir(parents=True)
        (temp / f"clickhouse-embedded-{name}" / "status").write_text("PID: 1\n")
    # killed before it wrote its status file: a minute old, and one made this instant
    (temp / "clickhouse-embedded-killed-early" / "tmp").mkdir(parents=True)
    old = time.time() - 60
    os.utime(temp / "clickhouse-embedded-killed-early", (old, old))
    (temp / "clickhouse-embedded-just-made").mkdir()
    starting = os.open(temp / "clickhouse-embedded-starting" / "status", os.O_RDONLY)
    fcntl.flock(starting, fcntl.LOCK_EX)
    try:
        opened = subprocess.run(
            [sys.executable, "-c", "import sys; from analytics.store.client import Store; Store(sys.argv[1])",
             f"chdb://{tmp_path / 'db'}"],
            env={**os.environ, "TMPDIR": str(temp)}, capture_output=True, text=True, timeout=120)
    finally:
        os.close(starting)
    assert opened.returncode == 0, opened.stderr
    assert sorted(p.name for p in temp.iterdir()) == ["clickhouse-embedded-just-made", "clickhouse-embedded-starting"]
