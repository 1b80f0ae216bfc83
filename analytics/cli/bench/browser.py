"""`python -m analytics bench --browser`: speed as the user feels it.

The command first fits the Capacity page's default forecasts into the cache, as the demo command
does after seeding (analytics.cli.bench.command), then starts the app's server as `make run` does
(`python -m ui.serve`: `streamlit run app.py` with a background warm-up from the server's start) on
the store (its own process group, a free port) and drives it in headless Chromium (Debian's
/usr/bin/chromium; Playwright is imported only here, when asked for):

- cold first load of each page: a fresh server per page and repetition, the page opened by URL,
  split into shell (HTML and JavaScript until the app's WebSocket opens), connect (until the
  server's first message), script (first to last message: the page's script on the server, its
  imports, connection, queries and chart payloads) and render (last message to charts drawn); in a
  new browser profile (a first visit: Streamlit's and Plotly's scripts downloaded and compiled),
  then in a returning browser (a persistent profile that opened every page twice before, on
  servers at the same address: the scripts cached, their compiled code too);
- warm page switches: the sidebar's page links, after every page was visited once;
- what-if slider to new numbers: the target slider of the What-if page moved by one step with
  the keyboard (ArrowRight, then ArrowLeft, alternately) until the proposal's metrics change on
  screen, and (reported beside it, no target) until the part the move reruns is drawn again (or,
  when a step is too small to change a rounded number, both until the rerun's last message and
  the page drawn);
- filter change: the sidebar's time range (a different one of Last 24 hours / Last 28 days / Last
  7 days each time), from the option chosen in the open list until the Overview is drawn again;
- the server's memory after visiting every page: peak RSS (VmHWM) of the server process and its
  children, from /proc;
- the server's warm-up: when the Overview's data, and every page's, was loaded after the start
  (from the lines ui.warmup writes to the server's log).

What it relies on in the pages (read at run time, nothing hard-coded beyond this): each page's
<h1> is its navigation label; the what-if target is a slider or select slider inside the element
keyed `whatif_target` (class `st-key-whatif_target`), whose thumb takes arrow keys; the time range
is the select box keyed `filter_range` with options named as analytics.times.PRESETS; a page is drawn
when the app reports its script idle, its <h1> shows the title, no spinner or skeleton is left
and every plotly chart has its SVG (held for STABLE_S, as the idle flag can come before the last
elements).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from analytics.cli.bench.cases import Case, Target, under
from analytics.errors import InputError
from analytics.store.dsn import PROJECT_ROOT

# Debian's Chromium: Playwright's own download does not work here (DEVELOPERS.md). The browser
# tests (tests/conftest.py) launch it with the same settings.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1600, "height": 1000}

# Targets, warm unless said (a 2-core machine, the 100M store: docs/bench.md).
COLD_PAGE = under(5)
COLD_CAPACITY = under(3, strict=True)  # on the demo store: forecasts fitted ahead of the user
PAGE_SWITCH = under(2)
SLIDER = under(0.5)
FILTER = under(2)
SERVER_RSS = Target(2, strict=True)  # GB

START_TIMEOUT_S = 180
PAGE_TIMEOUT_MS = 300_000
STABLE_S = 0.3
POLL_MS = 20
RANGES = ("Last 24 hours", "Last 28 days", "Last 7 days")

# True when the page is drawn: script idle, the title shown, nothing still loading, charts drawn.
_READY = """(title) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const h1 = document.querySelector('[data-testid="stMain"] h1, h1');
  if (!h1 || !h1.innerText.includes(title)) return false;
  if (document.querySelector('[data-testid="stSpinner"], [data-testid="stSkeleton"]')) return false;
  return [...document.querySelectorAll('.js-plotly-plot')].every(chart => chart.querySelector('.main-svg'));
}"""
_METRICS = """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stMetricValue"]')]
  .map(m => m.innerText).join('|')"""


def check_available() -> None:
    """Raise InputError (one line) when Playwright or Chromium is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise InputError("bench --browser needs the playwright package (pip install playwright)") from None
    if not Path(CHROMIUM).exists():
        raise InputError(f"bench --browser needs Chromium at {CHROMIUM} (apt-get install chromium)")


