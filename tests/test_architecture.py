"""Import rules, so the tree keeps showing the architecture (../shared/DESIGN.md, "Layout").

- app.py, pages/ -> ui -> analytics; analytics never imports streamlit or ui.
- Inside analytics, nothing imports the commands (cli/, the bench among them) or the demo
  fleet (ingest/demo/) but the commands and the demo itself; store imports no domain.
- Domain modules do math on frames: only a package's pipeline.py runs queries (store's client
  and SQL modules); ingest writes to the store and may use it.
- No import cycles between analytics modules (imports inside functions count too).
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ANALYTICS = ROOT / "analytics"
DOMAINS = ("slo", "gpu", "capacity", "traffic", "charts", "review")  # math on frames
SQL_MODULES = ("analytics.store.client", "analytics.store.queries", "analytics.store.slo", "analytics.store.gpu",
               "analytics.store.capacity", "analytics.store.schema", "analytics.store.review",
               "analytics.store.otel", "analytics.store.bench_raw")
SHARED = ("analytics.errors", "analytics.times", "analytics.histogram", "analytics.columns")


def module_name(path: Path) -> str:
    """analytics/slo/spec.py -> analytics.slo.spec; a package's __init__ is the package."""
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


@functools.cache
def analytics_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ANALYTICS.rglob("*.py"))}


def imports(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (`from a.b import c` gives a.b and a.b.c)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def internal_imports(path: Path, known: dict[str, Path] | None = None) -> set[str]:
    """The analytics modules a file imports (`from a.b import name` resolves to a.b.name when that
    is a module, else to a.b)."""
    known = analytics_modules() if known is None else known
    out = set()
    for name in imports(path):
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != module_name(path) and name != "analytics":
            out.add(name)
    return out


def top(name: str) -> str:
    return name.split(".")[0]


def package(name: str) -> str:
    """analytics.slo.spec -> slo; analytics.errors -> errors."""
    return name.split(".")[1] if name.count(".") else ""


def is_command_or_demo(name: str) -> bool:
    """True for the command modules (analytics.cli...) and the demo fleet (analytics.ingest.demo...)."""
    return name.startswith(("analytics.cli", "analytics.ingest.demo"))


def test_importing_every_analytics_module_does_not_import_streamlit():
    modules = sorted(m for m in analytics_modules() if not m.endswith("__main__"))
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "assert 'streamlit' not in sys.modules, 'streamlit was imported'\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_analytics_never_imports_the_ui_layer():
    bad = {m: sorted(n for n in imports(p) if top(n) in {"ui", "streamlit", "pages"})
           for m, p in analytics_modules().items()}
    assert not {m: n for m, n in bad.items() if n}


def test_domain_packages_never_import_cli_bench_or_demo():
    bad = {}
    for name, path in analytics_modules().items():
        if is_command_or_demo(name) or name.endswith("__main__"):
            continue
        wrong = sorted(n for n in internal_imports(path) if is_command_or_demo(n))
        if wrong:
            bad[name] = wrong
    assert not bad, f"domain code imports a command, the bench or the demo fleet: {bad}"


def test_the_store_imports_no_domain():
    bad = {name: sorted(n for n in internal_imports(path) if package(n) != "store" and n not in SHARED)
           for name, path in analytics_modules().items() if package(name) == "store"}
    assert not {m: n for m, n in bad.items() if n}, bad


def test_only_pipelines_run_queries_in_the_math_domains():
    bad = {}
    for name, path in analytics_modules().items():
        if package(name) in DOMAINS and not name.endswith(".pipeline"):
            wrong = sorted(n for n in internal_imports(path) if n in SQL_MODULES)
            if wrong:
                bad[name] = wrong
    assert not bad, f"domain modules must take frames, not a store: {bad}"


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path of module names, or None."""
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_there_are_no_import_cycles():
    known = analytics_modules()
    graph = {name: {n for n in internal_imports(path, known) if not path.name == "__init__.py"}
             for name, path in known.items()}
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


@pytest.mark.parametrize(("graph", "cyclic"), [({"a": {"b"}, "b": {"a"}}, True), ({"a": {"b"}, "b": set()}, False)],
                         ids=["a cycle is found", "a chain is not a cycle"])
def test_the_cycle_finder_itself(graph, cyclic):
    assert (find_cycle(graph) is not None) == cyclic


def test_every_page_starts_with_the_shared_setup_call():
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        tree = ast.parse(path.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup"]
        assert calls, f"{path.name} does not call ui.page.setup()"
        assert "ui" in {top(n) for n in imports(path)}


def test_pages_hold_only_numbered_page_scripts():
    for path in (ROOT / "pages").iterdir():
        if path.name == "__pycache__":
            continue
        assert path.suffix == ".py" and path.name.split("_")[0].isdigit(), path.name


PACKAGES = {"store", "ingest", "slo", "gpu", "capacity", "traffic", "charts", "cli", "review"}


def test_analytics_is_one_package_per_domain_plus_five_shared_modules():
    entries = {p.name for p in ANALYTICS.iterdir() if p.name not in ("__pycache__", "__init__.py", "__main__.py")}
    shared = {"errors.py", "times.py", "histogram.py", "columns.py", "filters.py"}
    assert entries == PACKAGES | shared, sorted(entries ^ (PACKAGES | shared))
    assert all((ANALYTICS / e).is_dir() for e in PACKAGES), sorted(entries)
    assert len(entries) == 14, sorted(entries)
