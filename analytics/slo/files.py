"""SLO files: the project's slos.yaml, the packaged defaults, and reading either format.

Every reader of SLO files (the command line, every page, the bench) comes here, so a broken
file is the same SpecError everywhere, naming the file, the SLO and the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import cache
from pathlib import Path

import yaml

from analytics.errors import SpecError
from analytics.slo.corrections import parse_corrections
from analytics.slo.openslo import from_openslo
from analytics.slo.spec import Slo, parse_slo

# The SLO file the app and every command read unless told otherwise.
PROJECT_SLO_FILE = Path(__file__).resolve().parents[2] / "slos.yaml"
# Objectives assumed for deployments that no latency or goodput SLO covers (by kind).
DEFAULT_SLO_FILE = Path(__file__).resolve().with_name("defaults.yaml")

# Limits on an SLO file, checked on the YAML event stream before anything is built from it
# (docs/limits.md, "SLO files"): a 412-byte file of nested aliases ("billion laughs") otherwise expands
# to gigabytes as soon as anything walks it. The window length limit is MAX_WINDOW in spec.py.
MAX_FILE_BYTES = 1 << 20  # 1 MiB
MAX_ALIASES = 100  # *alias references in one file
MAX_NODES = 100_000  # scalars and collections, each alias counted as the nodes it names
MAX_DEPTH = 20  # nested mappings and lists


def check_limits(text: str, source: str) -> None:
    """A SpecError naming the file and the limit when the text exceeds one (sizes first, so
    nothing large is allocated); YAML syntax errors are SpecErrors too."""
    size = len(text.encode("utf-8", "replace"))
    if size > MAX_FILE_BYTES:
        raise SpecError(f"{source}: {size} bytes is over the SLO file limit of {MAX_FILE_BYTES} bytes")
    sizes: dict[str, int] = {}  # anchor -> nodes it stands for
    open_: list[list] = []  # per open collection: [anchor, nodes so far, itself included]
    total = aliases = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionEndEvent):
                anchor, nodes = open_.pop()
                if anchor:
                    sizes[anchor] = nodes
                if open_:
                    open_[-1][1] += nodes
                continue
            if isinstance(event, yaml.AliasEvent):
                if any(anchor == event.anchor for anchor, _ in open_):
                    raise SpecError(f"{source}: line {event.start_mark.line + 1}: *{event.anchor} refers to a "
                                    "mapping or list that holds it (a structure without end)")
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise SpecError(f"{source}: more than {MAX_ALIASES} YAML aliases (*name): write the values out")
                nodes = sizes.get(event.anchor, 1)
            elif isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent):
                nodes = 1
            else:
                continue
            total += nodes
            if total > MAX_NODES:
                raise SpecError(f"{source}: over {MAX_NODES} YAML nodes once aliases are expanded "
                                "(the SLO file limit)")
            if isinstance(event, yaml.CollectionStartEvent):
                open_.append([event.anchor, 1])
                if len(open_) > MAX_DEPTH:
                    raise SpecError(f"{source}: line {event.start_mark.line + 1}: nested deeper than "
                                    f"{MAX_DEPTH} levels (the SLO file limit)")
                continue
            if isinstance(event, yaml.ScalarEvent) and event.anchor:
                sizes[event.anchor] = 1
            if open_:
                open_[-1][1] += nodes
    except yaml.YAMLError as exc:
        raise SpecError(f"{source}: not valid YAML ({' '.join(str(exc).split())})") from exc


def parse_text(text: str, source: str) -> tuple[Slo, ...]:
    """SLOs from one file's YAML text (our format or OpenSLO v1, detected per document)."""
    check_limits(text, source)
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise SpecError(f"{source}: not valid YAML ({' '.join(str(exc).split())})") from exc
    return unique(parse_documents(docs, source))


def read_text(path: str | Path) -> str:
    """A file's text, or a SpecError naming it. At most MAX_FILE_BYTES + 1 bytes are read, whatever
    stat() says: a device (/dev/zero) or a pipe reports size 0 and never ends."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if len(data) > MAX_FILE_BYTES:
        raise SpecError(f"{path}: over the SLO file limit of {MAX_FILE_BYTES} bytes")
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not UTF-8 text (an SLO file is YAML)") from None


def load_slos(*paths: str | Path) -> tuple[Slo, ...]:
    """Load SLOs from YAML files; names must be unique across them."""
    return unique([slo for path in paths for slo in parse_text(read_text(path), str(path))])


@cache
def default_slos() -> tuple[Slo, ...]:
    """The packaged default objectives (analytics/slo/defaults.yaml)."""
    return load_slos(DEFAULT_SLO_FILE)


def unique(slos: Iterable[Slo]) -> tuple[Slo, ...]:
    """The SLOs as a tuple, or a SpecError naming the first name defined twice."""
    seen: set[str] = set()
    for slo in slos:
        if slo.name in seen:
            raise SpecError(f"{slo.source}: SLO {slo.name!r}: name: defined twice")
        seen.add(slo.name)
    return tuple(slos)


def parse_documents(docs: Iterable, source: str = "") -> list[Slo]:
    """Parse already-loaded YAML documents (our format or OpenSLO v1); composite SLOs last, since
    their objectives are the file's other SLOs."""
    docs = list(docs)
    is_openslo = [isinstance(d, Mapping) and str(d.get("apiVersion", "")).startswith("openslo/") for d in docs]
    openslo = [d for d, yes in zip(docs, is_openslo, strict=True) if yes]
    ours = [d for d, yes in zip(docs, is_openslo, strict=True) if not yes]  # by position: documents may be equal
    slos: list[Slo] = []
    composites: list[tuple[Mapping, Mapping]] = []  # parsed last: their objectives name the others
    corrections: list = []  # the documents' corrections: lists, checked once every SLO is known
    for doc in ours:
        if isinstance(doc, list):
            doc = {"slos": doc}
        if isinstance(doc, Mapping) and "corrections" in doc:
            corrections.append(doc["corrections"])
            doc = {k: v for k, v in doc.items() if k != "corrections"}
            if not doc:  # a document of corrections alone (beside OpenSLO documents, say)
                continue
        shaped = isinstance(doc, Mapping) and isinstance(doc.get("slos"), list)
        if not shaped or set(doc) - {"slos", "defaults"}:
            raise SpecError(f"{source}: expected a mapping with 'slos:' (a list) and optional 'defaults:' and "
                            "'corrections:', or OpenSLO documents (apiVersion: openslo/v1)")
        defaults = doc.get("defaults") or {}
        if not isinstance(defaults, Mapping):
            raise SpecError(f"{source}: 'defaults' must be a mapping")
        for item in doc["slos"]:
            if isinstance(item, Mapping) and "composite" in item:
                composites.append((item, defaults))
            else:
                slos.append(parse_slo(item, source, defaults))
    if openslo:
        slos.extend(from_openslo(openslo, source))
    known: dict[str, Slo | None] = {slo.name: slo for slo in slos}
    known |= {str(item.get("name")).strip(): None for item, _ in composites}
    slos.extend(parse_slo(item, source, defaults, known) for item, defaults in composites)
    return with_corrections(slos, corrections, source)


def with_corrections(slos: list[Slo], lists: list, source: str) -> list[Slo]:
    """The SLOs, each carrying the file's budget corrections that apply to it (analytics.slo.corrections)."""
    parsed = [c for raw in lists for c in parse_corrections(raw, slos, source)]
    if not parsed:
        return slos
    return [replace(slo, corrections=tuple(c for c in parsed if c.applies_to(slo.name))) for slo in slos]
