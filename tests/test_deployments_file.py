"""A deployments file (CSV or YAML) says what each deployment runs on and what its GPUs cost,
without DCGM and without SQL: the GPUs the Capacity plan counts and the price GPU cost uses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import streamlit as st

from analytics.capacity import plan as capacity_plan
from analytics.errors import InputError
from analytics.gpu import efficiency as gpu_efficiency
from analytics.ingest.files import open_file
from analytics.ingest.load import load_files
from analytics.store import conventions, queries
from analytics.store.ddl import layout_of
from tests.conftest import run_page

PREFIX = "file-"  # every deployment these tests write, removed afterwards from the session store
FLEET = """deployment,gpu_type,gpus_per_replica,replicas,cost_per_gpu_hour,model,kind,params_b,region,owner
file-chat,H100-80GB,4,3,2.5,llama-3-70b,chat,70,us-east,chat-team
"""


@pytest.fixture
def deployments_store(store):
    """The session store; afterwards the deployments these tests wrote are deleted and every
    cached query is dropped, so other tests see the demo fleet alone."""
    st.cache_data.clear()
    yield store
    store.command(layout_of(store).delete(conventions.DEPLOYMENTS, "startsWith(deployment, {p:String})"),
                  {"p": PREFIX})
    st.cache_data.clear()


def _written(store) -> pl.DataFrame:
    return queries.deployments_table(store).filter(pl.col("deployment").str.starts_with(PREFIX))


def _file(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(body)
    return path


def test_a_deployments_file_sets_the_gpus_the_capacity_plan_counts_and_the_price_gpu_cost_uses(
        deployments_store, tmp_path):
    path = _file(tmp_path, "fleet.csv",
                 "deployment,gpu_type,gpus,gpus_per_replica,replicas,cost_per_gpu_hour,model,kind,params_b,region,owner\n"
                 "file-chat,H100-80GB,12,4,3,2.5,llama-3-70b,chat,70,us-east,chat-team\n"
                 "file-embed,L4-24GB,2,,,0.8,,,,,\n")
    loaded = load_files(deployments_store, [path])
    assert [(item.table, item.rows, item.deployments) for item in loaded] == [
        ("deployments", 2, ("file-chat", "file-embed"))]
    table = queries.deployments_table(deployments_store)
    # (current GPUs = 4 per replica x 3 replicas, GPUs per replica, type); `gpus` alone: replicas of one GPU
    assert capacity_plan.gpus(table, "file-chat") == (12, 4, "H100-80GB")
    assert capacity_plan.gpus(table, "file-embed") == (2, 1, "L4-24GB")
    hours = pl.DataFrame({"deployment": ["file-chat", "file-embed"], "gpu_type": ["H100-80GB", "L4-24GB"]})
    assert gpu_efficiency.priced(hours, table)["cost_per_gpu_hour"].to_list() == [2.5, 0.8]
    chat, embed = _written(deployments_store).sort("deployment").iter_rows(named=True)
    assert (chat["model"], chat["kind"], chat["params_b"], chat["region"], chat["owner"]) == (
        "llama-3-70b", "chat", 70.0, "us-east", "chat-team")
    assert (embed["model"], embed["kind"], embed["params_b"]) == ("file-embed", "", None)  # model: the name


def test_a_second_file_replaces_the_deployments_it_names_and_keeps_the_others(deployments_store, tmp_path):
    load_files(deployments_store, [_file(tmp_path, "first.csv", FLEET + "file-code,A100-80GB,2,1,1.9,,,,,\n")])
    load_files(deployments_store, [_file(tmp_path, "second.csv",
                                         "deployment,gpu_type,gpus,cost_per_gpu_hour\nfile-chat,H200-141GB,16,3.1\n")])
    rows = _written(deployments_store).sort("deployment").select(
        "deployment", "gpu_type", "gpus_per_replica", "replicas", "cost_per_gpu_hour", "model").rows()
    assert rows == [("file-chat", "H200-141GB", 1, 16, 3.1, "file-chat"), ("file-code", "A100-80GB", 2, 1, 1.9, "file-code")]


@pytest.mark.parametrize(("row", "column", "message"), [
    ("file-b,L4-24GB,eight,,,0.8", "gpus", "'eight' is not a whole number"),
    ("file-b,L4-24GB,0,,,0.8", "gpus", "0 is below 1"),
    ("file-b,L4-24GB,8,4,,0.8", "replicas", "empty: gpus_per_replica needs replicas"),
    ("file-b,L4-24GB,70000,,,0.8", "gpus", "70000 is above the largest count 65,535"),
    ("file-b,L4-24GB,,,,0.8", "gpus", "empty: give gpus, or gpus_per_replica and replicas"),
    ("file-b,L4-24GB,8,4,3,0.8", "gpus", "8 is not gpus_per_replica x replicas (4 x 3)"),
    ("file-b,L4-24GB,2,,,-0.8", "cost_per_gpu_hour", "negative value -0.8"),
    ("file-b,L4-24GB,2,,,", "cost_per_gpu_hour", "empty"),
    ("file-b,,2,,,0.8", "gpu_type", "empty"),
    ("file-a,L4-24GB,2,,,0.8", "deployment", "'file-a' appears earlier in the file"),
])
def test_a_bad_row_refuses_the_whole_file_naming_its_row_and_column(deployments_store, tmp_path, row, column, message):
    path = _file(tmp_path, "fleet.csv", "deployment,gpu_type,gpus,gpus_per_replica,replicas,cost_per_gpu_hour\n"
                                        f"file-a,H100-80GB,8,,,4.5\n{row}\n")
    with pytest.raises(InputError) as refused:
        load_files(deployments_store, [path])
    assert str(refused.value) == f"{path}: row 2, column {column!r}: {message}"
    assert _written(deployments_store).is_empty()  # row 1 was valid: nothing of the file was written


def test_a_bad_telemetry_file_in_the_same_load_keeps_the_deployments_file_from_being_written(
        deployments_store, tmp_path):
    bad = _file(tmp_path, "requests.csv", "ts,deployment,ttft_ms\n2024-05-01 12:00:00,file-chat,-5\n")
    with pytest.raises(InputError, match="column 'ttft_ms': negative value"):
        load_files(deployments_store, [_file(tmp_path, "fleet.csv", FLEET), bad])
    assert _written(deployments_store).is_empty()


def test_a_file_without_a_gpu_count_or_with_an_unknown_column_is_refused_by_its_header(tmp_path):
    no_count = _file(tmp_path, "a.csv", "deployment,gpu_type,cost_per_gpu_hour\nfile-a,L4-24GB,0.8\n")
    with pytest.raises(InputError, match="column 'gpus': missing column: give gpus, or gpus_per_replica and replicas"):
        list(open_file(no_count).chunks())
    typo = _file(tmp_path, "b.csv", "deployment,gpu_type,gpus,cost_per_gpu_hour,param_b\nfile-a,L4-24GB,1,0.8,7\n")
    with pytest.raises(InputError, match="column 'param_b': unknown column"):
        list(open_file(typo).chunks())


def test_the_format_is_told_by_the_header_and_a_requests_file_stays_a_requests_file(tmp_path):
    assert open_file(_file(tmp_path, "fleet.csv", FLEET)).table == conventions.DEPLOYMENTS
    requests = _file(tmp_path, "r.csv", "ts,deployment,gpu_type,cost_per_gpu_hour\n2024-05-01 12:00:00,x,L4-24GB,1\n")
    assert open_file(requests).table == conventions.REQUESTS
    assert open_file(_file(tmp_path, "fleet.yaml", "[]")).table == conventions.DEPLOYMENTS


def test_a_yaml_file_loads_the_same_rows_as_the_csv(deployments_store, tmp_path):
    path = _file(tmp_path, "fleet.yaml", """deployments:
  - deployment: file-chat
    gpu_type: H100-80GB
    gpus_per_replica: 4
    replicas: 3
    cost_per_gpu_hour: 2.5
    model: llama-3-70b
    kind: chat
    params_b: 70
    region: us-east
    owner: chat-team
