"""SLOs: status of every SLO (worst first) and a detail view of one."""

from datetime import UTC, datetime

import polars as pl
import streamlit as st

from analytics import columns as cols
from analytics.charts import slo as charts_slo
from analytics.charts.review import add_markers
from analytics.errors import InputError
from analytics.slo import corrections as slo_corrections
from analytics.slo.budget import minutes_text
from analytics.slo.files import MAX_FILE_BYTES
from analytics.slo.groups import label_keys
from analytics.slo.sli import resolve
from analytics.slo.spec import target_digits
from analytics.slo.state import SLO_STATES
from ui import format as fmt
from ui import review
from ui import slo as slo_ui
from ui.page import linked, panel, setup
from ui.tables import show_table

filters = setup("SLOs")
text, source = slo_ui.config()
with st.expander(f"SLO definitions: {fmt.text(source)}"):
    upload = st.file_uploader("Use another SLO file for this session (our YAML or OpenSLO v1)",
                              type=["yaml", "yml"], key="slo_upload")
    if upload is not None and upload.size > MAX_FILE_BYTES:
        st.error(f"{fmt.text(upload.name)}: {upload.size} bytes is over the SLO file limit of {MAX_FILE_BYTES} bytes")
    elif upload is not None:
        try:
            st.session_state[slo_ui.CONFIG_KEY] = (upload.getvalue().decode(), upload.name)
            text, source = st.session_state[slo_ui.CONFIG_KEY]
        except UnicodeDecodeError:
            st.error(f"{fmt.text(upload.name)}: not UTF-8 text (an SLO file is YAML)")
    if slo_ui.CONFIG_KEY in st.session_state and st.button("Back to the project's slos.yaml", key="slo_reset"):
        del st.session_state[slo_ui.CONFIG_KEY]
        st.rerun()
    st.code(text, language="yaml")
slos = slo_ui.slos_or_stop()

at = slo_ui.at_time(filters.end)
with panel("SLO status", stop=True):  # the detail below needs it
    loaded = slo_ui.load(filters, (text, source))
catalog, shown, table = loaded.catalog, loaded.shown, loaded.status
st.caption(f"Evaluated at {at:%Y-%m-%d %H:%M} UTC (the end of the sidebar's time range); each SLO uses "
           "its own window. Alerts: Google SRE Workbook multiwindow, multi-burn-rate tiers, thresholds "
           "scaled to the SLO period.")
if table.is_empty():
    st.info("No SLO covers the selected deployments or regions.")
    st.stop()

# The headline counts the state column below, so the two always agree: every SLO state but ok.
HEADLINE = tuple(s for s in SLO_STATES if s != "ok")
k = st.columns(1 + len(HEADLINE))
fmt.metric(k[0], "slo_count", len(shown))
for column, state in zip(k[1:], HEADLINE, strict=True):
    fmt.state_count(column, state, int((table["state"] == state).sum()))
partial = table.filter((pl.col("state") != "no data") & (pl.col("window_covered") < 1))
if partial.height:
    st.warning("Data covers only part of the window for " + ", ".join(
        f"{r['slo']} ({cols.text('window_covered', r['window_covered'])} of {r['window']})" for r in partial.iter_rows(named=True))
        + ": their numbers are for that part alone, not the whole window.")
NO_GROUPING = "none"
keys = label_keys([s for s in slos if s.name in shown])
group_by = linked(st.selectbox, "Group by", [NO_GROUPING, *keys], key="slo_group_by", param="group",
                  default=NO_GROUPING, allowed=[NO_GROUPING, *keys],
                  help="Roll the table up per value of an SLO label (the SLO file's labels: team, service, tier...)")
if group_by != NO_GROUPING:
    grouped = slo_ui.groups((text, source), at, shown, group_by)
    show_table(grouped, f"SLOs by {group_by}",
               columns=cols.table_columns("SLO groups", grouped.columns),
               caption=f"One row per value of the label {fmt.text(group_by)}, worst first: the worst state of its SLOs, "
               "the budget spent (1 - budget left) averaged over its SLOs weighted by their valid events in the "
               "window, and how many SLOs it holds. SLOs without the label form the group shown as "
               f"{cols.MISSING}.")
