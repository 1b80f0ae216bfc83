"""A password in a DSN is never shown, whatever characters it holds: through the command line and
through the page's connection (ui.connection). An unencoded '/', '?' or '#' ends the URL's
authority (RFC 3986 section 3.2), so a parser reads such a password as host, port or path: that
DSN is refused, naming it without its credentials, before anything parses it."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import streamlit as st

from analytics.errors import SourceError
from analytics.store.client import Store
from analytics.store.dsn import check_credentials, redacted
from tests.conftest import ROOT, run_page
from ui.format import LINK_BREAK

UNENCODED = [  # (DSN, its password); port 1 on 127.0.0.1: nothing listens there
    ("https://user:s3cr/etPW@127.0.0.1:1/", "s3cr/etPW"),
    ("http://user:1234/5678@127.0.0.1:1/", "1234/5678"),
    ("http://user:ab#cdEF@127.0.0.1:1/", "ab#cdEF"),
    ("http://user:ab?cdEF@127.0.0.1:1/db", "ab?cdEF"),
    ("http://user:x?cluster=leak-me@127.0.0.1:1/", "x?cluster=leak-me"),
]
PARSEABLE = [  # '@', ':' and '%' leave the authority whole: the connection is tried (and refused)
    ("http://user:p@ssWD@127.0.0.1:1/", "p@ssWD"),
    ("http://user:pa:ssWD@127.0.0.1:1/", "pa:ssWD"),
    ("http://user:pa%zzWD@127.0.0.1:1/", "pa%zzWD"),
    ("http://user:pa%2FssWD@127.0.0.1:1/", "pa%2FssWD"),
]
REFUSED = "the user or password holds an unencoded '/', '?' or '#'"


def fragments(password: str) -> list[str]:
    """The password and each part of it of 4 or more characters a parser could split off."""
    return [password, *(part for part in re.split(r"[/?#@:%=]", password) if len(part) >= 4)]


def cli(dsn: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analytics", "--dsn", dsn, "slo"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.mark.parametrize(("dsn", "password"), UNENCODED + PARSEABLE)
def test_the_command_line_never_shows_a_dsn_password(dsn, password):
    result = cli(dsn)
    said = result.stdout + result.stderr
    assert result.returncode == 2 and "Traceback" not in said
    for fragment in fragments(password):
        assert fragment not in said
    expected = REFUSED if (dsn, password) in UNENCODED else "connection refused"
    assert expected in result.stderr


@pytest.mark.parametrize(("dsn", "password"), UNENCODED)
def test_a_dsn_whose_password_ends_the_authority_is_refused_naming_it_without_credentials(dsn, password):
    with pytest.raises(SourceError) as refused:
        Store(dsn)
    message = str(refused.value)
    assert f"'{dsn.split('://')[0]}://[redacted]@127.0.0.1:1/" in message and REFUSED in message


@pytest.mark.parametrize(("dsn", "shown"), [
    ("https://user:s3cr/etPW@127.0.0.1:1/", "https://[redacted]@127.0.0.1:1/"),
    ("http://a:b@c@host:8123/db?x=1", "http://[redacted]@host:8123/db?x=1"),
    ("http://host:8123/db", "http://host:8123/db"),
    ("not a url", "not a url"),
])
def test_a_dsn_is_shown_without_its_user_and_password(dsn, shown):
    assert redacted(dsn) == shown


def test_an_embedded_path_with_at_and_slash_is_not_taken_for_credentials(tmp_path):
    check_credentials(f"chdb://{tmp_path}/a:b/c@d")  # no error: a chdb DSN is a path


@pytest.mark.parametrize(("dsn", "password"), [UNENCODED[0], UNENCODED[1], PARSEABLE[0]])
def test_the_page_never_shows_a_dsn_password(dsn, password, monkeypatch):
    monkeypatch.setenv("CLICKHOUSE_URL", dsn)
    st.cache_data.clear()
    st.cache_resource.clear()
    try:
        at = run_page("app.py")
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()
    assert not at.exception
    shown = " ".join(str(element.value) for kind in ("error", "warning", "info", "markdown", "caption", "title")
                     for element in [*at.get(kind), *at.sidebar.get(kind)])
    # markdown escapes and link breaks (ui.format.text) must not hide a fragment
    shown = re.sub(r"\\(.)", r"\1", shown).replace(LINK_BREAK, "")
    assert "Cannot read telemetry" in shown
    for fragment in fragments(password):
        assert fragment not in shown
