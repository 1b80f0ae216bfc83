"""Resolve which ClickHouse to talk to: one rule for the command line and the app.

Order: an explicit DSN (``--dsn``), else the ``CLICKHOUSE_URL`` environment variable, else
``[connections.clickhouse]`` in ``.streamlit/secrets.toml``, else the embedded chDB database
under ``.data/`` in the project folder.

A server DSN may name a ClickHouse cluster, ``...?cluster=NAME`` (or ``cluster = "NAME"`` in the
secrets section): the schema is then created ON CLUSTER with Replicated local tables under
Distributed ones (analytics.store.ddl). The parameter is ours, taken out before the DSN reaches
the driver (which passes other query parameters on as settings).

A user or password with an unencoded '/', '?' or '#' is refused before any parser reads the DSN
(check_credentials), with the DSN shown without them: a URL parser would read the password as
host, port or path and echo it in its error.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from analytics import PROJECT_ROOT
from analytics.errors import SourceError

DEFAULT_DB_PATH = PROJECT_ROOT / ".data" / "telemetry"
ENV_VAR = "CLICKHOUSE_URL"
SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"
CLUSTER_PARAM = "cluster"
# A cluster name goes into DDL as an identifier (ON CLUSTER name, Distributed(name, ...)).
CLUSTER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


CHDB_SCHEME = "chdb://"
# RFC 3986 section 3.2: the authority (user:password@host:port) ends at the first '/', '?' or '#'.
AUTHORITY_END = re.compile(r"[/?#]")


def _credentials_split(dsn: str) -> tuple[str, str, str]:
    """(scheme://, user and password, the rest after their '@'), read from the raw text without a
    URL parser: the credentials run to the last '@' (no host holds one); ('', '', dsn) without
    '://', and (scheme://, '', rest) without an '@'."""
    scheme, sep, after = dsn.partition("://")
    if not sep:
        return "", "", dsn
    credentials, at, rest = after.rpartition("@")
    return (scheme + sep, credentials, rest) if at else (scheme + sep, "", after)


def redacted(dsn: str) -> str:
    """`dsn` with its user and password replaced by [redacted] (from the raw text: never fails)."""
    scheme, credentials, rest = _credentials_split(dsn)
    return f"{scheme}[redacted]@{rest}" if credentials else dsn


def check_credentials(dsn: str) -> None:
    """Refuse a server DSN whose user or password holds an unencoded '/', '?' or '#' (a URL parser
    would take the password for host, port or path), naming the DSN without them."""
    if dsn.startswith(CHDB_SCHEME):  # a path, which may hold '@'
        return
    _, credentials, _ = _credentials_split(dsn)
    if AUTHORITY_END.search(credentials):
        raise SourceError(f"not a valid ClickHouse DSN: {redacted(dsn)!r}: the user or password holds an "
                          "unencoded '/', '?' or '#'; percent-encode them (%2F, %3F, %23; '@' is %40)")


def with_cluster(dsn: str, cluster: str) -> str:
    """`dsn` with ``cluster=NAME`` added to its query string."""
    parts = urlsplit(dsn)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(CLUSTER_PARAM, cluster)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def split_cluster(dsn: str) -> tuple[str, str]:
    """(the DSN without our ``cluster`` parameter, the cluster name or ''); a bad name, or a cluster
    on the embedded engine, is a SourceError (so is a DSN check_credentials refuses: this is the
    first reading of the DSN)."""
    check_credentials(dsn)
    try:
        parts = urlsplit(dsn)
    except ValueError:  # a malformed DSN: analytics.store.client.describe says what is wrong
        return dsn, ""
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = [v for k, v in query if k == CLUSTER_PARAM]
    if not names:
        return dsn, ""
    cluster = names[-1]
    if not CLUSTER_NAME.match(cluster):
        raise SourceError(f"cluster={cluster!r} in the DSN: not a cluster name (letters, digits and _, "
                          "as in the server's remote_servers)")
    if parts.scheme == "chdb":
        raise SourceError(f"cluster={cluster} in the DSN: the embedded engine has no cluster; "
                          "point the DSN at a server of the cluster")
    rest = urlencode([(k, v) for k, v in query if k != CLUSTER_PARAM])
    return urlunsplit(parts._replace(query=rest)), cluster


def default_dsn() -> str:
    """The embedded chDB database inside the project folder."""
    return f"chdb://{DEFAULT_DB_PATH}"


def dsn_from_settings(section: dict) -> str:
    """Build a DSN from a ``[connections.clickhouse]`` mapping (``url``/``dsn`` or host fields, and
    an optional ``cluster``)."""
    cluster = str(section.get(CLUSTER_PARAM) or "")
    for key in ("dsn", "url"):
        if section.get(key):
            return with_cluster(str(section[key]), cluster) if cluster else str(section[key])
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
    dsn = f"{scheme}://{auth}{section['host']}:{port}/{database}"
    return with_cluster(dsn, cluster) if cluster else dsn


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
