"""Every page starts with setup(): page config, navigation, connection badge, global filters.

Filters (time range, deployments, regions) persist across pages in session state and are
mirrored into the URL query string, so a copied link reproduces the view. A page's own choices
(the SLO in a detail view, a what-if target...) go through linked(), which seeds the widget from
the URL and writes the choice back beside the filters.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import streamlit as st

from analytics.errors import SourceError
from analytics.times import DEFAULT_RANGE, PRESETS, Filters, preset_span
from ui import traffic as data
from ui import warmup
from ui.connection import get_store
from ui.format import text

ROOT = Path(__file__).resolve().parent.parent
SAVED = "_saved_filters"
CHOICES = "_page_choices"  # each page's last choices (linked), kept while the user visits other pages
FILTER_PARAMS = ("range", "region", "dep", "from", "to")  # the URL parameters the global filters own
# A link's value longer than any name the store holds (analytics.ingest.readers.MAX_TEXT_CELL_BYTES)
# is refused unread; a value a warning quotes is cut to SHOWN_CHARS (a 100,000-character value
# quoted in full took the browser over a minute to draw).
MAX_PARAM_CHARS = 1024
SHOWN_CHARS = 80


def _pages() -> list[tuple[str, str]]:
    pages = [("app.py", "Overview")]
    for path in sorted((ROOT / "pages").glob("*.py"), key=lambda p: int(p.name.split("_")[0])):
        pages.append((f"pages/{path.name}", path.stem.split("_", 1)[1].replace("_", " ")))
    return pages


def _navigation() -> None:
    with st.sidebar:
        st.markdown("### Serving reliability")
        for script, label in _pages():
            st.page_link(script, label=label)
        st.divider()


def _seed(key: str, value) -> None:
    """Give a widget its initial value once (from the URL or the saved filters), and keep it when
    the user moves to another page: Streamlit ties a widget's state to the page that drew it (the
    sidebar's time range came back as "Last 24 hours" after a page link), while a value written
    through session state carries over, so the current value is written back on every run."""
    st.session_state[key] = st.session_state[key] if key in st.session_state else value


def _shown(raw: object) -> str:
    """A value from the link as a warning quotes it: at most SHOWN_CHARS characters (then '…'),
    made literal for markdown."""
    raw = str(raw)
    return text(raw if len(raw) <= SHOWN_CHARS else raw[:SHOWN_CHARS] + "…")


def _too_long(name: str, raw: str) -> bool:
    """Whether a link's value is over MAX_PARAM_CHARS (said in one line, then ignored)."""
    if len(raw) <= MAX_PARAM_CHARS:
        return False
    st.warning(f"Ignored {name}={_shown(raw)} in the link: longer than {MAX_PARAM_CHARS} characters.")
    return True


def _initial(name: str, default, many: bool = False):
    params = st.query_params
    if name in params:
        if many:
            return [value for value in params.get_all(name) if not _too_long(name, value)]
        return default if _too_long(name, params[name]) else params[name]
    return st.session_state.get(SAVED, {}).get(name, default)


def _span() -> tuple[datetime, datetime, int]:
    """The data's (start, end, requests); an empty store shows the last day."""
    found = data.data_range()
    if found is None:
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        return now - timedelta(days=1), now, 0
    return found


def _custom_dates(data_start: datetime, data_end: datetime) -> tuple[date, date]:
    """The custom range from the link (?from=&to=) or the saved filters, kept inside the data;
    a value that is not a date, or lies outside the data, is said so and replaced."""
    low = data_start.date()
    high = max(low, (data_end - timedelta(seconds=1)).date())
    defaults = {"from": max(low, (data_end - timedelta(days=7)).date()), "to": high}
    picked = {}
    for name, default in defaults.items():
        raw = _initial(name, default.isoformat())
        try:
            day = date.fromisoformat(str(raw))
        except ValueError:
            st.warning(f"Ignored {name}={_shown(raw)} in the link: not a date (YYYY-MM-DD).")
            day = default
        if not low <= day <= high:
            st.warning(f"{name}={day} in the link is outside the data ({low} to {high}): using the nearest day.")
            day = min(max(day, low), high)
        picked[name] = day
    return min(picked.values()), max(picked.values())


def _sidebar_filters(data_start: datetime, data_end: datetime) -> Filters:
    options = data.filter_options()
    all_deployments = sorted(set(options["deployment"].to_list()))
    all_regions = sorted({r for r in options["region"].to_list() if r})
    with st.sidebar:
        st.markdown("**Filters**")
        range_key = _initial("range", DEFAULT_RANGE)
        _seed("filter_range", range_key if range_key in PRESETS else DEFAULT_RANGE)
        choice = st.selectbox("Time range", list(PRESETS), format_func=lambda k: PRESETS[k][0],
                              key="filter_range", help="Relative to the newest data")
        if choice == "custom":
            _seed("filter_dates", None if "filter_dates" in st.session_state else _custom_dates(data_start, data_end))
            picked = st.date_input("Dates (UTC)", key="filter_dates",
                                   min_value=data_start.date(), max_value=data_end.date())
            day0, day1 = (picked if isinstance(picked, tuple) and len(picked) == 2 else (picked[0],) * 2)
            start = datetime.combine(day0, time(), UTC)
            end = min(datetime.combine(day1, time(), UTC) + timedelta(days=1), data_end)
        else:
            start, end = preset_span(choice, data_start, data_end)
        _seed("filter_regions", [r for r in _initial("region", [], many=True) if r in all_regions])
        regions = st.multiselect("Regions", all_regions, key="filter_regions", placeholder="All regions")
        in_region = sorted({d for d, r in options.iter_rows() if not regions or r in regions})
        _seed("filter_deployments", [d for d in _initial("dep", [], many=True) if d in all_deployments])
        if any(d not in in_region for d in st.session_state["filter_deployments"]):
            st.session_state["filter_deployments"] = [
                d for d in st.session_state["filter_deployments"] if d in in_region]
        deployments = st.multiselect("Deployments", in_region, key="filter_deployments",
                                     placeholder="All deployments")
    saved = {"range": choice, "region": regions, "dep": deployments}
    if choice == "custom":
        saved |= {"from": start.date().isoformat(), "to": (end - timedelta(seconds=1)).date().isoformat()}
    st.session_state[SAVED] = saved
    for name in FILTER_PARAMS:  # only the filters' own parameters: a page's choices stay in the link
        if saved.get(name):
            st.query_params[name] = saved[name]
        elif name in st.query_params:
            del st.query_params[name]
    return Filters(start, end, tuple(deployments), tuple(regions), data_start, data_end)


