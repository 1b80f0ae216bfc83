"""Fixtures for the hostile tests: a stand-in ClickHouse server (tests/hostile/standin.py)."""

from __future__ import annotations

import pytest

from tests.hostile.standin import StandIn


@pytest.fixture(scope="module")
def _standin_holder(tmp_path_factory):
    holder = {"tmp": tmp_path_factory.mktemp("standin"), "server": None, "starts": 0}
    yield holder
    if holder["server"] is not None:
        holder["server"].stop()


@pytest.fixture
def standin(_standin_holder) -> StandIn:
    """A healthy stand-in server (restarted if a test stopped it), back in mode 'ok' afterwards."""
    server = _standin_holder["server"]
    if server is None or server.process.poll() is not None:
        _standin_holder["starts"] += 1
        server = StandIn(_standin_holder["tmp"] / f"db{_standin_holder['starts']}")
        _standin_holder["server"] = server
    server.mode("ok")
    yield server
    if server.process.poll() is None:
        server.mode("ok")