def pages() -> list[tuple[str, str]]:
    """(title, URL path) of every page, Overview first, as the app's navigation lists them."""
    found = [("Overview", "")]
    for path in sorted((PROJECT_ROOT / "pages").glob("*.py"), key=lambda p: int(p.name.split("_")[0])):
        name = path.stem.split("_", 1)[1]
        found.append((name.replace("_", " "), name))
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server(dsn: str, log: Path, env: dict[str, str] | None = None, port: int | None = None):
    """The app's server (`python -m ui.serve`, as `make run`) on the store, in its own process group (with `env` added to the
    environment), on `port` (a free one when None); yields (url, process, seconds until healthy);
    stopped (the whole group) on exit."""
    port = port or _free_port()
    env = dict(os.environ, CLICKHOUSE_URL=dsn, **(env or {}))
    with open(log, "a") as out:
        t0 = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "ui.serve", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            while True:
                try:
                    urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                    break
                except OSError:
                    if process.poll() is not None or time.perf_counter() - t0 > START_TIMEOUT_S:
                        tail = log.read_text()[-300:].strip().replace("\n", " | ")
                        raise InputError(f"streamlit did not start (log {log}): {tail}") from None
                    time.sleep(0.1)
            yield url, process, time.perf_counter() - t0
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=30)


_WARMED = re.compile(r"warm-up: (Overview ready|done) ([0-9.]+) s after start")


def warm_up(log_text: str) -> dict[str, float]:
    """Seconds from the server's start to 'Overview ready' and 'done' in a server's log (ui.warmup)."""
    return {found[1]: float(found[2]) for found in _WARMED.finditer(log_text)}


def _tree(pid: int) -> list[int]:
    """pid and its descendants, from /proc/<pid>/task/*/children."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                continue
    return out


def tree_memory(pid: int) -> tuple[float, float, int]:
    """(sum of peak RSS, sum of current RSS) in GB over the process tree, and its process count."""
    peak = now = 0
    processes = _tree(pid)
    for p in processes:
        try:
            status = dict(line.split(":", 1) for line in Path(f"/proc/{p}/status").read_text().splitlines()
                          if ":" in line)
        except OSError:
            continue
        peak += int(status.get("VmHWM", "0 kB").split()[0])
        now += int(status.get("VmRSS", "0 kB").split()[0])
    return peak / 2**20, now / 2**20, len(processes)


class Wire:
    """Times and sizes of the messages the app's WebSocket receives."""

    def __init__(self, page):
        self.opened: float | None = None
        self.frames: list[tuple[float, int]] = []
        page.on("websocket", self._on_socket)

    def _on_socket(self, socket) -> None:
        self.opened = time.perf_counter()
        socket.on("framereceived", lambda payload: self.frames.append((time.perf_counter(), len(payload))))

    def since(self, t0: float) -> list[tuple[float, int]]:
        return [f for f in self.frames if f[0] >= t0]


def _wait_ready(page, title: str) -> float:
    """Wait until the page is drawn and stays so for STABLE_S; returns when it first was."""
    deadline = time.perf_counter() + PAGE_TIMEOUT_MS / 1000
    while True:
        if time.perf_counter() > deadline:
            raise InputError(f"bench --browser: the {title} page kept changing for {PAGE_TIMEOUT_MS / 1000:.0f} s")
        page.wait_for_function(_READY, arg=title, timeout=PAGE_TIMEOUT_MS, polling=POLL_MS)
        at = time.perf_counter()
        shown = page.evaluate("() => document.querySelectorAll('[data-testid=\"stMain\"] *').length")
        page.wait_for_timeout(STABLE_S * 1000)
        if page.evaluate(_READY, title) and page.evaluate(
                "() => document.querySelectorAll('[data-testid=\"stMain\"] *').length") == shown:
            return at


def _wait_rerun(page, wire: Wire, title: str, t0: float, before: str) -> tuple[float, float]:
    """After an input at t0: (when the page showed new numbers, when it was drawn again). New numbers:
    its metrics differ from `before`; when a step is too small for their rounding, both are when the
    server's last message of the rerun arrived (none for STABLE_S) with the page drawn."""
    deadline = t0 + PAGE_TIMEOUT_MS / 1000
    while time.perf_counter() < deadline:
        if page.evaluate(_METRICS) != before:
            shown = time.perf_counter()
            return shown, max(shown, _wait_ready(page, title))
        frames = wire.since(t0)
        if frames and time.perf_counter() - frames[-1][0] > STABLE_S and page.evaluate(_READY, title):
            return frames[-1][0], frames[-1][0]
        page.wait_for_timeout(POLL_MS)
    raise InputError(f"bench --browser: the {title} page did not rerun within {PAGE_TIMEOUT_MS / 1000:.0f} s")


