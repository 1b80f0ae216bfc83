"""What if: move an SLO's target, threshold(s) or window and compare against the current one."""

import streamlit as st

from analytics import columns
from analytics.charts import slo as charts_slo
from analytics.slo.spec import revise, target_digits
from analytics.slo.whatif import (
    compare,
    comparison_frame,
    error_bound_note,
    fewer_pages_note,
    nearest_edge,
    nearest_target_stop,
    suggest_target,
    target_stops,
    threshold_stops,
)
from ui import controls
from ui import format as fmt
from ui import slo as slo_ui
from ui.page import linked, panel, setup
from ui.tables import show_table

WINDOWS = ["7d", "28d", "30d", "calendar-week", "calendar-month"]
TARGETS = target_stops()

filters = setup("What if")
text, source = slo_ui.config()
slos = {s.name: s for s in slo_ui.slos_or_stop() if s.composite is None}  # a composite has no threshold to move
at = slo_ui.at_time(filters.end)


def _percent(value: float) -> str:
    return f"{value:g}%"


def _ms(value: float) -> str:
    return f"{value:g} ms"


@st.fragment  # a control reruns this part only; the sidebar and filters stay as they are
def whatif() -> None:
    """Controls and results: a move recomputes from the cached histograms (no query)."""
    name = linked(st.selectbox, "SLO", list(slos), key="whatif_slo", param="slo", default=next(iter(slos)),
                  allowed=slos)
    slo = slos[name]
    thresholds = {"latency": {"threshold_ms": slo.sli.threshold_ms},
                  "goodput": {"ttft_ms": slo.sli.ttft_ms, "tpot_ms": slo.sli.tpot_ms}}.get(slo.sli.kind, {})
    target0 = min(max(round(slo.target * 100, 6), 1.0), 99.9999)
    if st.session_state.get("whatif_for", name) != name:  # another SLO: start from its current values
        controls.reset("whatif_target", target0, nearest_target_stop)
        st.session_state["whatif_window"] = slo.window.label
        for key, value in thresholds.items():
            controls.reset(f"whatif_{key.removesuffix('_ms')}", float(value), nearest_edge)  # an edge of its stops
        for param in {"threshold", "ttft", "tpot"} - {k.removesuffix("_ms") for k in thresholds}:
            st.query_params.pop(param, None)  # another kind's thresholds leave the link
    st.session_state["whatif_for"] = name

    st.caption(f"Current: {fmt.text(slo.sli.describe())} · target {columns.text('target', slo.target, digits=target_digits(slo.target))} "
               f"over {slo.window.label} · {slo.budgeting.describe()}. Evaluated at {at:%Y-%m-%d %H:%M} UTC; alerts are replayed over the "
               "longer of the two windows. Everything is recomputed from cached histograms, not raw requests.")
    c = st.columns(2 + len(thresholds))
    target = controls.stops_with_exact(
        c[0], "Target", TARGETS, key="whatif_target", param="target", default=target0, snap=nearest_target_stop,
        show=_percent, unit="%", low=1.0, high=99.9999, step=0.01, number_format="%.4f")
    windows = WINDOWS if slo.window.label in WINDOWS else [slo.window.label, *WINDOWS]
    window = linked(c[1].selectbox, "Window", windows, key="whatif_window", param="window", default=slo.window.label,
                    allowed=windows)
    changes = {}
    for i, (key, value) in enumerate(thresholds.items()):
        short, stops = key.removesuffix("_ms"), threshold_stops(value)
        changes[key] = controls.stops_with_exact(
            c[2 + i], "Latency threshold" if short == "threshold" else f"{short.upper()} threshold", stops, key=f"whatif_{short}", param=short, default=float(value),
            snap=lambda v, s=stops: nearest_edge(v, s), show=_ms, unit="ms", low=0.1, high=800_000.0, step=1.0,
            number_format="%.1f")
    results(name, slo, revise(slo, target=target, window=window, **changes))


def results(name: str, slo, proposed) -> None:
    """Current against proposed: metrics, burn-down, comparison, alert episodes, a suggested target."""
    with panel(f"SLO {fmt.text(name)}", stop=True):
        data = slo_ui.whatif_scope(text, source, at, name)
    current, new = compare(slo, proposed, data, at)
    note = error_bound_note(proposed)
    if note:
        st.info(note)

    left, right = st.columns(2)
    for col, label, o, other in ((left, "Current", current, None), (right, "Proposed", new, current)):
        s = o.evaluation.status
        col.markdown(f"**{label}**: {fmt.text(o.slo.sli.describe())}, {columns.text('target', o.slo.target, digits=target_digits(o.slo.target))} over "
                     f"{fmt.text(o.slo.window.label)}")
        m = col.columns(2) + col.columns(2)
        low, high = columns.text("attainment_lower", s.attainment_lower), columns.text("attainment_upper", s.attainment_upper)
        bounds = "" if s.exact else f" (bounds {low}–{high})"
        fmt.metric(m[0], "attainment", s.attainment, help=f"good / valid over the window{bounds}")
        fmt.metric(m[1], "budget_remaining", s.remaining)
        fmt.metric(m[2], "pages", o.pages, delta=None if other is None else o.pages - other.pages,
                   delta_color="inverse")
        fmt.metric(m[3], "tickets", o.tickets, delta=None if other is None else o.tickets - other.tickets,
                   delta_color="inverse")

    merged = fewer_pages_note(current, new)
    if merged:
        st.caption(merged)

    period_end = max(current.evaluation.status.window_start + current.slo.window.period(at),
                     new.evaluation.status.window_start + new.slo.window.period(at))
    st.plotly_chart(charts_slo.burn_down_chart({"current": current.burn_down, "proposed": new.burn_down}, period_end),
                    width="stretch")
    show_table(slo_ui.comparison_display(comparison_frame(current, new)), "what-if comparison",
               caption="Units are events for occurrences and slices for timeslice budgeting.")
    replay_start = min(current.evaluation.status.window_start, new.evaluation.status.window_start)
    st.plotly_chart(charts_slo.episodes_timeline(new.evaluation.episodes, replay_start, at, "Alert episodes (proposed)"),
                    width="stretch")
    show_table(new.evaluation.episodes, "proposed alert episodes")

    st.subheader("Suggest a target")
    share = linked(st.slider, "Met in this share of past windows (%)", 50, 100, step=5, key="whatif_share",
                   param="share", default=90, parse=int, allowed=range(50, 101, 5))
    suggestion = suggest_target(proposed, data, at, share / 100)
    if suggestion.target is None:
        st.info("Not enough history for a full past window of this length.")
    else:
        fmt.metric(st, "suggested_target", suggestion.target,
                   help=f"over {len(suggestion.windows)} windows of {proposed.window.label} ending each hour")
        chart = charts_slo.window_attainment_chart(suggestion.windows, suggestion.target, slo.target, proposed.target)
        st.plotly_chart(chart, width="stretch")


whatif()
