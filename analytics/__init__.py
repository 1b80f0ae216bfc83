"""Reliability analytics for ML model serving: store, schema, SLOs, GPU efficiency, forecasts.

Importable without streamlit; nothing here does I/O at import time.
"""
