"""Import rules, so the tree keeps showing the architecture (DESIGN.md, "Layout").

- app.py, pages/ -> ui -> analytics; analytics never imports streamlit or ui; ui never imports
  pages; pages never import the store and no page or ui module holds SQL.
- Inside analytics, nothing imports the commands (cli/, the bench among them) or the demo
  fleet (ingest/demo/) but the commands and the demo itself; store imports no domain; ingest
  imports no domain.
- Domain modules do math on frames: only a package's pipeline.py touches the store (imports a
  store module other than the naming conventions, or calls a Store method that runs SQL).
- No import cycles between analytics modules (imports inside functions count too).

Every rule is a function of the tree's root returning its violations, one line each naming the
file, so the test of the tests (at the end) can run it on a copy with one violation seeded.
The lists are derived from the tree: every module under analytics/store but its definitions (conventions, indicators) is store
access; every analytics package but store, ingest and cli is a domain; every top-level module is
shared.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOT_DOMAINS = {"store", "ingest", "cli"}  # the storage, the writers and the commands
# Definitions only, no SQL runs through them: the naming conventions, and the indicators (which render
# the valid/good predicates the store's SQL embeds, and the numpy counters read as data).
STORE_DEFINITIONS = {"analytics.store.conventions", "analytics.store.indicators"}
PACKAGES = {"store", "ingest", "slo", "gpu", "capacity", "traffic", "charts", "cli", "review"}
# A SQL statement in a string: uppercase keywords, as every SQL module writes them.
SQL = re.compile(r"\bSELECT\b[\s\S]*\bFROM\b|\b(INSERT INTO|CREATE (TABLE|VIEW|DATABASE)|ALTER TABLE|DROP TABLE)\b")


# ---- reading a tree --------------------------------------------------------------------------

def module_name(root: Path, path: Path) -> str:
    """analytics/slo/spec.py -> analytics.slo.spec; a package's __init__ is the package."""
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


def analytics_modules(root: Path) -> dict[str, Path]:
    return {module_name(root, p): p for p in sorted((root / "analytics").rglob("*.py"))}


def ui_modules(root: Path) -> list[Path]:
    return sorted((root / "ui").rglob("*.py"))


def page_scripts(root: Path) -> list[Path]:
    return [root / "app.py", *sorted((root / "pages").glob("*.py"))]


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


def internal_imports(root: Path, path: Path, known: dict[str, Path]) -> set[str]:
    """The analytics modules a file imports (`from a.b import name` resolves to a.b.name when that
    is a module, else to a.b)."""
    out = set()
    own = module_name(root, path) if path.is_relative_to(root / "analytics") else ""
    for name in imports(path):
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != own and name != "analytics":
            out.add(name)
    return out


def top(name: str) -> str:
    return name.split(".")[0]


def package(name: str) -> str:
    """analytics.slo.spec -> slo; analytics.errors -> errors."""
    return name.split(".")[1] if name.count(".") else ""


def domains(root: Path) -> set[str]:
    """The math packages: every analytics package but the store, the ingest and the commands."""
    packages = {p.name for p in (root / "analytics").iterdir() if (p / "__init__.py").exists()}
    return packages - NOT_DOMAINS


def store_access(root: Path) -> set[str]:
    """The modules that reach the database: every module under analytics/store but its definitions."""
    return {m for m in analytics_modules(root) if package(m) == "store" and m not in {*STORE_DEFINITIONS,
                                                                                        "analytics.store"}}


def shared_modules(root: Path) -> set[str]:
    """analytics' top-level modules (errors, times, columns, ...): anyone may import them."""
    return {f"analytics.{p.stem}" for p in (root / "analytics").glob("*.py") if p.stem not in ("__init__", "__main__")}


def store_methods(root: Path) -> set[str]:
    """The Store methods that run SQL (analytics/store/client.py, class Store), read from the source."""
    tree = ast.parse((root / "analytics" / "store" / "client.py").read_text())
    store = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Store")
    return {f.name for f in store.body if isinstance(f, ast.FunctionDef) and f.name in ("query", "scalar", "command",
                                                                                        "insert")}


def is_command_or_demo(name: str) -> bool:
    """True for the command modules (analytics.cli...) and the demo fleet (analytics.ingest.demo...)."""
    return name.startswith(("analytics.cli", "analytics.ingest.demo"))


def relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def sql_strings(path: Path) -> list[str]:
    """The string literals of a file (docstrings aside) that hold a SQL statement."""
    tree = ast.parse(path.read_text())
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            text = node.value
        else:
            continue
        if SQL.search(text):
            found.append(" ".join(text.split())[:60])
    return found


# ---- the rules: each returns its violations, one line per file -------------------------------

def analytics_importing_the_ui_layer(root: Path) -> list[str]:
    return [f"{relative(root, p)} imports {sorted(bad)}" for p in analytics_modules(root).values()
            if (bad := {n for n in imports(p) if top(n) in {"ui", "streamlit", "pages"}})]


