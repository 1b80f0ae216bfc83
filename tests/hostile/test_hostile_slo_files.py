"""Hostile SLO files through the real command line (a subprocess on an empty embedded store) and
the SLOs page: each is refused with exit code 2 and ONE line on stderr naming the file, and the
SLO and field where there is one; never a traceback, never gigabytes or minutes first.

The limits (docs/limits.md, "SLO files"): analytics.slo.files.MAX_FILE_BYTES, MAX_ALIASES,
MAX_NODES, MAX_DEPTH and analytics.slo.spec.MAX_WINDOW.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.cli.main import main
from analytics.errors import SpecError
from analytics.slo.files import MAX_ALIASES, MAX_DEPTH, MAX_FILE_BYTES, parse_text
from tests.conftest import ROOT, run_page


def alias_bomb() -> str:
    """374 bytes: nine levels of nine aliases, 9^9 strings once expanded ("billion laughs")."""
    parts, prev = ["&a [lol,lol,lol,lol,lol,lol,lol,lol,lol]"], "a"
    for c in "bcdefghi":
        parts.append(f"&{c} [" + ",".join([f"*{prev}"] * 9) + "]")
        prev = c
    return "slos:\n- {name: x, sli: availability, target: 99, window: 7d, description: [" + ",".join(parts) + "]}\n"


OURS = "slos:\n- {{name: x, sli: availability, target: 99, window: {window}{extra}}}\n"
OPENSLO = """apiVersion: openslo/v1
kind: SLO
metadata: {metadata}
spec:
  budgetingMethod: {method}
  timeWindow: [{{duration: 28d, isRolling: true}}]
  indicator:
    metadata: {{name: ind}}
    spec: {{ratioMetric: {{good: {{metricSource: {{type: x}}}}, total: {{metricSource: {{type: x}}}}}}}}
  objectives: [{objective}]
