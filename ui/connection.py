"""The Streamlit connection to ClickHouse (embedded chDB or a server), one per process."""

from __future__ import annotations

import streamlit as st
from streamlit.connections import BaseConnection

from analytics.store.client import Store
from analytics.store.dsn import resolve_dsn
from analytics.store.schema import open_store


class ClickHouseConnection(BaseConnection[Store]):
    """st.connection type: the command line's rule (analytics.store.dsn.resolve_dsn: env var,
    .streamlit/secrets.toml, embedded default), read by us so an invalid secrets file is
    reported, never replaced by a new empty embedded store."""

    def _connect(self, **kwargs) -> Store:
        return open_store(resolve_dsn(kwargs.get("dsn")))

    @property
    def store(self) -> Store:
        """The shared store."""
        return self._instance


def get_store() -> Store:
    """The process-wide store (cached by Streamlit as a resource)."""
    return st.connection("clickhouse", type=ClickHouseConnection).store
