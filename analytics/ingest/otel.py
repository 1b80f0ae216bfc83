"""OpenTelemetry request spans -> our `requests` rows: the attribute mapping and its checks.

A mapping names, for each of our request fields, the span attributes to read it from (the first
one present wins; each name is looked up in the span's attributes, then its resource's). The
defaults are vLLM's request span (`llm_request`, vllm/tracing.py SpanAttributes: latencies in
seconds under gen_ai.latency.*, tokens under gen_ai.usage.*) plus OpenTelemetry's resource
conventions (service.version, service.instance.id, cloud.region). An attribute-map YAML file
overrides any of them; it is checked here and a bad one is ONE InputError naming the file and key.

The span table's shape is checked here too, from its DESC TABLE rows: the exporter's schema
differs between versions (notes/otel-clickhouse.md), so a table we cannot read is refused with
the column and type that stop us.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from analytics.errors import InputError

DEFAULT_TABLE = "otel_traces"
DEFAULT_SPAN = "llm_request"  # vLLM's one span per request (vllm/tracing.py)

# Our field -> attribute names, first present wins. Latencies are in seconds (vLLM's unit);
# tokens accept both vLLM's names and the newer GenAI semantic conventions
# (gen_ai.usage.input_tokens / output_tokens). `deployment` with no attribute (the default) is the
# span's ServiceName. `tpot_ms` with no attribute is derived from the decode time:
# tpot = time_in_model_decode / (output_tokens - 1), the mean time per output token after the
# first (our requests schema; vLLM's decode time runs from the first token to the last), and 0
# for a one-token answer, as file ingest derives it.
# `weight` is the sample rate a head sampler recorded (Honeycomb's SampleRate convention: the
# span stands for that many requests); absent means 1. `error_type` and `http_status` refine
# the status (OpenTelemetry semconv error.type and http.response.status_code).
DEFAULT_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "deployment": (),
    "model": ("gen_ai.response.model", "gen_ai.request.model"),
    "model_version": ("service.version",),
    "region": ("cloud.region",),
    "gpu_type": ("gpu.type",),
    "replica": ("service.instance.id", "host.name"),
    "queue_ms": ("gen_ai.latency.time_in_queue",),
    "ttft_ms": ("gen_ai.latency.time_to_first_token",),
    "tpot_ms": (),
    "decode": ("gen_ai.latency.time_in_model_decode",),
    "e2e_ms": ("gen_ai.latency.e2e",),
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
    "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
    "weight": ("SampleRate",),
    "error_type": ("error.type",),
    "http_status": ("http.response.status_code",),
}

# Status from the span: error.type values and HTTP codes that name a timeout or a rejection
# (load shedding); any other error (StatusCode Error, a non-empty error.type, HTTP >= 500) is
# 'error'; Ok and Unset are 'ok'. The exporter writes StatusCode as "Error" (pdata's
# StatusCode.String()); older versions wrote "STATUS_CODE_ERROR".
TIMEOUT_VALUES = ("timeout", "deadline_exceeded", "408", "504")
REJECTED_VALUES = ("rejected", "overloaded", "resource_exhausted", "429")
ERROR_STATUS_CODES = ("Error", "STATUS_CODE_ERROR")

# Names that reach SQL as identifiers (tables) cannot be bound: they must match this.
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# Attribute names are bound parameters; this only keeps out what no real attribute looks like.
ATTRIBUTE = re.compile(r"^[^\x00-\x1f]{1,255}$")

# Columns of the exporter's span table we read, and the types we can read them as.
_STRING = ("String", "LowCardinality(String)")
# Attributes: Map (the default schema) or JSON (`json: true`), read by analytics.store.attributes.
_MAP = ("Map(LowCardinality(String), String)", "Map(String, String)", "JSON", "JSON(")
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "Timestamp": ("DateTime64(",),  # prefix: any precision and zone
    "ServiceName": _STRING,
    "SpanName": _STRING,
    "StatusCode": _STRING,
    "Duration": ("UInt64", "Int64"),
    "SpanAttributes": _MAP,
    "ResourceAttributes": _MAP,
}


@dataclass(frozen=True)
class SpanSource:
    """Which spans of which table become requests, and how their attributes map to our fields."""

    table: str = DEFAULT_TABLE
    span: str = DEFAULT_SPAN
    services: tuple[str, ...] = ()  # empty: every service
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_ATTRIBUTES))

    @property
    def view(self) -> str:
        """The materialized view feeding `requests` from this table."""
        return f"requests_from_{self.table.rpartition('.')[2]}_mv"


def check_table_name(name: str) -> str:
    """`name` or `database.name`, each part a plain identifier (a table name cannot be bound)."""
    if not all(IDENTIFIER.match(part) for part in name.split(".", 1)):
        raise InputError(f"--table {name!r}: not a table name (letters, digits and _, optionally database.table)")
    return name


def source(table: str = DEFAULT_TABLE, span: str = DEFAULT_SPAN, services: Sequence[str] = (),
           attribute_map: Path | None = None) -> SpanSource:
    """The span source from command-line values and an optional attribute-map file."""
    if not span or not ATTRIBUTE.match(span):
        raise InputError(f"--span {span!r}: not a span name")
    for name in services:
        if not name or not ATTRIBUTE.match(name):
            raise InputError(f"--service {name!r}: not a service name")
    attributes = dict(DEFAULT_ATTRIBUTES)
    if attribute_map is not None:
        attributes.update(read_attribute_map(attribute_map))
    return SpanSource(check_table_name(table), span, tuple(services), attributes)


def read_attribute_map(path: Path, known: Mapping[str, object] = DEFAULT_ATTRIBUTES) -> dict[str, tuple[str, ...]]:
    """Overrides from a YAML file `field: attribute` or `field: [attribute, ...]` ([] = none); the
    fields are the keys of `known` (a source's default map)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the attribute map ({exc.strerror})") from None
    if len(text) > 1 << 16:
        raise InputError(f"{path}: over 64 KiB; an attribute map is a few lines")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of field: attribute, got {type(data).__name__}")
    out = {}
    for key, value in data.items():
        if key not in known:
            raise InputError(f"{path}: unknown key {key!r} (one of {', '.join(known)})")
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not all(isinstance(n, str) and ATTRIBUTE.match(n) for n in names):
            raise InputError(f"{path}: key {key!r}: expected an attribute name or a list of them, got {value!r}")
        out[key] = tuple(names)
    return out


def check_span_table(table: str, columns: Mapping[str, str]) -> None:
    """Refuse a span table we cannot read (from DESC TABLE: column name -> type), naming why."""
    for name, accepted in REQUIRED_COLUMNS.items():
        type_ = columns.get(name)
        if type_ is None:
            raise InputError(f"{table}: no column {name}; is this the OpenTelemetry exporter's span table?")
        if not any(type_ == a or (a.endswith("(") and type_.startswith(a)) for a in accepted):
            raise InputError(f"{table}.{name} has type {type_}; expected {' or '.join(accepted)}")