"""
NAME = "{name: chat-avail, annotations: {mlserving.dev/sli: availability}}"
HUGE = "9" * 400  # a whole number no float holds (float() of it raises OverflowError)
SHOWN_HUGE = "999999999999999999...9999999999999999999"  # as reprlib shortens it in a message
LATENCY = "slos:\n- {{name: x, sli: {{latency: {{field: ttft_ms, threshold_ms: {threshold}}}}}, target: 99, window: 7d}}\n"
# Two OpenSLO documents, each holding itself through an alias: comparing them never ends.
SELF_HOLDING = """apiVersion: openslo/v1
kind: SLO
metadata: &m {self: *m, name: a}
spec: {}
---
apiVersion: openslo/v1
kind: SLO
metadata: &n {self: *n, name: b}
spec: {}
"""


def openslo(metadata=NAME, method="Occurrences", objective="{target: 0.99}") -> str:
    return OPENSLO.format(metadata=metadata, method=method, objective=objective)


# (id, file text, what the one line must say)
CASES = [
    ("alias-bomb", alias_bomb(), "over 100000 YAML nodes once aliases are expanded"),
    ("too-many-aliases", "x: &s a\nslos: [" + ", ".join(["*s"] * (MAX_ALIASES + 1)) + "]\n",
     f"more than {MAX_ALIASES} YAML aliases"),
    ("too-deep", "slos: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n",
     f"nested deeper than {MAX_DEPTH} levels"),
    ("too-big", "# " + "x" * MAX_FILE_BYTES + "\nslos: []\n", f"over the SLO file limit of {MAX_FILE_BYTES} bytes"),
    ("window-100000d", OURS.format(window="100000d", extra=""),
     "SLO 'x': window: '100000d' is longer than the 366d limit"),
    ("window-overflow", OURS.format(window="99999999999999d", extra=""),
     "SLO 'x': window: '99999999999999d' is not a duration"),
    ("window-999999999w", OURS.format(window="999999999w", extra=""),
     "SLO 'x': window: '999999999w' is longer than the 366d limit"),
    ("threshold-400-digits", LATENCY.format(threshold=HUGE),
     f"SLO 'x': sli.latency.threshold_ms: {SHOWN_HUGE} must be a positive, finite number of milliseconds"),
    ("min-events-400-digits", OURS.format(window="7d", extra=f", min_events: {HUGE}"),
     f"SLO 'x': min_events: {SHOWN_HUGE} must be a whole number from 0 to 2^53"),
    ("openslo-documents-holding-themselves", SELF_HOLDING,
     "line 3: *m refers to a mapping or list that holds it"),
    ("timezone-list", OURS.format(window="calendar-month", extra=", timezone: [UTC]"),
     "SLO 'x': timezone: ['UTC'] is not an IANA time zone name"),
    ("openslo-spec-list", "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: chat-avail}\nspec: [1, 2]\n",
     "SLO 'chat-avail': spec: expected a mapping"),
    ("openslo-labels-list", openslo(metadata="{name: chat-avail, labels: [a, b]}"),
     "SLO 'chat-avail': metadata.labels: expected a mapping"),
    ("openslo-annotations-list", openslo(metadata="{name: chat-avail, annotations: [mlserving.dev/sli]}"),
     "SLO 'chat-avail': metadata.annotations: expected a mapping"),
    ("openslo-inf-min-events",
     openslo(metadata="{name: chat-avail, annotations: "
                      "{mlserving.dev/sli: availability, mlserving.dev/min-events: .inf}}"),
     "SLO 'chat-avail': mlserving.dev/min-events: inf is not a finite number"),
    ("openslo-inf-timeslice",
     openslo(method="Timeslices", objective="{target: 0.99, timeSliceTarget: 0.9, timeSliceWindow: .inf}"),
     "SLO 'chat-avail': spec.objectives[0].timeSliceWindow: inf is not a finite number"),
    ("openslo-nan-target", openslo(objective="{target: .nan}"),
     "SLO 'chat-avail': spec.objectives[0].target: nan is not a finite number"),
    ("openslo-objective-list", openslo(objective="[target, 0.99]"),
     "SLO 'chat-avail': spec.objectives[0]: expected a mapping"),
]


@pytest.mark.parametrize("text, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_hostile_slo_file_is_one_clear_line_from_the_command(store, store_dsn, capsys, tmp_path, text, message):
    path = tmp_path / "slos.yaml"
    path.write_text(text)
    code = main(["--dsn", store_dsn, "slo", "--config", str(path)])  # in this process: the session's store
    out, err = capsys.readouterr()
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), err
    assert message in lines[0]
    assert out == ""


def test_a_hostile_slo_file_is_one_clear_line_from_the_command_run_as_a_process(tmp_path):
    """The subprocess smoke of the above: no traceback reaches the terminal."""
    text, message = next(c[1:] for c in CASES if c[0] == "alias-bomb")
    path = tmp_path / "slos.yaml"
    path.write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "CLICKHOUSE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "analytics", "--dsn", f"chdb://{tmp_path}/db", "slo", "--config", str(path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ") and message in lines[0], done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("case", ["alias-bomb", "openslo-inf-min-events", "openslo-documents-holding-themselves",
                                  "threshold-400-digits"])
def test_a_hostile_slo_file_is_one_clear_error_on_the_slos_page(store, case):
    from ui import slo as slo_ui

    text, message = next(c[1:] for c in CASES if c[0] == case)
    at = run_page("pages/1_SLOs.py", range="28d")
    at.session_state[slo_ui.CONFIG_KEY] = (text, "hostile.yaml")
    at.run()
    assert not at.exception
    shown = re.sub(r"\\(.)", r"\1", at.error[0].value)  # as it reads: markdown escapes (ui.format.text) removed
    assert len(at.error) == 1 and message in shown


# --- any value anywhere: a SpecError or SLOs, nothing else ------------------------------------------

HOSTILE_VALUES = [None, [], ["a", 1], {}, {"x": [1]}, float("inf"), float("-inf"), float("nan"), True, 0, -1,
                  10**30, 10**400, "", "x" * 300, "1e309", "99999999999999d", "999999999w"]


def _paths(node, prefix=()):
    """Every path to a value in a YAML document (mapping keys and list positions)."""
    yield prefix
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield from _paths(child, (*prefix, key))


def _replace(node, path, value):
    if not path:
        return value
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = _replace(node[path[0]], path[1:], value)
    return copy


VALID_FILES = sorted((ROOT / "tests" / "data" / "openslo").glob("*.yaml")) + [ROOT / "slos.yaml"]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), value=st.sampled_from(HOSTILE_VALUES), index=st.integers(0, len(VALID_FILES) - 1))
def test_any_hostile_value_anywhere_in_a_valid_file_is_a_spec_error_or_slos(data, value, index):
    docs = list(yaml.safe_load_all(VALID_FILES[index].read_text()))
    d = data.draw(st.integers(0, len(docs) - 1))
    path = data.draw(st.sampled_from(list(_paths(docs[d]))))
    docs[d] = _replace(docs[d], path, value)
    text = yaml.safe_dump_all(docs)
    try:
        slos = parse_text(text, "f.yaml")
    except SpecError as exc:
        message = str(exc)
        assert message.startswith("f.yaml: ") and "\n" not in message and len(message) < 600, message
    else:
        assert all(0 < s.target < 1 for s in slos)


@pytest.mark.parametrize("name, content, message", [
    ("bomb.yaml", alias_bomb().encode(), "bomb.yaml: over 100000 YAML nodes once aliases are expanded"),
    ("latin1.yaml", "slos: [{name: caf\u00e9}]\n".encode("latin-1"), "latin1.yaml: not UTF-8 text"),
], ids=["alias bomb", "not UTF-8"])
def test_a_hostile_uploaded_slo_file_is_one_clear_error(store, name, content, message):
    at = run_page("pages/1_SLOs.py", range="28d")
    at.file_uploader(key="slo_upload").set_value((name, content, "application/yaml")).run()
    assert not at.exception, [e.message for e in at.exception]
    assert len(at.error) == 1 and message in at.error[0].value
