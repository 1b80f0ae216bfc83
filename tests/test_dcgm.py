"""DCGM-exporter-style CSV parsing (analytics.ingest.dcgm).

tests/data/dcgm_sample.csv was written by hand for these tests (not exported from a real GPU):
two H100 GPUs on gpu-node-a with profiling fields, one L4 on gpu-node-b with dcgm-exporter's
default counters (profiling columns empty), three scrapes 30 s apart, and one of each DCGM blank
(dcgm_structs.h): DCGM_INT64_BLANK in GPU_UTIL (row 5), DCGM_FP64_BLANK = 2**47 in POWER_USAGE
(row 7), DCGM_INT32_BLANK in GPU_TEMP (row 6) and "N/A" in GPU_UTIL (row 9).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from analytics.errors import InputError
from analytics.ingest.dcgm import parse_dcgm_csv
from analytics.store import conventions

SAMPLE = Path(__file__).parent / "data" / "dcgm_sample.csv"
HEADER = "timestamp,Hostname,gpu,modelName,deployment,DCGM_FI_DEV_GPU_UTIL,DCGM_FI_PROF_SM_ACTIVE,DCGM_FI_DEV_FB_USED,DCGM_FI_DEV_FB_FREE"
GOOD_ROW = "2024-05-06T10:00:00Z,node-a,0,NVIDIA A100-SXM4-80GB,chat,50,0.4,1000,79000"


@pytest.fixture(scope="module")
def sample() -> pl.DataFrame:
    return parse_dcgm_csv(SAMPLE)


def test_the_frame_has_exactly_the_gpu_metrics_columns_and_types(sample):
    assert sample.columns == list(conventions.GPU_COLUMNS)
    assert sample.schema["ts"] == pl.Datetime("ms", "UTC")
    assert sample.schema["gpu"] == pl.UInt8
    assert all(sample.schema[c] == pl.Float32 for c in conventions.GPU_VALUE_COLUMNS)
    assert sample.height == 9


@pytest.mark.parametrize(
    ("row", "column", "why"),
    [
        (4, "gpu_util", "DCGM_INT64_BLANK 9223372036854775792"),
        (6, "power_w", "DCGM_FP64_BLANK 140737488355328.0 (2**47)"),
        (5, "temp_c", "DCGM_INT32_BLANK 2147483632"),
        (8, "gpu_util", "the text N/A"),
        (2, "sm_active", "an empty profiling cell (profiling counters disabled)"),
        (2, "tensor_active", "an empty profiling cell (profiling counters disabled)"),
    ],
    ids=lambda v: str(v),
)
def test_blank_sentinels_and_empty_cells_become_null(sample, row, column, why):
    assert sample[column][row] is None, why


def test_real_values_keep_their_units(sample):
    first = sample.row(0, named=True)
    assert first["gpu_util"] == pytest.approx(92.0)  # DCGM percent, as the gpu_metrics table stores it
    assert first["sm_active"] == pytest.approx(0.61)
    assert first["power_w"] == pytest.approx(512.4, rel=1e-6)
    assert first["ts"] == datetime(2024, 5, 6, 10, 0, tzinfo=UTC)
    assert (first["node"], first["gpu"], first["gpu_type"], first["deployment"]) == (
        "gpu-node-a", 0, "NVIDIA H100 80GB HBM3", "chat-llama3-70b")


def test_framebuffer_total_is_used_plus_free_plus_reserved(sample):
    # 61234 + 19761 + 564 = 81559 MiB (H100 80GB); 5120 + 17351 + 563 = 23034 MiB (L4)
    assert sample["fb_total_mib"].unique().sort().to_list() == [23034.0, 81559.0]


def test_the_deployment_argument_overrides_the_column_and_region_defaults_to_unknown(sample):
    named = parse_dcgm_csv(SAMPLE, "override", region="eu-west")
    assert named["deployment"].unique().to_list() == ["override"]
    assert named["region"].unique().to_list() == ["eu-west"]
    assert sample["region"].unique().to_list() == ["unknown"]


@pytest.mark.parametrize(
    "stamp",
    ["2024-05-06T10:00:00Z", "2024-05-06 10:00:00", "2024-05-06T12:00:00+02:00", "1714989600", "1714989600000"],
    ids=["ISO with Z", "naive ISO is UTC", "ISO with an offset", "epoch seconds", "epoch milliseconds"],
)
def test_timestamps_in_every_accepted_form_mean_the_same_instant(tmp_path, stamp):
    path = tmp_path / "t.csv"
    path.write_text(f"{HEADER}\n{GOOD_ROW.replace('2024-05-06T10:00:00Z', stamp)}\n")
    assert parse_dcgm_csv(path)["ts"][0] == datetime(2024, 5, 6, 10, 0, tzinfo=UTC)


def test_a_file_without_profiling_columns_loads_them_as_null(tmp_path):
    path = tmp_path / "default-counters.csv"
    path.write_text("timestamp,Hostname,gpu,modelName,DCGM_FI_DEV_GPU_UTIL\n2024-05-06T10:00:00Z,n,0,L4,35\n")
    frame = parse_dcgm_csv(path, "fraud")
    assert frame.select(conventions.GPU_VALUE_COLUMNS).row(0) == (35.0,) + (None,) * (len(conventions.GPU_VALUE_COLUMNS) - 1)


BAD_CASES = [
    ("a value that is not a number", f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW.replace(',0.4,', ',busy,')}\n",
     "row 2, column 'DCGM_FI_PROF_SM_ACTIVE': not a number: 'busy'"),
    ("a ratio above 1", f"{HEADER}\n{GOOD_ROW.replace(',0.4,', ',1.7,')}\n",
     "row 1, column 'DCGM_FI_PROF_SM_ACTIVE': outside the valid range [0, 1]"),
    ("a negative percent", f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW}\n{GOOD_ROW.replace(',50,', ',-3,')}\n",
     "row 3, column 'DCGM_FI_DEV_GPU_UTIL': outside the valid range [0, 100]"),
    ("a row with too many fields", f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW},extra\n", "row 2: 10 fields where the header has 9"),
    ("an unreadable time", f"{HEADER}\n{GOOD_ROW.replace('2024-05-06T10:00:00Z', 'yesterday')}\n",
     "row 1, column 'timestamp': not an ISO 8601 time or Unix epoch: 'yesterday'"),
    ("a GPU index above 255", f"{HEADER}\n{GOOD_ROW.replace(',node-a,0,', ',node-a,300,')}\n",
     "row 1, column 'gpu': GPU index must be an integer 0-255: '300'"),
    ("an empty host name", f"{HEADER}\n{GOOD_ROW.replace(',node-a,', ',,')}\n", "row 1, column 'Hostname': empty label"),
    ("no Hostname column", "timestamp,gpu,modelName,deployment,DCGM_FI_DEV_GPU_UTIL\n2024-05-06T10:00:00Z,0,L4,x,1\n",
     "missing column 'hostname'"),
    ("no DCGM field column", "timestamp,Hostname,gpu,modelName,deployment\n2024-05-06T10:00:00Z,n,0,L4,x\n",
     "no DCGM field columns"),
    ("a duplicated column", "timestamp,Hostname,gpu,modelName,gpu,DCGM_FI_DEV_GPU_UTIL\n", "column 'gpu': appears twice in the header"),
    ("only a header", f"{HEADER}\n", "no data rows"),
    ("an empty file", "", "empty file"),
]


@pytest.mark.parametrize(("case", "text", "message"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_input_names_the_file_row_and_column_in_one_line(tmp_path, case, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError) as error:
        parse_dcgm_csv(path)
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_file_without_a_deployment_needs_the_argument(tmp_path):
    path = tmp_path / "nodep.csv"
    path.write_text("timestamp,Hostname,gpu,modelName,DCGM_FI_DEV_GPU_UTIL\n2024-05-06T10:00:00Z,n,0,L4,35\n")
    with pytest.raises(InputError, match="no 'deployment' column"):
        parse_dcgm_csv(path)
    assert parse_dcgm_csv(path, "fraud")["deployment"].to_list() == ["fraud"]


def test_a_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        parse_dcgm_csv(tmp_path / "absent.csv")


@pytest.mark.parametrize("blank", ["140737488355328", "140737488355328.0", "1.40737488355328e14", "2147483632.0"],
                         ids=["fp64 blank without a decimal point", "fp64 blank", "fp64 blank in e-notation",
                              "int32 blank written as a float"])
def test_a_blank_sentinel_becomes_null_however_it_is_written(tmp_path, blank):
    path = tmp_path / "blank.csv"
    path.write_text("timestamp,Hostname,gpu,modelName,DCGM_FI_DEV_POWER_USAGE\n"
                    f"2024-05-06T10:00:00Z,n,0,L4,{blank}\n2024-05-06T10:00:30Z,n,0,L4,70.5\n")
    assert parse_dcgm_csv(path, "fraud")["power_w"].to_list() == [None, 70.5]


@pytest.mark.parametrize("stamp", ["1850-01-01T00:00:00Z", "2500-01-01T00:00:00Z", "16725225600"],
                         ids=["1850", "2500", "epoch seconds in 2500"])
def test_a_time_outside_the_plausible_range_is_refused(tmp_path, stamp):
    path = tmp_path / "t.csv"
    path.write_text(f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW.replace('2024-05-06T10:00:00Z', stamp)}\n")
    with pytest.raises(InputError, match=r"row 2, column 'timestamp': outside the plausible range 2000-01-01"):
        parse_dcgm_csv(path)


def test_an_infinite_value_is_refused_not_taken_for_a_blank(tmp_path):
    path = tmp_path / "inf.csv"
    path.write_text(f"{HEADER}\n{GOOD_ROW.replace(',1000,', ',inf,')}\n")
    with pytest.raises(InputError, match=r"row 1, column 'DCGM_FI_DEV_FB_USED': not a finite number"):
        parse_dcgm_csv(path)


def test_a_short_row_is_refused_with_its_row(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text(f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW.rsplit(',', 2)[0]}\n")
    with pytest.raises(InputError, match=r"row 2: 7 fields where the header has 9"):
        parse_dcgm_csv(path)


def test_a_gzipped_export_is_read_through_the_ingest_entry_point(tmp_path):
    import gzip

    from analytics.ingest.files import stage_file

    path = tmp_path / "dcgm.csv"
    path.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    assert stage_file(path, "dcgm").frame.height == 9