def ui_importing_pages(root: Path) -> list[str]:
    return [f"{relative(root, p)} imports {sorted(bad)}" for p in ui_modules(root)
            if (bad := {n for n in imports(p) if top(n) == "pages"})]


def pages_importing_the_store(root: Path) -> list[str]:
    return [f"{relative(root, p)} imports {sorted(bad)}" for p in page_scripts(root)
            if (bad := {n for n in imports(p) if n == "analytics.store" or n.startswith("analytics.store.")})]


def sql_outside_analytics(root: Path) -> list[str]:
    return [f"{relative(root, p)} holds SQL: {found[0]!r}" for p in [*ui_modules(root), *page_scripts(root)]
            if (found := sql_strings(p))]


def domains_importing_commands_or_demo(root: Path) -> list[str]:
    known = analytics_modules(root)
    return [f"{relative(root, path)} imports a command, the bench or the demo fleet: {sorted(bad)}"
            for name, path in known.items() if not is_command_or_demo(name) and not name.endswith("__main__")
            if (bad := {n for n in internal_imports(root, path, known) if is_command_or_demo(n)})]


def store_importing_a_domain(root: Path) -> list[str]:
    known, shared = analytics_modules(root), shared_modules(root)
    return [f"{relative(root, path)} imports {sorted(bad)}" for name, path in known.items() if package(name) == "store"
            if (bad := {n for n in internal_imports(root, path, known) if package(n) != "store" and n not in shared})]


def ingest_importing_a_domain(root: Path) -> list[str]:
    known, math = analytics_modules(root), domains(root)
    return [f"{relative(root, path)} imports {sorted(bad)}" for name, path in known.items() if package(name) == "ingest"
            if (bad := {n for n in internal_imports(root, path, known) if package(n) in math})]


def domains_importing_the_store_outside_pipelines(root: Path) -> list[str]:
    known, math, access = analytics_modules(root), domains(root), store_access(root)
    return [f"{relative(root, path)} imports {sorted(bad)}: domain modules take frames, only pipeline.py reads"
            for name, path in known.items() if package(name) in math and not name.endswith(".pipeline")
            if (bad := {n for n in internal_imports(root, path, known) if n in access})]


