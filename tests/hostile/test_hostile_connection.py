"""Hostile connections through the real command line and store: malformed DSNs, refused ports,
servers that fail, close, hang or echo credentials. One line each, never a traceback or a secret."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analytics.errors import SourceError
from analytics.store import client as store_module
from analytics.store.client import Store

ROOT = Path(__file__).resolve().parents[2]


def _cli(dsn: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analytics", "--dsn", dsn, *(args or ("slo",))],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize(("dsn", "reason"), [
    ("http://default@127.0.0.1:abc/default", "Port could not be cast to integer"),
    ("http://default@127.0.0.1:99999/default", "Port out of range"),
    ("http://default:pw@[::1/default", "Invalid IPv6 URL"),
], ids=["port abc", "port 99999", "broken IPv6 host"])
def test_a_malformed_dsn_is_one_line_from_the_cli(dsn, reason):
    line = _one_error_line(_cli(dsn))
    assert "not a valid ClickHouse DSN" in line and reason in line
    assert ":pw@" not in line


def _port_containing(digits: str) -> socket.socket:
    """A socket bound (not listening, so connections are refused) to a port whose number
    contains `digits`, as the old text match took for an HTTP status."""
    candidates = [int(digits), *(int(f"{i}{digits}") for i in range(1, 7)), *(int(f"{digits}{i}") for i in range(10))]
    for port in [p for p in candidates if 1024 <= p <= 65535]:
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", port))
            return sock
        except OSError:
            sock.close()
    pytest.fail(f"no free port containing {digits}")


@pytest.mark.parametrize("digits", ["401", "516", "50401"])
def test_a_refused_port_whose_number_looks_like_an_auth_code_says_connection_refused(digits):
    with _port_containing(digits) as sock:
        line = _one_error_line(_cli(f"http://default@127.0.0.1:{sock.getsockname()[1]}/default"))
    assert "connection refused" in line and "authentication" not in line


def test_every_dashboard_query_carries_the_server_side_time_limit(standin):
    store = Store(standin.dsn)
    store.query("SELECT count() AS n FROM requests_5m WHERE deployment != {d:String}", {"d": "x"})
    reads = [q for q in standin.queries() if q["sql"].rstrip().endswith("FORMAT Arrow")]
    assert reads and all(q["settings"].get("max_execution_time") == str(store_module.QUERY_TIMEOUT_S)
                         for q in reads)


def test_embedded_chdb_honours_the_time_limit(store, monkeypatch):
    monkeypatch.setattr(store_module, "QUERY_TIMEOUT_S", 1)
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"ran longer than the 1 s limit \(max_execution_time\)"):
        store.query("SELECT count() FROM numbers(1000000000000) WHERE sipHash64(number) = 1")
    assert time.monotonic() - started < 10


def test_a_proxy_that_echoes_headers_leaks_no_credentials(standin):
    standin.mode("echo")
    line = _one_error_line(_cli(standin.dsn))
    token = base64.b64encode(f"default:{standin.password}".encode()).decode()
    assert "HTTP 502" in line and "Authorization: [redacted]" in line
    assert standin.password not in line and token not in line


@pytest.mark.parametrize(("mode", "said"), [
    ("500", "HTTP 500 from the server or a proxy: Internal Server Error: upstream failed"),
    ("close", "closed the connection without an answer"),
], ids=["server error", "connection closed"])
def test_a_failing_server_is_one_line_from_the_cli(standin, mode, said):
    standin.mode(mode)
    line = _one_error_line(_cli(standin.dsn))
    assert said in line and f"127.0.0.1:{standin.port}" in line


def test_a_server_that_stops_answering_times_out_and_is_not_waited_on_again(standin, monkeypatch):
    monkeypatch.setattr(store_module, "CLIENT_TIMEOUT_S", 2)
    store = Store(standin.dsn)  # connected while healthy
    standin.mode("hang")
    started = time.monotonic()
    with pytest.raises(SourceError, match="no answer within 2 s"):
        store.query("SELECT 1 AS x")
    first = time.monotonic() - started
    started = time.monotonic()
    with pytest.raises(SourceError, match="not retried for"):
        store.query("SELECT 2 AS x")
    assert first < 10 and time.monotonic() - started < 0.5
