"""The command-line reference in docs/cli.md is the parsers' own: every option of every command."""

from __future__ import annotations

import argparse

from analytics.cli.main import CLI_DOCS, COMMANDS, REFERENCE_END, REFERENCE_START, build_parser, reference


def test_the_cli_reference_page_matches_the_argument_parsers():
    page = CLI_DOCS.read_text()
    start, end = page.index(REFERENCE_START), page.index(REFERENCE_END) + len(REFERENCE_END)
    assert page[start:end] == reference(), "docs/cli.md is stale: run `make docs`"


def test_every_option_of_every_command_is_in_the_reference():
    text = reference()
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name in COMMANDS:
        options = [o for a in sub.choices[name]._actions for o in a.option_strings if o not in ("-h", "--help")]
        assert f"**`{name}`**" in text
        assert all(f"`{o}" in text for o in options), name