def domains_running_sql_outside_pipelines(root: Path) -> list[str]:
    """A call of a Store method that runs SQL (`x.query(...)`, `store.insert(...)`) in a domain
    module other than pipeline.py; `insert` counts only on a receiver named like a store (lists
    have an insert too)."""
    known, math, methods = analytics_modules(root), domains(root), store_methods(root)
    bad = []
    for name, path in known.items():
        if package(name) not in math or name.endswith(".pipeline"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in methods:
                receiver = ast.unparse(node.func.value)
                if node.func.attr != "insert" or receiver.lower().endswith("store"):
                    bad.append(f"{relative(root, path)} calls {receiver}.{node.func.attr}() on line {node.lineno}: "
                               "only pipeline.py runs queries")
                    break
    return bad


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


def import_cycles(root: Path) -> list[str]:
    known = analytics_modules(root)
    graph = {name: internal_imports(root, path, known) for name, path in known.items() if path.name != "__init__.py"}
    cycle = find_cycle(graph)
    return [" -> ".join(f"{known[m].relative_to(root).as_posix()}" for m in cycle)] if cycle else []


def pages_without_the_setup_call(root: Path) -> list[str]:
    bad = []
    for path in page_scripts(root):
        tree = ast.parse(path.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup"]
        if not calls or "ui" not in {top(n) for n in imports(path)}:
            bad.append(f"{relative(root, path)} does not call ui.page.setup()")
    return bad


def pages_folder_holding_other_files(root: Path) -> list[str]:
    return [f"pages/{p.name} is not a numbered page script" for p in (root / "pages").iterdir()
            if p.name != "__pycache__" and not (p.suffix == ".py" and p.name.split("_")[0].isdigit())]


def analytics_holding_other_packages(root: Path) -> list[str]:
    """analytics/ is one package per domain (PACKAGES) plus shared top-level modules."""
    analytics = root / "analytics"
    entries = {p.name for p in analytics.iterdir() if p.is_dir() and p.name != "__pycache__"}
    return [f"analytics/{name} is not one of the packages {sorted(PACKAGES)}" for name in sorted(entries ^ PACKAGES)]


RULES: list[Callable[[Path], list[str]]] = [
    analytics_importing_the_ui_layer, ui_importing_pages, pages_importing_the_store, sql_outside_analytics,
    domains_importing_commands_or_demo, store_importing_a_domain, ingest_importing_a_domain,
    domains_importing_the_store_outside_pipelines, domains_running_sql_outside_pipelines, import_cycles,
    pages_without_the_setup_call, pages_folder_holding_other_files, analytics_holding_other_packages,
]


@pytest.mark.parametrize("rule", RULES, ids=[r.__name__.replace("_", " ") for r in RULES])
def test_the_tree_keeps_the_rule(rule):
    assert rule(ROOT) == []


def test_importing_every_analytics_module_does_not_import_streamlit():
    modules = sorted(m for m in analytics_modules(ROOT) if not m.endswith("__main__"))
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "assert 'streamlit' not in sys.modules, 'streamlit was imported'\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_derived_lists_name_what_the_layout_says():
    """Hand-checked against the tree: the lists the rules derive are the ones DESIGN.md names."""
    assert {"slo", "gpu", "capacity", "traffic", "charts", "review"} <= domains(ROOT) <= PACKAGES - NOT_DOMAINS
    assert {"analytics.store.client", "analytics.store.journal", "analytics.store.otel_metrics"} <= store_access(ROOT)
    assert not STORE_DEFINITIONS & store_access(ROOT)
    assert {"analytics.errors", "analytics.times", "analytics.columns"} <= shared_modules(ROOT)
    assert store_methods(ROOT) == {"query", "scalar", "command", "insert"}


@pytest.mark.parametrize(("graph", "cyclic"), [({"a": {"b"}, "b": {"a"}}, True), ({"a": {"b"}, "b": set()}, False)],
                         ids=["a cycle is found", "a chain is not a cycle"])
def test_the_cycle_finder_itself(graph, cyclic):
    assert (find_cycle(graph) is not None) == cyclic


# ---- the test of the tests: each rule fails on a copy of the tree with one violation seeded ----

def append(path: str, text: str) -> Callable[[Path], str]:
    """A seeding: `text` appended to the file at `path` (created when absent); returns the path."""
    def seed(root: Path) -> str:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((target.read_text() if target.exists() else "") + "\n" + text + "\n")
        return path
    return seed


def add_package(path: str) -> Callable[[Path], str]:
    def seed(root: Path) -> str:
        (root / path).mkdir()
        (root / path / "__init__.py").write_text("")
        return path
    return seed


SEEDS = {
    "a domain importing store.otel_metrics": (domains_importing_the_store_outside_pipelines,
                                              append("analytics/slo/budget.py", "from analytics.store import otel_metrics")),
    "a domain importing store.journal": (domains_importing_the_store_outside_pipelines,
                                         append("analytics/gpu/hours.py", "import analytics.store.journal")),
    "a domain calling store.query outside its pipeline": (
        domains_running_sql_outside_pipelines,
        append("analytics/capacity/demand.py", "def hours(store):\n    return store.query('SELECT 1')")),
    "a domain inserting through a store outside its pipeline": (
        domains_running_sql_outside_pipelines,
        append("analytics/review/changes.py", "def keep(frame, store):\n    store.insert('changes', frame)")),
    "SQL in ui": (sql_outside_analytics, append("ui/format.py", "TOTALS = 'SELECT count() FROM requests'")),
    "SQL in a page": (sql_outside_analytics, append("pages/9_Data.py", "sql = f\"SELECT * FROM {'requests'}\"")),
    "a page importing the store": (pages_importing_the_store,
                                   append("pages/1_SLOs.py", "from analytics.store import queries")),
    "app.py importing the store": (pages_importing_the_store, append("app.py", "import analytics.store.client")),
    "ui importing pages": (ui_importing_pages, append("ui/tables.py", "from pages import helpers")),
    "ingest importing slo": (ingest_importing_a_domain, append("analytics/ingest/rules.py", "from analytics.slo import spec")),
    "analytics importing streamlit": (analytics_importing_the_ui_layer,
                                      append("analytics/times.py", "import streamlit as st")),
    "a domain importing a command": (domains_importing_commands_or_demo,
                                     append("analytics/traffic/summary.py", "from analytics.cli import common")),
    "the store importing a domain": (store_importing_a_domain,
                                     append("analytics/store/gpu.py", "from analytics.gpu import hours")),
    "an import cycle": (import_cycles, append("analytics/errors.py", "from analytics import times")),
    "a page without the setup call": (pages_without_the_setup_call, append("pages/8_Empty.py", "import ui")),
    "a file in pages that is no page": (pages_folder_holding_other_files, append("pages/helpers.py", "X = 1")),
    "a package that is no domain": (analytics_holding_other_packages, add_package("analytics/misc")),
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A copy of the tree the rules read (analytics/, ui/, pages/, app.py)."""
    copy = tmp_path_factory.mktemp("tree")
    ignore = shutil.ignore_patterns("__pycache__")
    for folder in ("analytics", "ui", "pages"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=ignore)
    shutil.copy(ROOT / "app.py", copy / "app.py")
    return copy


@pytest.mark.parametrize("case", SEEDS, ids=list(SEEDS))
def test_each_rule_fails_on_a_seeded_violation_naming_the_file(case, pristine, tmp_path):
    rule, seed = SEEDS[case]
    shutil.copytree(pristine, tmp_path / "tree")
    root = tmp_path / "tree"
    assert rule(root) == [], "the copy starts clean"
    seeded = seed(root)
    found = rule(root)
    assert found, f"{rule.__name__} missed {case}"
    assert any(seeded in line for line in found), found


def test_every_rule_has_a_seeded_violation():
    assert {rule for rule, _ in SEEDS.values()} == set(RULES)
