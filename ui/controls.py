"""A slider over fixed stops with an exact number input beside it, kept in sync, in the URL.

The what-if target moves in nines and its thresholds on histogram edges
(analytics.slo.whatif.target_stops, threshold_stops); any exact value can be typed. The typed
value is the choice: moving the slider writes its stop into the number input, typing moves the
slider to the nearest stop. The number input's value is the one linked to the URL.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from ui.page import linked


def reset(key: str, value: float, snap: Callable[[float], float]) -> None:
    """Put a pair at a value (e.g. a newly chosen SLO's own target): slider at the nearest stop."""
    st.session_state[f"{key}_exact"] = value
    st.session_state[key] = snap(value)


def stops_with_exact(where, label: str, stops: tuple[float, ...], *, key: str, param: str, default: float,
                     snap: Callable[[float], float], show: Callable[[float], str], unit: str, low: float,
                     high: float, step: float, number_format: str) -> float:
    """Draw the pair in `where` (slider above, exact input below) and return the exact value.

    The slider's key is `key` (its value a stop), the number input's `key`_exact.
    """
    exact = f"{key}_exact"

    def typed() -> None:
        st.session_state[key] = snap(st.session_state[exact])

    def moved() -> None:
        st.session_state[exact] = st.session_state[key]

    upper, lower = where.container(), where.container()
    value = linked(lower.number_input, f"{label} (exact, {unit})", key=exact, param=param, default=default, parse=float,
                   allowed=lambda v: low <= v <= high, why=f"not a number from {show(low)} to {show(high)}",
                   min_value=low, max_value=high, step=step, format=number_format, on_change=typed)
    if st.session_state.get(key) not in stops:
        st.session_state[key] = snap(value)
    upper.select_slider(label, stops, key=key, format_func=show, on_change=moved)
    return float(value)