""")
    load_files(deployments_store, [path])
    from_yaml = _written(deployments_store)
    load_files(deployments_store, [_file(tmp_path, "fleet.csv", FLEET)])
    assert from_yaml.equals(_written(deployments_store))
    bad = _file(tmp_path, "bad.yml", "- {deployment: file-x, gpu_type: L4-24GB, gpus: [1, 2], cost_per_gpu_hour: 1}\n")
    with pytest.raises(InputError, match=r"bad.yml: row 1, column 'gpus': \[1, 2\] is not a single value"):
        load_files(deployments_store, [bad])


def test_the_command_line_loads_a_deployments_file_and_refuses_a_bad_one(tmp_path):
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "analytics", "--dsn", f"chdb://{tmp_path / 'db'}", *args],
                              capture_output=True, text=True, timeout=300, cwd=Path(__file__).parent.parent)

    result = cli("ingest", str(_file(tmp_path, "fleet.csv", FLEET)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("fleet.csv: 1 rows into deployments")
    bad = _file(tmp_path, "bad.csv", "deployment,gpu_type,gpus,cost_per_gpu_hour\nfile-a,L4-24GB,2,free\n")
    result = cli("ingest", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {bad}: row 1, column 'cost_per_gpu_hour': 'free' is not a number"


def test_the_data_page_upload_recognises_a_deployments_file_and_loads_it(deployments_store):
    at = run_page("pages/9_Data.py")
    at.file_uploader[0].set_value(("fleet.csv", FLEET.encode(), "text/csv"))  # the format left at "requests"
    at.button[0].click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.success[0].value == "Loaded 1 row into deployments"
    assert any("- New deployments (1): file-chat" in m.value for m in at.main.markdown)
    assert capacity_plan.gpus(queries.deployments_table(deployments_store), "file-chat") == (12, 4, "H100-80GB")
