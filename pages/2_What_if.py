"""What if: move an SLO's target, threshold(s) or window and compare against the current one."""

import math

import streamlit as st

from analytics.charts import slo as C
from analytics.slo.spec import revise
from analytics.slo.whatif import compare, comparison_frame, error_bound_note, suggest_target
from ui import format as fmt
from ui import slo as D
from ui.page import panel, setup
from ui.tables import show_table

WINDOWS = ["7d", "28d", "30d", "calendar-week", "calendar-month"]

filters = setup("What if")
text, source = D.config()
slos = {s.name: s for s in D.slos_or_stop()}
at = D.at_time(filters.end)
name = st.selectbox("SLO", list(slos), key="whatif_slo")
slo = slos[name]


def _slider_range(t: float) -> tuple[float, float, float]:
    step = 10.0 ** (math.floor(math.log10(t)) - 1)
    return max(step, round(t / 4 / step) * step), round(t * 4 / step) * step, step


thresholds = {"latency": {"threshold_ms": slo.sli.threshold_ms},
              "goodput": {"ttft_ms": slo.sli.ttft_ms, "tpot_ms": slo.sli.tpot_ms}}.get(slo.sli.kind, {})
if st.session_state.get("whatif_for") != name:  # a new SLO: sliders start at its current values
    st.session_state["whatif_for"] = name
    st.session_state["whatif_target"] = min(max(round(slo.target * 100, 2), 90.0), 99.99)
    st.session_state["whatif_window"] = slo.window.label
    for key, value in thresholds.items():
        st.session_state[f"whatif_{key.removesuffix('_ms')}"] = float(value)

st.caption(f"Current: {fmt.text(slo.sli.describe())} · target {fmt.pct(slo.target, 2)} over {slo.window.label} · "
           f"{slo.budgeting.describe()}. Evaluated at {at:%Y-%m-%d %H:%M} UTC; alerts are replayed over the "
           "longer of the two windows. Everything is recomputed from cached histograms, not raw requests.")
c = st.columns(2 + len(thresholds))
target = c[0].slider("Target (%)", 90.0, 99.99, step=0.01, key="whatif_target", format="%.2f")
windows = WINDOWS if slo.window.label in WINDOWS else [slo.window.label, *WINDOWS]
window = c[1].selectbox("Window", windows, key="whatif_window")
changes = {}
for i, (key, value) in enumerate(thresholds.items()):
    low, high, step = _slider_range(value)
    changes[key] = c[2 + i].slider(f"{key.removesuffix('_ms').upper()} threshold (ms)", low, high, step=step,
                                   key=f"whatif_{key.removesuffix('_ms')}")
proposed = revise(slo, target=target, window=window, **changes)

with panel(f"SLO {fmt.text(name)}", stop=True):
    data = D.whatif_scope(text, source, at, name)
current, new = compare(slo, proposed, data, at)
note = error_bound_note(proposed)
if note:
    st.info(note)

left, right = st.columns(2)
for col, label, o, other in ((left, "Current", current, None), (right, "Proposed", new, current)):
    s = o.evaluation.status
    col.markdown(f"**{label}**: {fmt.text(o.slo.sli.describe())}, {fmt.pct(o.slo.target, 2)} over "
                 f"{fmt.text(o.slo.window.label)}")
    m = col.columns(2) + col.columns(2)
    low, high = fmt.pct(s.attainment_lower, 3), fmt.pct(s.attainment_upper, 3)
    bounds = "" if s.exact else f" (bounds {low}–{high})"
    m[0].metric("Attainment", fmt.pct(s.attainment, 3), help=f"good / valid over the window{bounds}")
    m[1].metric("Budget left", fmt.pct(s.remaining, 1))
    m[2].metric("Pages", o.pages, delta=None if other is None else o.pages - other.pages,
                delta_color="inverse")
    m[3].metric("Tickets", o.tickets, delta=None if other is None else o.tickets - other.tickets,
                delta_color="inverse")

period_end = max(current.evaluation.status.window_start + current.slo.window.period(at),
                 new.evaluation.status.window_start + new.slo.window.period(at))
st.plotly_chart(C.burn_down_chart({"current": current.burn_down, "proposed": new.burn_down}, period_end),
                width="stretch")
show_table(D.comparison_display(comparison_frame(current, new)), "what-if comparison",
           caption="Units are events for occurrences and slices for timeslice budgeting.")
replay_start = min(current.evaluation.status.window_start, new.evaluation.status.window_start)
st.plotly_chart(C.episodes_timeline(new.evaluation.episodes, replay_start, at, "Alert episodes (proposed)"),
                width="stretch")
show_table(new.evaluation.episodes, "proposed alert episodes")

st.subheader("Suggest a target")
share = st.slider("Met in this share of past windows (%)", 50, 100, 90, step=5, key="whatif_share")
suggestion = suggest_target(proposed, data, at, share / 100)
if suggestion.target is None:
    st.info("Not enough history for a full past window of this length.")
else:
    st.metric("Strictest target met that often", fmt.pct(suggestion.target, 2),
              help=f"over {len(suggestion.windows)} windows of {proposed.window.label} ending each hour")
    st.plotly_chart(C.window_attainment_chart(suggestion.windows, suggestion.target, proposed.target),
                    width="stretch")
