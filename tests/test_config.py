"""Which ClickHouse the app and the command line talk to: one documented order."""

from __future__ import annotations

import pytest

from analytics.errors import SourceError
from analytics.store.dsn import default_dsn, dsn_from_settings, resolve_dsn


def _secrets(tmp_path, text: str):
    path = tmp_path / "secrets.toml"
    path.write_text(text)
    return path


def test_an_explicit_dsn_wins_over_everything(tmp_path, monkeypatch):
    monkeypatch.setenv("CLICKHOUSE_URL", "chdb:///from/env")
    path = _secrets(tmp_path, '[connections.clickhouse]\nurl = "http://h:8123/db"\n')
    assert resolve_dsn("chdb:///explicit", path) == "chdb:///explicit"


def test_the_environment_variable_wins_over_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("CLICKHOUSE_URL", "chdb:///from/env")
    path = _secrets(tmp_path, '[connections.clickhouse]\nurl = "http://h:8123/db"\n')
    assert resolve_dsn(None, path) == "chdb:///from/env"


def test_secrets_by_fields_build_a_server_dsn(tmp_path, monkeypatch):
    monkeypatch.delenv("CLICKHOUSE_URL", raising=False)
    path = _secrets(tmp_path, '[connections.clickhouse]\nhost = "ch"\nsecure = true\n'
                              'username = "bob"\npassword = "p@ss"\ndatabase = "tel"\n')
    assert resolve_dsn(None, path) == "https://bob:p%40ss@ch:8443/tel"


def test_without_configuration_the_embedded_default_is_used(tmp_path, monkeypatch):
    monkeypatch.delenv("CLICKHOUSE_URL", raising=False)
    assert resolve_dsn(None, tmp_path / "absent.toml") == default_dsn()
    assert default_dsn().startswith("chdb:///") and default_dsn().endswith(".data/telemetry")


def test_a_secrets_section_without_url_or_host_is_an_error():
    with pytest.raises(SourceError, match="needs 'url' or 'host'"):
        dsn_from_settings({"user": "x"})


def test_the_example_secrets_file_parses(monkeypatch):
    from analytics.store.dsn import PROJECT_ROOT, secrets_section

    section = secrets_section(PROJECT_ROOT / ".streamlit" / "secrets.toml.example")
    assert dsn_from_settings(section).startswith("https://")


def test_an_invalid_secrets_file_is_an_error_not_a_fallback_to_the_embedded_store(tmp_path, monkeypatch):
    monkeypatch.delenv("CLICKHOUSE_URL", raising=False)
    path = _secrets(tmp_path, '[connections.clickhouse]\nurl = "http://h:8123/db\n')
    with pytest.raises(SourceError, match="secrets.toml: not valid TOML"):
        resolve_dsn(None, path)


def test_a_connections_entry_that_is_not_a_table_is_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv("CLICKHOUSE_URL", raising=False)
    path = _secrets(tmp_path, 'connections = "http://h:8123/db"\n')
    with pytest.raises(SourceError, match=r"\[connections.clickhouse\] must be a table"):
        resolve_dsn(None, path)
