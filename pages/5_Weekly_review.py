"""Weekly review: one ISO week's SLOs, incidents (with notes and owners), movers, GPU cost and capacity."""

from __future__ import annotations

import streamlit as st

from analytics import columns
from analytics.columns import MISSING, label
from analytics.errors import InputError, SourceError
from analytics.review import weekly as review_weekly
from ui import review as data
from ui import slo as slo_ui
from ui.format import text
from ui.page import linked, setup
from ui.tables import show_table

filters = setup("Weekly review")
slo_file = slo_ui.config()
slo_ui.slos_or_stop()

weeks = review_weekly.weeks_between(filters.data_start, filters.data_end)
default = review_weekly.last_complete_week(filters.data_end)
if default not in weeks:
    weeks.append(default)
week = linked(st.selectbox, "ISO week", weeks, key="review_week", param="week", default=default, allowed=weeks,
              why="no data in that week", format_func=lambda w: f"{w} (last complete)" if w == default else w)

try:
    report = data.report(week, slo_file)
except InputError as exc:
    st.info(str(exc))
    st.stop()
except SourceError as exc:
    st.error(f"Cannot read telemetry: {text(exc)}")
    st.stop()

st.caption(f"{report.start:%a %Y-%m-%d} to {report.end:%a %Y-%m-%d} UTC")
st.markdown(text(report.summary))
for caveat in report.caveats:
    st.caption(text(caveat))
st.download_button(f"Download the review of {week} (HTML + CSVs, zip)", data=data.bundle_zip(week, slo_file),
                   file_name=f"review-{week}.zip", mime="application/zip", key="download_bundle")

figures = data.figures(week, slo_file)
tables = report.tables

st.subheader(review_weekly.TABLES["slos"])
st.plotly_chart(figures["slos"], width="stretch")
show_table(tables["slos"], "SLOs this week", caption="Budget spent: bad events in the week as a share of the "
           "window's error budget at the week's end; change: this week minus the week before.")
if report.groups:  # the SLOs carry labels: roll them up by one (analytics.review.weekly.group_table)
    st.subheader(review_weekly.TABLES["groups"])
    keys = list(report.groups)
    group_by = linked(st.selectbox, "Group by", keys, key="review_group_by", param="by", default=report.group_by,
                      allowed=keys, help="Roll the SLOs up per value of an SLO label (the SLO file's labels)")
    grouped = report.groups[group_by]
    show_table(grouped, f"By {group_by}", columns=columns.table_columns("SLO groups this week", grouped.columns),
               caption=f"One row per value of the label {text(group_by)}, worst state first: the budget spent this "
               "week averaged over its SLOs weighted by their valid events in the week, how many SLOs and how many "
               f"breached. SLOs without the label form the group shown as {MISSING}.")

st.subheader(review_weekly.TABLES["incidents"])
st.plotly_chart(figures["incidents"], width="stretch")
show_table(tables["incidents"], "Incidents this week")
for row in tables["incidents"].iter_rows(named=True):
    key = row["incident_key"]
    with st.expander(f"Incident {row['incident']}: {row['severity']} from {row['start']:%a %H:%M} UTC "
                     f"({text(row['slos'])})"):  # a label is markdown: SLO names made literal
        st.markdown(f"**{label('top_cause')}:** {text(row['top_cause'] or MISSING)}")
        st.markdown(f"**Changes before it:** {text(row['preceding_changes'] or 'none found')}")
        if row["note"]:
            st.markdown(f"**Note** by {text(row['owner'])} ({row['noted_at']:%Y-%m-%d %H:%M} UTC): "
                        f"{text(row['note'])}")
        with st.form(f"note_{key}", clear_on_submit=True):
            note = st.text_area("Note", key=f"note_text_{key}", max_chars=2000)
            owner = st.text_input("Owner", value=row["owner"] or "", key=f"note_owner_{key}", max_chars=100)
            if st.form_submit_button("Save note"):
                try:
                    data.add_note(key, note, owner)
                except InputError as exc:
                    st.error(text(exc))
                else:
                    st.rerun()

show_table(tables["attribution"], "Attribution", caption="The three dimension values most over-represented "
           "among each incident's bad events (score = share of bad events - share of good events).")
show_table(tables["changes"], "Changes this week")

st.subheader(review_weekly.TABLES["movers"])
show_table(tables["movers"], "Latency and error movers", caption="This week against the week before, by the "
           "Overview's rule: changes beyond chance (|z| >= 3), what got worse first, strongest evidence first; "
           "'new' where the week before had too few events for a relative change.")

st.subheader(review_weekly.TABLES["gpu"])
st.plotly_chart(figures["gpu"], width="stretch")
show_table(tables["gpu"], "GPU cost", caption="Monthly saving: the right-sizing suggestion from each "
           "week's peak hours (GPU page).")

st.subheader(review_weekly.TABLES["capacity"])
show_table(tables["capacity"], "Capacity outlook")

st.subheader(review_weekly.TABLES["corrections"])
show_table(tables["corrections"], "Budget corrections this week", caption="Maintenance windows and known "
           "exclusions (the SLO file's and those added on the SLOs page) that overlapped the week, clipped to it: "
           "their 5-minute slots count in no budget, burn rate or alert above. Excluded events: the valid events "
           "of its SLOs in those slots.")
