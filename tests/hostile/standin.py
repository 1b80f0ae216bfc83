"""A stand-in ClickHouse server for hostile tests: ClickHouse's HTTP interface in front of a real
chDB database (the real engine answers every query), which can be told to go bad.

Run as a script (`python standin.py DB_PATH`) it seeds a small demo fleet into DB_PATH, prints
its port and serves on 127.0.0.1. `GET /__mode/NAME` switches what every later request gets:
  ok      answered by chDB (parameters bound server-side, as ClickHouse does)
  500     HTTP 500 with a short body, as a failing server or proxy
  echo    HTTP 502 whose body echoes the request headers (a proxy that leaks Authorization)
  close   the connection closed without an answer
  hang    no answer until the client gives up (released after 60 s)
`?match=TEXT` limits the mode to queries whose SQL contains TEXT (one panel fails, not all).
`GET /__queries` returns the settings each query carried (JSON), to check timeouts are sent.
StandIn starts one in a subprocess (chDB allows one database path per process) and stops it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO_END = datetime(2026, 11, 1, tzinfo=UTC)


class StandIn:
    """The stand-in server in its own process; `dsn` reaches it with `password`."""

    password = "s3cret-standin"

    def __init__(self, db_path: Path):
        self.process = subprocess.Popen([sys.executable, __file__, str(db_path)], cwd=ROOT,
                                        stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()  # "port N" once seeded and listening
        if not line.startswith("port "):
            self.stop()
            raise RuntimeError(f"the stand-in server did not start: {line!r}")
        self.port = int(line.split()[1])
        # Uncompressed, so the stand-in reads inserted rows as they are sent.
        self.dsn = f"http://default:{self.password}@127.0.0.1:{self.port}/default?compress=false"

    def mode(self, name: str, match: str | None = None) -> None:
        """Switch what every later request gets (only those whose SQL contains `match`, if given)."""
        suffix = f"?{urllib.parse.urlencode({'match': match})}" if match else ""
        urllib.request.urlopen(f"http://127.0.0.1:{self.port}/__mode/{name}{suffix}", timeout=10).read()

    def queries(self) -> list[dict]:
        """The settings (URL parameters other than bound values) of every query answered."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/__queries", timeout=10) as reply:
            return json.loads(reply.read())

    def stop(self) -> None:
        """Stop the process (the port is then refused)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _serve(db_path: str) -> None:
    sys.path.insert(0, str(ROOT))
    from chdb import session

    from analytics.ingest.demo import generator as demo
    from analytics.store.schema import open_store

    store = open_store(f"chdb://{db_path}")
    demo.seed(store, days=10, requests=30_000, seed=3, end=DEMO_END, scrape_seconds=300, sample_rate=1.0)
    engine = session.Session(db_path)
    lock = threading.Lock()
    state = {"mode": "ok", "match": None, "queries": []}
    released = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _answer(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))  # '' is a value
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if url.path.startswith("/__mode/"):
                state["mode"], state["match"] = url.path.rsplit("/", 1)[1], query.get("match")
                return self._send(200, b"ok")
            if url.path == "/__queries":
                return self._send(200, json.dumps(state["queries"]).encode())
            insert = re.fullmatch(r"\s*(INSERT INTO .+?)\s+FORMAT (Arrow\w*)\s*", query.get("query", ""), re.S)
            if insert and body:  # rows in the body: ClickHouse reads them in the named format
                data = Path(db_path).parent / f"insert-{threading.get_ident()}.arrow"
                data.write_bytes(body)
                sql = f"{insert.group(1)} SELECT * FROM file('{data}', '{insert.group(2)}')"
            else:
                sql = (query.get("query", "") + "\n" + body.decode(errors="replace")).strip()
            mode = state["mode"] if not state["match"] or state["match"] in sql else "ok"
            if mode == "500":
                return self._send(500, b"Internal Server Error: upstream failed")
            if mode == "echo":
                echoed = "".join(f"{k}: {v}\n" for k, v in self.headers.items())
                return self._send(502, f"Bad Gateway. Request headers:\n{echoed}".encode())
            if mode == "close":
                self.close_connection = True
                self.connection.shutdown(2)
                return None
            if mode == "hang":
                released.wait(60)
                self.close_connection = True
                return None
            if url.path.endswith("/ping"):
                return self._send(200, b"Ok.\n")
            params = {k[len("param_"):]: v for k, v in query.items() if k.startswith("param_")}
            state["queries"].append({"sql": sql[:120], "settings": {k: v for k, v in query.items()
                                                                     if not k.startswith("param_")}})
            try:
                with lock:
                    result = engine.query(sql, query.get("default_format", "TabSeparated"), params=params)
                return self._send(200, result.bytes())
            except Exception as exc:  # the real engine's error, as ClickHouse reports it
                code = str(exc).split("Code: ", 1)[-1].split(".", 1)[0]
                return self._send(500, str(exc).encode(),
                                  {"X-ClickHouse-Exception-Code": code if code.isdigit() else "1"})

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: (released.set(), os._exit(0)))
    print(f"port {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    _serve(sys.argv[1])