def show_dates(first: date, last: date) -> None:
    """Switch the time range to the custom dates [first, last] (a button's on_click: it runs
    before the sidebar's widgets are drawn, so they take the new value)."""
    st.session_state["filter_range"] = "custom"
    st.session_state["filter_dates"] = (first, last)


def linked(widget: Callable, label: str, *args, key: str, param: str, default, parse: Callable = str,
           allowed: Collection | Callable | None = None, show: Callable = str,
           why: str = "not one of the choices here", **kwargs):
    """Draw a page choice whose value comes from the link (?param=) and goes back into it.

    On the widget's first run its value is the URL's (parsed with `parse`, and kept when in
    `allowed`, a collection or a predicate), else `default`; a value that does not parse or is
    not allowed is said in one line (with `why`) and replaced by `default`. After every run the choice is
    written to the URL with `show`, beside the global filters. The page passes no value/index of
    its own: the session state seeded here is the widget's value.
    """
    chosen = st.session_state.setdefault(CHOICES, {})
    if key not in st.session_state:  # first run here, or back from another page (which drops widget state)
        kept = chosen.get(key)
        if param not in st.query_params and kept is not None and _allowed(kept, allowed):
            st.session_state[key] = kept
        else:
            st.session_state[key] = _from_link(param, default, parse, allowed, why, show)
    value = widget(label, *args, key=key, **kwargs)
    chosen[key] = value
    st.query_params[param] = show(value)
    return value


def _allowed(value, allowed: Collection | Callable | None) -> bool:
    return allowed is None or (allowed(value) if callable(allowed) else value in allowed)


def _from_link(param: str, default, parse: Callable, allowed: Collection | Callable | None, why: str,
               show: Callable):
    if param not in st.query_params:
        return default
    raw = st.query_params[param]
    if _too_long(param, raw):
        return default
    try:
        value = parse(raw)
    except (TypeError, ValueError):
        value = None
    ok = value is not None and _allowed(value, allowed)
    if not ok:
        st.warning(f"Ignored {param}={_shown(raw)} in the link: {why}; showing {_shown(show(default))}.")
        return default
    return value


def _badge(data_start: datetime, data_end: datetime, requests: int) -> None:
    store = get_store()
    with st.sidebar:
        st.divider()
        engine = "embedded chDB" if store.target.engine == "chdb" else "ClickHouse server"
        st.caption(f"**{engine}** · {text(store.target.location)}")
        if requests:
            st.caption(f"Data {data_start:%Y-%m-%d %H:%M} → {data_end:%Y-%m-%d %H:%M} UTC · "
                       f"{requests:,} requests")
        elif data.data_range():  # exported histograms (or GPU samples) without request rows
            st.caption(f"Data {data_start:%Y-%m-%d %H:%M} → {data_end:%Y-%m-%d %H:%M} UTC · no request rows")
        else:
            st.caption("No request data yet: run `python -m analytics demo` or upload on the Data page.")
        if warmup.running():
            st.caption("⏳ The server started moments ago and is still loading the pages' data: this page may "
                       "take a few seconds longer.")


@contextlib.contextmanager
def panel(what: str, *, stop: bool = False):
    """One panel of a page: if the store fails inside it (server error, refused, timeout), the
    panel shows one line saying what could not be read, and the rest of the page carries on
    (or, with stop=True, for a panel every later one needs, the page ends there)."""
    try:
        yield
    except SourceError as exc:
        st.error(f"{what}: cannot read telemetry: {text(exc)}")
        if stop:
            st.stop()


def setup(title: str) -> Filters:
    """Configure the page and draw navigation, filters and the connection badge."""
    st.set_page_config(page_title=f"{title} · Serving reliability", layout="wide")
    warmup.visited(title)
    _navigation()
    try:
        data_start, data_end, requests = _span()
        filters = _sidebar_filters(data_start, data_end)
        _badge(data_start, data_end, requests)
    except SourceError as exc:
        st.title(title)
        st.error(f"Cannot read telemetry: {text(exc)}")
        st.info("Check the connection: the `CLICKHOUSE_URL` environment variable, or "
                "`[connections.clickhouse]` in `.streamlit/secrets.toml` (see "
                "`.streamlit/secrets.toml.example`). Without either, the embedded database in "
                "`.data/` is used.")
        st.stop()
    st.title(title)
    return filters
