"""Warm a new server before its first visitor: imports (before the server listens), the store, then
the Overview's queries and charts for the default filters and the other pages' heaviest loads, in one
background thread that the launcher (ui.serve) starts beside the server.

The work goes through each page's own load with the filters of a first visit
(analytics.times.default_filters: ui.traffic.load, ui.slo.load, ui.gpu.load, ui.review.report),
so it fills the cache entries the pages read. A page opened meanwhile waits for the entry being computed
(Streamlit computes a cache entry once, however many threads ask for it) instead of computing it
again, and says that the server is still warming up. The warm-up gives way to visitors: before each
of its steps (the Overview's too, unless the page opened is the Overview, whose entries it shares) it
waits until no page script is running and none ended or started for QUIET_S, the time a browser
takes to draw what the script sent; so loading pages nobody asked for yet does not slow one being
opened or drawn. Prophet fits are left to the Capacity page's background fitter.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref

from streamlit.logger import get_logger

THREAD = "warm-up"
QUIET_S = 4.0  # a step waits until no page script ran for this long (the browser draws meanwhile)
LANDING = "Overview"
_started = threading.Event()
_done = threading.Event()
_scripts: weakref.WeakKeyDictionary[threading.Thread, str] = weakref.WeakKeyDictionary()  # script thread: page
_last_busy: dict[str, float] = {}  # page title: when (time.monotonic()) a script of it was last seen running
_log = get_logger(__name__)  # Streamlit's logger: its level and format, in the server's output


def running() -> bool:
    """True while the warm-up of this server process is still working."""
    return _started.is_set() and not _done.is_set()


def visited(title: str) -> None:
    """The page `title` is being opened (ui.page.setup calls this in the page's script thread, which
    Streamlit ends when the script run is over): the warm-up's steps wait."""
    _scripts[threading.current_thread()] = title
    _last_busy[title] = time.monotonic()


def _when_quiet(sharing: str | None = None) -> None:
    """Wait until no page script (other than one of the page `sharing`) ran for QUIET_S."""
    while True:
        now = time.monotonic()
        for thread, title in list(_scripts.items()):
            if thread.is_alive():
                _last_busy[title] = now
        busy = max((at for title, at in list(_last_busy.items()) if title != sharing), default=0.0)
        if now - busy >= QUIET_S:
            return
        time.sleep(0.2)


def start() -> threading.Thread:
    """Import what every page needs, then start the warm-up thread (daemon: it never holds the server
    up on exit). The imports come first, before the server listens, so a page opened as soon as the
    server answers does not share the interpreter with them (the server reports healthy about a
    second later instead)."""
    # Loaders called outside a page log "missing ScriptRunContext" on every call: not for this thread.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        lambda record: record.threadName != THREAD)
    t0 = time.perf_counter()
    _imports()
    _log.info("warm-up: imports done in %.1f s", time.perf_counter() - t0)
    _started.set()
    thread = threading.Thread(target=_run, args=(t0,), name=THREAD, daemon=True)
    thread.start()
    return thread


def _run(t0: float) -> None:
    """The warm-up's steps; `t0`: when start() began (its times count from there)."""
    try:
        _wait_for_runtime()
        _page_modules()
        _first_elements()
        _overview()
        _log.info("warm-up: Overview ready %.1f s after start", time.perf_counter() - t0)
        _other_pages()
        _log.info("warm-up: done %.1f s after start", time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - a failed warm-up only means the first visit does the work itself
        _log.warning("warm-up stopped: %s", exc)
    finally:
        _done.set()


def _imports() -> None:
    """The libraries and domains every page imports (polars, plotly, the store's client), and pandas
    and pyarrow, which Streamlit converts every table through: the bulk of the import time."""
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401
    import pyarrow  # noqa: F401

    import analytics.charts.capacity  # noqa: F401
    import analytics.charts.gpu  # noqa: F401
    import analytics.charts.slo  # noqa: F401
    import analytics.review.report  # noqa: F401
    import analytics.store.client  # noqa: F401


def _page_modules() -> None:
    """The pages' own modules, once the runtime exists (their cached loaders look for it when they
    are defined)."""
    import ui.attention  # noqa: F401
    import ui.controls  # noqa: F401
    import ui.gpu  # noqa: F401
    import ui.page  # noqa: F401
    import ui.review  # noqa: F401
    import ui.uploads  # noqa: F401


def _first_elements() -> None:
    """What Streamlit does once per process on a page's first elements, cold 0.5 s each on the bench
    (a Capacity page's profile): compiling its emoji pattern (the first alert or label that is not
    ASCII) and inspecting the call stack (env_util.is_repl, on the first element sent): inspect's
    module and source caches."""
    import inspect

    try:
        from streamlit.string_util import extract_leading_emoji
    except ImportError:  # another Streamlit layout: the first page pays instead
        return
    extract_leading_emoji("⚠️ warm-up")
    inspect.stack()


def _wait_for_runtime() -> None:
    """The caches live in the server's runtime: wait until the server made it."""
    from streamlit.runtime import Runtime

    while not Runtime.exists():
        time.sleep(0.05)


def _overview() -> None:
    """The Overview for the default filters, through app.py's own calls (ui.traffic.load, charts_of
    and the attention list): the landing page. Each step gives way to another page being opened
    (the Overview's visitor shares its entries)."""
    from analytics.times import default_filters
    from ui import attention
    from ui import slo as slo_ui
    from ui import traffic as data

    span = data.data_range()
    if span is None:
        return
    filters = default_filters(*span[:2])
    data.filter_options()
    overview = data.load(filters)
    if not overview.fleet:
        return
    _when_quiet(sharing=LANDING)
    data.charts_of(filters, overview.charted)
    _when_quiet(sharing=LANDING)
    attention.judge(slo_ui.project_config(), filters.data_start, filters.end, filters.deployments, filters.regions)


def _other_pages() -> None:
    """The other pages' heaviest loads for the default filters, in the order of the navigation."""
    from analytics.gpu import efficiency, rightsizing
    from analytics.review import weekly as review_weekly
    from analytics.times import default_filters
    from ui import gpu, review
    from ui import slo as slo_ui
    from ui import traffic as data

    filters = default_filters(*data.data_range()[:2])
    slo_file = slo_ui.project_config()
    _when_quiet()
    slos_view = slo_ui.load(filters, slo_file)
    at = slos_view.at
    if slos_view.status.height:  # the page opens on the worst SLO's detail
        slo_ui.detail(*slo_file, at, slos_view.status["slo"][0])
    slos = slo_ui.parse(*slo_file)
    if slos:
        _when_quiet()
        slo_ui.whatif_scope(*slo_file, at, slos[0].name)
    _when_quiet()
    prices = tuple((t, float(p)) for t, p in gpu.load(filters, slo_file).prices.items())  # the inputs' defaults
    gpu.efficiency(filters, slo_file, prices, efficiency.IDLE_SM_FLOOR)
    gpu.rightsizing(filters, slo_file, prices, rightsizing.TARGET_ACTIVITY)
    week = review_weekly.last_complete_week(filters.data_end)
    _when_quiet()
    review.report(week, slo_file)
    review.figures(week, slo_file)
    review.bundle_zip(week, slo_file)