def _spread(values: list[float]) -> tuple[float, float]:
    """(median, p90) of the values (p90 by the nearest-rank method)."""
    ordered = sorted(values)
    return statistics.median(ordered), ordered[max(0, -(-9 * len(ordered) // 10) - 1)]


def _row(name: str, values: list[float], target: Target | None, note: str) -> list[Case]:
    median, p90 = _spread(values)
    return [Case(f"{name}, median of {len(values)}", median, note, target),
            Case(f"{name}, p90 of {len(values)}", p90, "", target)]


def _say(message: str) -> None:
    print(f"bench --browser: {message}", file=sys.stderr, flush=True)


def _cold(new_page, dsn: str, log: Path, title: str, path: str, port: int | None = None) -> dict:
    """One cold first load: a fresh server (on `port`), the page opened by URL in `new_page()`, drawn."""
    _say(f"cold first load of {title}")
    with server(dsn, log, port=port) as (url, _, started):
        page = new_page()
        try:
            wire = Wire(page)
            t0 = time.perf_counter()
            page.goto(f"{url}/{path}")
            drawn = _wait_ready(page, title)
            frames = wire.since(t0)
            first = frames[0][0] if frames else drawn
            last = max((f[0] for f in frames if f[0] <= drawn), default=drawn)
            return {"total": drawn - t0, "start": started, "shell": (wire.opened or t0) - t0,
                    "connect": first - (wire.opened or t0), "script": last - first, "render": drawn - last,
                    "bytes": sum(f[1] for f in frames)}
        finally:
            page.close()


def _switch(page, title: str) -> float:
    link = page.locator('[data-testid="stSidebar"]').get_by_role("link", name=title, exact=True).first
    t0 = time.perf_counter()
    link.click()
    return _wait_ready(page, title) - t0


def _slider_thumb(page):
    """The what-if target's thumb: a slider or select slider inside .st-key-whatif_target."""
    box = page.locator(".st-key-whatif_target")
    box.wait_for(timeout=PAGE_TIMEOUT_MS)
    thumb = box.locator('[role="slider"], input[type=range]').first
    thumb.wait_for(timeout=PAGE_TIMEOUT_MS)
    return thumb


def _slider_moves(page, wire: Wire, repeat: int) -> tuple[list[float], list[float], int]:
    """(seconds to new numbers, seconds to the page drawn again, bytes received) of `repeat` moves."""
    thumb = _slider_thumb(page)
    numbers, drawn, sent = [], [], 0
    for i in range(repeat):
        before = page.evaluate(_METRICS)
        thumb.focus()
        t0 = time.perf_counter()
        page.keyboard.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
        shown, redrawn = _wait_rerun(page, wire, "What if", t0, before)
        numbers.append(shown - t0)
        drawn.append(redrawn - t0)
        sent += sum(f[1] for f in wire.since(t0))
    return numbers, drawn, sent


def _filter_changes(page, wire: Wire, repeat: int) -> list[float]:
    times = []
    box = page.locator(".st-key-filter_range")
    for _ in range(repeat):
        before = page.evaluate(_METRICS)
        shown = box.inner_text() + " ".join(field.input_value() for field in box.locator("input").all())
        choice = next(r for r in RANGES if r not in shown)  # always a different range
        box.click()
        option = page.get_by_role("option", name=choice)
        option.wait_for()  # the list is open: the change starts when the range is chosen
        t0 = time.perf_counter()
        option.click()
        times.append(_wait_rerun(page, wire, "Overview", t0, before)[1] - t0)
    return times


def _cold_loads(new_page, dsn: str, log: Path, repeat: int, returning: bool,
                port: int | None = None) -> tuple[list[Case], list[float]]:
    """Cold first loads of every page, `repeat` each, in tabs of `new_page()` (on servers at `port`),
    in a new browser profile or a `returning` one: their rows and the servers' start times."""
    cases, starts = [], []
    browser = ("a browser that opened the app before: its scripts cached" if returning
               else "a new browser profile: the app's scripts downloaded and compiled")
    suffix = " (returning browser)" if returning else ""
    for title, path in pages():
        runs = [_cold(new_page, dsn, log, title, path, port) for _ in range(repeat)]
        starts += [r["start"] for r in runs]
        parts = {k: statistics.median(r[k] for r in runs) for k in ("shell", "connect", "script", "render", "bytes")}
        target = COLD_CAPACITY if title == "Capacity" else COLD_PAGE
        _say(f"{title}{suffix}: " + ", ".join(f"{r['total']:.2f} s" for r in runs))
        cases += _row(f"browser: cold first load{suffix}, {title}", [r["total"] for r in runs], target,
                      f"{browser}; shell {parts['shell']:.2f} s, connect {parts['connect']:.2f} s, script "
                      f"{parts['script']:.2f} s, render {parts['render']:.2f} s; {parts['bytes'] / 1e6:.1f} MB received")
    return cases, starts


def _visit_every_page(context, dsn: str, log: Path, port: int) -> None:
    """Open every page twice by URL in `context` on a server at `port`, as a returning user's browser
    did: its cache holds the app's scripts (Streamlit serves its hashed bundles as immutable) and
    Chromium caches the code compiled from a script it ran before."""
    _say("a returning browser: every page opened twice before its cold loads")
    with server(dsn, log, port=port) as (url, _, _):
        page = context.new_page()
        for _ in range(2):
            for title, path in pages():
                page.goto(f"{url}/{path}")
                _wait_ready(page, title)
        page.close()


def bench(dsn: str, repeat: int) -> list[Case]:
    """Cold loads, warm page switches, what-if slider, filter change and server memory."""
    check_available()
    from playwright.sync_api import sync_playwright

    repeat = max(repeat, 1)
    cases: list[Case] = []
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as folder, sync_playwright() as pw:
        log = Path(folder) / "streamlit.log"
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            loads, starts = _cold_loads(lambda: browser.new_page(viewport=VIEWPORT), dsn, log, repeat, False)
            cases += loads
            returning = pw.chromium.launch_persistent_context(
                Path(folder) / "profile", executable_path=CHROMIUM, args=CHROMIUM_ARGS, viewport=VIEWPORT)
            try:
                port = _free_port()
                _visit_every_page(returning, dsn, log, port)
                loads, more = _cold_loads(returning.new_page, dsn, log, repeat, True, port)
            finally:
                returning.close()
            cases += loads
            starts += more
            cases.append(Case(f"browser: server start to healthy, median of {len(starts)}",
                              statistics.median(starts), "before the page is asked for; not in the figures above"))

            start_of_log = log.stat().st_size if log.exists() else 0
            with server(dsn, log) as (url, process, _):
                _say("warm: every page once, then page switches, the what-if slider and the time range")
                page = browser.new_page(viewport=VIEWPORT)
                wire = Wire(page)
                page.goto(url)
                _wait_ready(page, "Overview")
                for title, _ in pages()[1:]:  # every page once: caches, imports
                    _switch(page, title)
                peak, now, count = tree_memory(process.pid)
                switches: dict[str, list[float]] = {}
                for _ in range(repeat):
                    for title, _ in [*pages()[1:], pages()[0]]:
                        switches.setdefault(title, []).append(_switch(page, title))
                slowest = max(switches, key=lambda t: statistics.median(switches[t]))
                cases += _row("browser: warm page switch", [t for v in switches.values() for t in v], PAGE_SWITCH,
                              f"sidebar link to drawn page, every page; slowest {slowest} "
                              f"(median {statistics.median(switches[slowest]):.2f} s)")
                _switch(page, "What if")
                moves, redrawn, sent = _slider_moves(page, wire, repeat)
                cases += _row("browser: what-if slider to new numbers", moves, SLIDER,
                              f"one keyboard step of the target to the proposal's metrics changed on screen; "
                              f"{sent / len(moves) / 1e3:,.0f} kB received per move")
                cases += _row("browser: what-if slider to the part redrawn", redrawn, None,
                              "the same moves until the burn-down, episodes and suggestion charts are drawn again")
                _switch(page, "Overview")
                cases += _row("browser: filter change (time range) to drawn page", _filter_changes(page, wire, repeat),
                              FILTER, "Overview; " + " / ".join(RANGES) + " in turn")
                peak_end, now_end, count_end = tree_memory(process.pid)
                cases.append(Case("browser: server peak RSS after every page", max(peak, peak_end),
                                  f"VmHWM summed over {max(count, count_end)} processes (server and children); "
                                  f"{now_end:.2f} GB resident at the end", SERVER_RSS, unit="GB"))
                page.close()
                warmed = warm_up(log.read_bytes()[start_of_log:].decode(errors="replace"))
                cases.append(Case("browser: server warm-up, Overview's data ready after start",
                                  warmed.get("Overview ready", float("nan")),
                                  "every page's heaviest loads done after "
                                  + (f"{warmed['done']:.1f} s" if "done" in warmed else "more than the run")))
        finally:
            browser.close()
    return cases