show_table(table.select("slo", "state", "window_covered", "attainment",
                        "target", "budget_remaining", "budget_remaining_minutes", "budget_minutes", "burn_rate_1h",
                        "hours_to_exhaustion",
                        "firing", "held_back", "pages", "tickets", "window", "sli", "scope", "good", "valid",
                        "exact"), "SLO status",
           caption="Worst first: breached (budget overspent), paging, ticket, at risk (by default under 25% of the budget "
           "left, or gone within 3 days at the 1h burn), partial history (by default data covers under 95% of the "
           "window; both set per SLO file: at_risk, partial_history_below), no data (no valid events in the window: not measured), ok; then by budget remaining. Window covered = share of the window from the first slot with "
           "data. Budget remaining = 1 - bad / ((1 - target) x valid), negative when overspent; in minutes "
           "(SRE Workbook ch. 2): bad-slice allowance for timeslices, at the window's mean rate for "
           "occurrences. Held back: burning tiers the minimum-traffic guard keeps quiet. Hours to "
           "exhaustion assume the 1h burn rate continues.")

names = table["slo"].to_list()


def corrections() -> None:
    """The budget corrections in force (the SLO file's and the page's), a form adding one and one
    withdrawing one added here."""
    with st.expander("Budget corrections: maintenance windows and known exclusions"):
        listed = [c for s in slos for c in s.corrections]
        listed = list(dict.fromkeys(listed)) + list(slo_ui.stored_corrections(at))
        show_table(slo_corrections.table(listed), "budget corrections",
                   caption="Their 5-minute slots (any slot a window overlaps) count in no budget, burn rate, alert "
                   "or weekly review; the charts below shade them. The SLO file's `corrections:` and the ones "
                   "added here (kept in the store: one withdrawn below stays on record, who and why).")
        all_slos = "all SLOs"
        with st.form("add_correction", clear_on_submit=True):
            c = st.columns(3)
            scoped = [s.name for s in slos if s.composite is None]  # a composite reads its objectives' counts
            which = c[0].selectbox("SLO", [all_slos, *scoped], key="correction_slo")
            day = c[1].date_input("Start date (UTC)", value=at.date(), key="correction_day")
            clock = c[2].time_input("Start time (UTC)", value=at.time().replace(second=0, microsecond=0),
                                    key="correction_time", step=300)
            c = st.columns(3)
            duration = c[0].text_input("Duration", value="1h", key="correction_duration",
                                       help="e.g. 30m, 2h, 1d (at most 31d)", max_chars=10)
            reason = c[1].text_input("Reason", key="correction_reason", max_chars=slo_corrections.MAX_REASON_CHARS)
            who = c[2].text_input("Who", key="correction_who", max_chars=slo_corrections.MAX_WHO_CHARS)
            if st.form_submit_button("Add correction"):
                try:
                    slo_ui.add_correction([] if which == all_slos else [which],
                                          datetime.combine(day, clock, tzinfo=UTC), duration, reason, who, scoped)
                except InputError as exc:
                    st.error(f"Not added: {fmt.text(exc)}")
                else:
                    forget_review()
                    st.rerun()
        withdrawable = [c for c in listed if c.added_at is not None]
        if withdrawable:
            with st.form("withdraw_correction", clear_on_submit=True):
                st.markdown("**Withdraw a correction added here** (its events count again; it stays on record)")
                c = st.columns(3)
                picked = c[0].selectbox("Correction", withdrawable, key="withdraw_pick",
                                        format_func=lambda w: f"{w.describe()}: {w.reason} ({slo_corrections.slo_list(w)}, "
                                                              f"by {w.added_by})")
                why = c[1].text_input("Why", key="withdraw_reason", max_chars=slo_corrections.MAX_REASON_CHARS)
                who = c[2].text_input("Who", key="withdraw_who", max_chars=slo_corrections.MAX_WHO_CHARS)
                if st.form_submit_button("Withdraw correction"):
                    try:
                        slo_ui.withdraw_correction(picked, why, who)
                    except InputError as exc:
                        st.error(f"Not withdrawn: {fmt.text(exc)}")
                    else:
                        forget_review()
                        st.rerun()


def forget_review() -> None:
    """The weekly review counts corrections too: drop its cached report."""
    for loader in (review.report, review.figures, review.bundle_zip):
        loader.clear()


corrections()


