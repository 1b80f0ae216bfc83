"""The Streamlit connection to ClickHouse (embedded chDB or a server), one per process."""

from __future__ import annotations

import os

import streamlit as st
from streamlit.connections import BaseConnection

from analytics.store.client import Store
from analytics.store.dsn import ENV_VAR, default_dsn, dsn_from_settings
from analytics.store.schema import open_store


class ClickHouseConnection(BaseConnection[Store]):
    """st.connection type: resolves the DSN (env var, secrets section, embedded default)."""

    def _connect(self, **kwargs) -> Store:
        dsn = kwargs.get("dsn") or os.environ.get(ENV_VAR)
        if not dsn:
            section = self._secrets.to_dict() if self._secrets else {}
            dsn = dsn_from_settings(section) if section else default_dsn()
        return open_store(dsn)

    @property
    def store(self) -> Store:
        """The shared store."""
        return self._instance


def get_store() -> Store:
    """The process-wide store (cached by Streamlit as a resource)."""
    return st.connection("clickhouse", type=ClickHouseConnection).store
