"""Command line: python -m analytics [--dsn DSN] COMMAND ...

Every command resolves its connection like the app (see analytics.config), exits non-zero with a
one-line reason on bad input, and shows progress on long work.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from analytics.config import resolve_dsn
from analytics.errors import InputError, SourceError, SpecError

# Commands implemented in their own modules: name -> module exposing add_arguments() and run().
COMMAND_MODULES = {
    "demo": ("analytics.demo_cli", "seed demo telemetry for the demo fleet"),
    "ingest": ("analytics.ingest_cli", "load request or GPU telemetry files"),
    "slo": ("analytics.slo_cli", "SLO status, budgets and firing alerts"),
    "gpu": ("analytics.gpu_cli", "GPU efficiency and cost per deployment"),
    "forecast": ("analytics.forecast_cli", "demand forecasts and capacity"),
    "bench": ("analytics.bench", "time the dashboard's queries on a large seeded store"),
}


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    """The argument parser with every available command."""
    parser = argparse.ArgumentParser(prog="python -m analytics", description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="chdb:///abs/path or http(s)://user:password@host:port/db")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = {}
    for name, (module_name, help_text) in COMMAND_MODULES.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # a command whose module is not part of this build
        modules[name] = module
        module.add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    from analytics.schema import open_store  # the driver loads only when a command runs

    store = None
    try:
        store = open_store(resolve_dsn(args.dsn))
        return int(modules[args.command].run(args, store) or 0)
    except (InputError, SpecError, SourceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if store is not None:
            store.close()


if __name__ == "__main__":
    sys.exit(main())
