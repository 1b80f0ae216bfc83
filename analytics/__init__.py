"""Reliability analytics for ML model serving: store, schema, SLOs, GPU efficiency, forecasts.

Importable without streamlit; nothing here does I/O at import time.
"""

from pathlib import Path

# The checkout's folder: .data/ (embedded store, forecast cache) and the module path of worker processes.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
