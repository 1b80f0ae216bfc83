"""SLO files: the project's slos.yaml, the packaged defaults, and reading either format.

Every reader of SLO files (the command line, every page, the bench) comes here, so a broken
file is the same SpecError everywhere, naming the file, the SLO and the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

import yaml

from analytics.errors import SpecError
from analytics.slo.openslo import from_openslo
from analytics.slo.spec import Slo, parse_slo

# The SLO file the app and every command read unless told otherwise.
PROJECT_SLO_FILE = Path(__file__).resolve().parents[2] / "slos.yaml"
# Objectives assumed for deployments that no latency or goodput SLO covers (by kind).
DEFAULT_SLO_FILE = Path(__file__).resolve().with_name("defaults.yaml")


def parse_text(text: str, source: str) -> tuple[Slo, ...]:
    """SLOs from one file's YAML text (our format or OpenSLO v1, detected per document)."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise SpecError(f"{source}: not valid YAML ({' '.join(str(exc).split())})") from exc
    return unique(parse_documents(docs, source))


def read_text(path: str | Path) -> str:
    """A file's text, or a SpecError naming it."""
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise SpecError(f"{path}: cannot read ({reason})") from exc


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
    """Parse already-loaded YAML documents (our format or OpenSLO v1)."""
    docs = list(docs)
    openslo = [d for d in docs
               if isinstance(d, Mapping) and str(d.get("apiVersion", "")).startswith("openslo/")]
    ours = [d for d in docs if d not in openslo]
    slos: list[Slo] = []
    for doc in ours:
        if isinstance(doc, list):
            doc = {"slos": doc}
        shaped = isinstance(doc, Mapping) and isinstance(doc.get("slos"), list)
        if not shaped or set(doc) - {"slos", "defaults"}:
            raise SpecError(f"{source}: expected a mapping with 'slos:' (a list) and optional 'defaults:', "
                            "or OpenSLO documents (apiVersion: openslo/v1)")
        defaults = doc.get("defaults") or {}
        if not isinstance(defaults, Mapping):
            raise SpecError(f"{source}: 'defaults' must be a mapping")
        slos.extend(parse_slo(item, source, defaults) for item in doc["slos"])
    if openslo:
        slos.extend(from_openslo(openslo, source))
    return slos