@st.fragment  # choosing another SLO reruns the detail only, not the status table above
def detail() -> None:
    """One SLO: attainment, budget, burn rates, alert episodes."""
    st.subheader("Detail")
    name = linked(st.selectbox, "SLO", names, key="slo_detail", param="slo", default=names[0], allowed=names)
    slo = next(e.slo for e in slo_ui.evaluations(text, source, at) if e.slo.name == name)  # as evaluated (composites)
    row = table.filter(pl.col("slo") == name).row(0, named=True)
    with panel(f"SLO {fmt.text(name)}", stop=True):
        view = slo_ui.detail(text, source, at, name)
    scope = "" if slo.composite else f" · {slo.selector.describe()}"  # a composite's scopes are its objectives'
    st.caption(fmt.text(f"{slo.sli.describe()}{scope} · "
                        f"target {cols.text('target', slo.target, digits=target_digits(slo.target))} over "
                        f"{slo.window.label} · {slo.budgeting.describe()} · minimum traffic {slo.min_events} events"
                        f" · {cols.label('source')}: {row['source']}"
                        + (f" · {slo.description}" if slo.description else "")
                        + (" · labels " + ", ".join(f"{k}: {v}" for k, v in slo.labels) if slo.labels else "")))
    if slo.composite:
        st.caption(fmt.text(f"Composite of {slo.composite.members}: "
                            + ("the least healthy, with the target, window and budget of the one with the most "
                               "budget spent" if slo.composite.method == "least_healthy" else
                               "per 5-minute slot, the weighted mean of their attainment")))
    if row["state"] == "breached" and slo.policy:
        st.error(f"Error budget exhausted. Policy: {fmt.text(slo.policy)}")
    if row["state"] == "no data":
        st.info("No data: no valid events in this SLO's window, so nothing was measured (an arrival-only trace "
                "records no outcome, and 'unknown' requests count neither as good nor as bad).")
    elif row["window_covered"] < 1:
        st.warning(f"Data covers only {cols.text('window_covered', row['window_covered'])} of the {slo.window.label} window: "
                   "these numbers are for that part alone.")
    m = st.columns(5)
    digits = max(3, target_digits(slo.target) + 1)  # enough for the target's nines
    low, high = cols.text("attainment_lower", row["attainment_lower"]), cols.text("attainment_upper", row["attainment_upper"])
    bounds = "" if row["exact"] else f" (bounds {low}–{high})"
    fmt.metric(m[0], "attainment", None if row["state"] == "no data" else row["attainment"], digits=digits,
               missing="not measured", help=f"good / valid over the window{bounds}")
    fmt.metric(m[1], "budget_remaining", row["budget_remaining"])
    minutes, left = row["budget_minutes"], row["budget_remaining_minutes"]
    per = "bad slices" if slo.budgeting.method != "occurrences" else "at the window's mean request rate"
    fmt.metric(m[2], "budget_remaining_minutes", left,
               help=f"{minutes_text(left, minutes)}: the error budget as time (SRE Workbook ch. 2), {per}")
    fmt.metric(m[3], "burn_rate_1h", row["burn_rate_1h"])
    hours = row["hours_to_exhaustion"]
    fmt.metric(m[4], "hours_to_exhaustion", hours, help=cols.column("hours_to_exhaustion").tooltip)
    if row["held_back"]:
        st.info(f"Held back by the minimum-traffic guard ({slo.min_events} events in the long window): "
                f"{row['held_back']}.")
    if not row["exact"]:
        st.info(f"A threshold lies between histogram edges: attainment is an estimate{bounds}.")

    left, right = st.columns(2)
    window_start = view["sli"]["time"].min() if view["sli"].height else at
    scope, _ = resolve(slo.selector, catalog)  # deploy markers of the SLO's deployments, as annotations
    sli_figure = charts_slo.sli_chart(view["sli"], slo.target, "SLI per hour")
    with panel("Deploy markers"):  # unreadable, the chart is drawn without them
        sli_figure = add_markers(sli_figure, review.changes(window_start, at, scope))
    bands = view["corrections"]  # budget corrections, shaded grey on every chart
    left.plotly_chart(charts_slo.add_corrections(sli_figure, bands, window_start, at), width="stretch")
    right.plotly_chart(charts_slo.add_corrections(
        charts_slo.burn_down_chart({"current": view["burn_down"]}, view["period_end"]), bands, window_start,
        max(at, view["period_end"])), width="stretch")
    st.plotly_chart(charts_slo.add_corrections(charts_slo.burn_rate_chart(view["burn"], view["thresholds"]), bands,
                                               window_start, at), width="stretch")
    st.plotly_chart(charts_slo.add_corrections(charts_slo.episodes_timeline(view["episodes"], window_start, at), bands,
                                               window_start, at), width="stretch")
    show_table(view["episodes"], "alert episodes",
               caption="An episode runs from the first 5-minute evaluation where a tier of its severity fires "
               "(both windows above the threshold, enough traffic) until none does. Budget consumed is a share "
               "of the window's budget.")


detail()
