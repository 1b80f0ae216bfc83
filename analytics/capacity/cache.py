"""Cached, parallel application of a fit function (Prophet forecasts, backtests) to many series.

Cache: every result is a Parquet file named by a SHA-256 of (label, function, data fingerprint,
fit parameters) under a folder, and every per-series error a text file of the same name (a
series too short to fit stays too short: it is not refitted on every visit); the app and the command line share ``.data/forecast-cache``
(git-ignored with ``.data/``). Files older than CACHE_MAX_AGE are pruned on each call. For
ForecastParams, fits are made to MAX_HORIZON without growth, then trimmed and scaled, so
changing the horizon or the growth multiplier never refits.

Parallelism: cache misses run in worker subprocesses (``python -m analytics.capacity.cache``)
fed one job at a time over stdin, so the load balances. Plain subprocesses rather than
multiprocessing: multiprocessing's spawn and forkserver re-import the parent's ``__main__``,
which under Streamlit is the page script itself; forking a process that holds database and
polars threads is unsafe.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

from analytics import PROJECT_ROOT
from analytics.capacity.forecast import MAX_HORIZON, ForecastParams, apply_growth, trim

DEFAULT_CACHE_DIR = PROJECT_ROOT / ".data" / "forecast-cache"
CACHE_MAX_AGE = timedelta(days=7)
CACHE_VERSION = 3  # bump when a cached function's output changes meaning

Progress = Callable[[float, str], None]


def fingerprint(history: pl.DataFrame) -> str:
    """A SHA-256 of a (ts, y) series' timestamps and values: equal data, equal fingerprint."""
    ts = history["ts"].dt.epoch("us").to_numpy()
    y = history["y"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    digest = hashlib.sha256(np.ascontiguousarray(ts, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(y, dtype=np.float64).tobytes())
    return digest.hexdigest()


def fitted_params(params):
    """The parameters a cached fit is made with: ForecastParams go to MAX_HORIZON without growth.

    Forecasts are always made to MAX_HORIZON and trimmed, so an hour's interval does not depend
    on the horizon shown (uncertainty samples are drawn for the whole future at once).
    """
    return replace(params, growth=1.0, horizon=MAX_HORIZON) if isinstance(params, ForecastParams) else params


def cache_key(label: str, fn: Callable, history: pl.DataFrame, params) -> str:
    """The cache file stem for one (label, function, data, fit parameters) combination."""
    key_params = params.fit_key() if hasattr(params, "fit_key") else params
    text = json.dumps(
        [CACHE_VERSION, label, f"{fn.__module__}.{fn.__qualname__}", fingerprint(history), key_params],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def is_cached(label: str, fn: Callable, history: pl.DataFrame, params, cache_dir: Path | None) -> bool:
    """True when ``cached_map`` would read this result from the disk cache."""
    if cache_dir is None:
        return False
    stem = cache_dir / cache_key(label, fn, history, fitted_params(params))
    return stem.with_suffix(".parquet").is_file() or stem.with_suffix(".error").is_file()


@dataclass
class Fits:
    """Results of ``cached_map``: frames by label, one-line errors by label, and counts."""

    results: dict[str, pl.DataFrame] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    cached: int = 0
    computed: int = 0
    seconds: float = 0.0


def _run(fn, history, params) -> tuple[pl.DataFrame | None, str | None]:
    try:
        return fn(history, params), None
    except Exception as exc:  # one series failing (bad data, a Stan error) must not sink the rest
        return None, " ".join(str(exc).split()) or type(exc).__name__


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def _prune(cache_dir: Path, now: float) -> None:
    for path in [*cache_dir.glob("*.parquet"), *cache_dir.glob("*.error")]:
        try:
            if now - path.stat().st_mtime > CACHE_MAX_AGE.total_seconds():
                path.unlink()
        except FileNotFoundError:  # pruned by a concurrent call
            pass


def _parallel(fn, jobs: dict[str, pl.DataFrame], params, workers: int, done: Callable) -> None:
    """Run jobs in `workers` subprocesses, one job at a time each; ``done`` runs in this thread."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])))
    with tempfile.TemporaryDirectory(prefix="forecast-jobs-") as folder:
        pending = list(jobs)
        selector = selectors.DefaultSelector()
        procs = []
        try:
            for i in range(min(workers, len(pending))):
                log = open(Path(folder) / f"worker-{i}.log", "w+b")
                proc = subprocess.Popen([sys.executable, "-m", "analytics.capacity.cache"], cwd=PROJECT_ROOT, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
                procs.append((proc, log))
                selector.register(proc.stdout, selectors.EVENT_READ, (proc, log))

            def send(proc) -> None:
                label = pending.pop(0)
                path = Path(folder) / f"job-{len(pending)}.pkl"
                path.write_bytes(pickle.dumps((label, fn, jobs[label], params)))
                proc.stdin.write(f"{path}\n")
                proc.stdin.flush()

            for proc, _ in procs:
                send(proc)
            running = len(procs)
            while running:
                for key, _ in selector.select():
                    proc, log = key.data
                    line = proc.stdout.readline().strip()
                    if not line:
                        log.seek(0)
                        tail = log.read().decode(errors="replace").strip().splitlines()[-3:]
                        raise RuntimeError(f"a forecast worker stopped unexpectedly: {' | '.join(tail) or 'no output'}")
                    label, result, error = pickle.loads(Path(line).read_bytes())
                    done(label, result, error)
                    if pending:
                        send(proc)
                    else:
                        selector.unregister(proc.stdout)
                        proc.stdin.close()
                        running -= 1
        finally:
            for proc, log in procs:
                if proc.poll() is None:
                    if not proc.stdin.closed:
                        proc.stdin.close()
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                log.close()
            selector.close()


def cached_map(
    fn: Callable[[pl.DataFrame, object], pl.DataFrame],
    histories: Mapping[str, pl.DataFrame],
    params,
    *,
    cache_dir: Path | None = None,
    workers: int = 2,
    progress: Progress | None = None,
    isolate: bool = False,
) -> Fits:
    """Apply ``fn(history, params)`` to every labelled series, from the disk cache when possible.

    Misses run in ``workers`` subprocesses (one miss runs in this process unless ``isolate``: a
    caller on a server thread must not import and run Prophet beside the threads serving pages);
    ``fn`` must be a module-level function. Errors become one-line messages per label, never exceptions. For
    ForecastParams, horizon and growth are applied after the cache.
    """
    t0 = time.perf_counter()
    fit_params = fitted_params(params)
    out = Fits()
    keys = {label: cache_key(label, fn, h, fit_params) for label, h in histories.items()}
    todo = []
    for label, key in keys.items():
        stem = cache_dir / key if cache_dir else None
        if stem is not None and stem.with_suffix(".parquet").is_file():
            out.results[label] = pl.read_parquet(stem.with_suffix(".parquet"))
            out.cached += 1
        elif stem is not None and stem.with_suffix(".error").is_file():
            out.errors[label] = stem.with_suffix(".error").read_text()
            out.cached += 1
        else:
            todo.append(label)
    total = len(keys)

    def done(label, frame, error):
        if error is not None:
            out.errors[label] = error
            if cache_dir is not None:
                _write_atomically(cache_dir / f"{keys[label]}.error", lambda p: p.write_text(error))
        else:
            out.results[label] = frame
            if cache_dir is not None:
                _write_atomically(cache_dir / f"{keys[label]}.parquet", frame.write_parquet)
        out.computed += 1
        if progress:
            progress((out.cached + out.computed) / total, f"{label}: done")

    if progress and total:
        progress(out.cached / total, f"{out.cached} of {total} from cache")
    if not isolate and (len(todo) <= 1 or workers <= 1):
        for label in todo:
            done(label, *_run(fn, histories[label], fit_params))
    else:
        _parallel(fn, {label: histories[label] for label in todo}, fit_params, max(workers, 1), done)
    if cache_dir is not None and cache_dir.is_dir():
        _prune(cache_dir, time.time())
    if isinstance(params, ForecastParams):
        out.results = {k: apply_growth(trim(v, params.horizon), params.growth, params.horizon) for k, v in out.results.items()}
    out.seconds = time.perf_counter() - t0
    return out


def _worker() -> None:
    """Worker loop: read a job path per line, write the result beside it, answer with its path."""
    for line in sys.stdin:
        path = Path(line.strip())
        label, fn, history, params = pickle.loads(path.read_bytes())
        result, error = _run(fn, history, params)
        answer = path.with_suffix(".out")
        answer.write_bytes(pickle.dumps((label, result, error)))
        sys.stdout.write(f"{answer}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _worker()
