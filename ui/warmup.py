"""Warm a new server before its first visitor: imports, the store, then the Overview's queries and
charts for the default filters and the other pages' heaviest loads, in one background thread that
the launcher (ui.serve) starts beside the server.

The work goes through the pages' own cached loaders with the arguments a first visit uses, so it
fills the caches the pages read. A page opened meanwhile waits for the entry being computed
(Streamlit computes a cache entry once, however many threads ask for it) instead of computing it
again, and says that the server is still warming up. After the Overview, each step waits until no
page script is running and none started for QUIET_S, so loading pages nobody asked for yet does not
slow one being opened. Prophet fits are left to the Capacity page's background fitter.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from datetime import timedelta

from streamlit.logger import get_logger

THREAD = "warm-up"
QUIET_S = 3.0  # the other pages' loads wait until no page was opened for this long
_started = threading.Event()
_done = threading.Event()
_last_visit = [0.0]  # time.monotonic() of the last page opened (ui.page.setup)
_scripts: weakref.WeakSet[threading.Thread] = weakref.WeakSet()  # threads of the pages opened
_log = get_logger(__name__)  # Streamlit's logger: its level and format, in the server's output


def running() -> bool:
    """True while the warm-up of this server process is still working."""
    return _started.is_set() and not _done.is_set()


def visited() -> None:
    """A page is being opened (ui.page.setup calls this in the page's script thread, which Streamlit
    ends when the script run is over): the other pages' loads wait."""
    _last_visit[0] = time.monotonic()
    _scripts.add(threading.current_thread())


def _when_quiet() -> None:
    while any(t.is_alive() for t in list(_scripts)) or time.monotonic() - _last_visit[0] < QUIET_S:
        time.sleep(0.2)


def start() -> threading.Thread:
    """Start the warm-up thread (daemon: it never holds the server up on exit)."""
    # Loaders called outside a page log "missing ScriptRunContext" on every call: not for this thread.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        lambda record: record.threadName != THREAD)
    _started.set()
    thread = threading.Thread(target=_run, name=THREAD, daemon=True)
    thread.start()
    return thread


def _run() -> None:
    try:
        t0 = time.perf_counter()
        _imports()
        _wait_for_runtime()
        _overview()
        _log.info("warm-up: Overview ready %.1f s after start", time.perf_counter() - t0)
        _other_pages()
        _log.info("warm-up: done %.1f s after start", time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - a failed warm-up only means the first visit does the work itself
        _log.warning("warm-up stopped: %s", exc)
    finally:
        _done.set()


def _imports() -> None:
    """The modules every page imports (polars, plotly, the store's client, the domains), and pandas and
    pyarrow, which Streamlit converts every table through."""
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401
    import pyarrow  # noqa: F401

    import analytics.charts.capacity  # noqa: F401
    import analytics.charts.gpu  # noqa: F401
    import analytics.charts.slo  # noqa: F401
    import analytics.review.report  # noqa: F401
    import ui.attention  # noqa: F401
    import ui.controls  # noqa: F401
    import ui.gpu  # noqa: F401
    import ui.page  # noqa: F401
    import ui.review  # noqa: F401
    import ui.uploads  # noqa: F401


def _wait_for_runtime() -> None:
    """The caches live in the server's runtime: wait until the server made it."""
    from streamlit.runtime import Runtime

    while not Runtime.exists():
        time.sleep(0.05)


def _overview() -> None:
    """The Overview for the default filters (the same loader calls as app.py): the landing page."""
    from analytics.store.conventions import SLOT_SECONDS
    from analytics.traffic.summary import comparison, span_of
    from ui import attention, page
    from ui import slo as slo_ui
    from ui import traffic as data

    span = data.data_range()
    if span is None:
        return
    filters = page.default_filters(*span[:2])
    args = (filters.deployments, filters.regions)
    data.filter_options()
    data.fleet_summary(filters.start, filters.end, *args)
    per_deployment = data.summary(filters.start, filters.end, *args)
    if per_deployment.is_empty():
        return
    busiest = per_deployment.sort("requests", descending=True)["deployment"].head(data.CHARTED).to_list()
    data.charts_of(filters.start, filters.end, *args, filters.step_seconds, tuple(busiest))
    attention.judge(slo_ui.project_config(), filters.data_start, filters.end, *args)
    seen = data.freshness()
    found = span_of(seen, per_deployment["deployment"].to_list(), timedelta(seconds=SLOT_SECONDS))
    compared = comparison(filters.start, filters.end, *found) if found else None
    if compared:
        for period in (compared.previous, compared.current):
            data.fleet_summary(*period, *args)
            data.summary(*period, *args)


def _other_pages() -> None:
    """The other pages' heaviest loads for the default filters, in the order of the navigation."""
    from analytics.gpu import efficiency, rightsizing
    from analytics.review import weekly as W
    from ui import gpu, page, review
    from ui import slo as slo_ui
    from ui import traffic as data

    filters = page.default_filters(*data.data_range()[:2])
    slo_file = slo_ui.project_config()
    at = slo_ui.at_time(filters.end)
    _when_quiet()
    status = slo_ui.status(*slo_file, at)
    if status.height:
        slo_ui.detail(*slo_file, at, status["slo"][0])
    slos = slo_ui.parse(*slo_file)
    if slos:
        _when_quiet()
        slo_ui.whatif_scope(*slo_file, at, slos[0].name)
    window = (filters.start, filters.end, filters.deployments, filters.regions, slo_file)
    _when_quiet()
    gpu.load(*window)
    prices = tuple((t, float(p)) for t, p in gpu.default_prices(*window).items() if p is not None)
    gpu.efficiency(*window, prices, efficiency.IDLE_SM_FLOOR)
    gpu.rightsizing(*window, prices, rightsizing.TARGET_ACTIVITY)
    week = W.last_complete_week(filters.data_end)
    _when_quiet()
    review.report(week, slo_file)
    review.figures(week, slo_file)
    review.bundle_zip(week, slo_file)

