"""Resolve which ClickHouse to talk to: one rule for the command line and the app.

Order: an explicit DSN (``--dsn``), else the ``CLICKHOUSE_URL`` environment variable, else
``[connections.clickhouse]`` in ``.streamlit/secrets.toml``, else the embedded chDB database
under ``.data/`` in the project folder.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from urllib.parse import quote

from analytics.errors import SourceError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DB_PATH = PROJECT_ROOT / ".data" / "telemetry"
ENV_VAR = "CLICKHOUSE_URL"
SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"


def default_dsn() -> str:
    """The embedded chDB database inside the project folder."""
    return f"chdb://{DEFAULT_DB_PATH}"


def dsn_from_settings(section: dict) -> str:
    """Build a DSN from a ``[connections.clickhouse]`` mapping (``url``/``dsn`` or host fields)."""
    for key in ("dsn", "url"):
        if section.get(key):
            return str(section[key])
    if not section.get("host"):
        raise SourceError(
            "[connections.clickhouse] in .streamlit/secrets.toml needs 'url' or 'host'"
        )
    scheme = "https" if section.get("secure") else "http"
    user = quote(str(section.get("username", section.get("user", "default"))), safe="")
    password = quote(str(section.get("password", "")), safe="")
    port = section.get("port", 8443 if scheme == "https" else 8123)
    database = section.get("database", "default")
    auth = f"{user}:{password}@" if password else f"{user}@"
    return f"{scheme}://{auth}{section['host']}:{port}/{database}"


def secrets_section(path: Path | None = None) -> dict:
    """The ``[connections.clickhouse]`` table of a secrets file (default SECRETS_FILE), or {} when
    absent; an unreadable or invalid file is a SourceError, never a silent fallback."""
    path = path or SECRETS_FILE
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise SourceError(f"{path}: not valid TOML ({exc}); fix it or remove it (the embedded "
                          "database is used only when no connection is configured)") from None
    section = data.get("connections", {})
    section = section.get("clickhouse", {}) if isinstance(section, dict) else None
    if not isinstance(section, dict):
        raise SourceError(f"{path}: [connections.clickhouse] must be a table of settings")
    return section


def resolve_dsn(explicit: str | None = None, secrets_path: Path | None = None) -> str:
    """Return the DSN to use, following the documented order."""
    if explicit:
        return explicit
    if os.environ.get(ENV_VAR):
        return os.environ[ENV_VAR]
    section = secrets_section(secrets_path)
    if section:
        return dsn_from_settings(section)
    return default_dsn()
