"""The README's command-line reference is the parsers' own: every option of every command."""

from __future__ import annotations

import argparse

from analytics.cli.main import COMMANDS, REFERENCE_END, REFERENCE_START, build_parser, reference
from tests.conftest import ROOT


def test_the_readme_reference_matches_the_argument_parsers():
    readme = (ROOT / "README.md").read_text()
    start, end = readme.index(REFERENCE_START), readme.index(REFERENCE_END) + len(REFERENCE_END)
    assert readme[start:end] == reference(), "the README's command-line reference is stale: run `make docs`"


def test_every_option_of_every_command_is_in_the_reference():
    text = reference()
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name in COMMANDS:
        options = [o for a in sub.choices[name]._actions for o in a.option_strings if o not in ("-h", "--help")]
        assert f"**`{name}`**" in text
        assert all(f"`{o}" in text for o in options), name
