"""Imports point one way: pages -> ui -> analytics; analytics never imports streamlit."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_importing_every_analytics_module_does_not_import_streamlit():
    modules = sorted(f"analytics.{p.stem}" for p in (ROOT / "analytics").glob("*.py") if p.stem != "__main__")
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "assert 'streamlit' not in sys.modules, 'streamlit was imported'\n"
            "print(len(sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_analytics_never_imports_the_ui_layer():
    for path in (ROOT / "analytics").glob("*.py"):
        assert not _imports(path) & {"ui", "streamlit", "pages"}, path.name


def test_every_page_starts_with_the_shared_setup_call():
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        tree = ast.parse(path.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup"]
        assert calls, f"{path.name} does not call ui.page.setup()"
        assert "ui" in _imports(path)


def test_pages_hold_only_numbered_page_scripts():
    for path in (ROOT / "pages").iterdir():
        if path.name == "__pycache__":
            continue
        assert path.suffix == ".py" and path.name.split("_")[0].isdigit(), path.name
