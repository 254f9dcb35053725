"""Every step documents itself: `spcs-llm --help` names --version, and every option of every
step has help text (a newcomer reads `--help` instead of the source)."""

from __future__ import annotations

import argparse
import importlib

import pytest

from spcs_llm import cli


def test_top_help_lists_every_step_and_version(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "spcs-llm --version" in out
    for step in cli.STEPS:
        assert f"  {step} " in out


@pytest.mark.parametrize("step", sorted(cli.STEPS))
def test_every_option_has_help(step):
    parser = cli.build_parser(step, importlib.import_module(cli.STEPS[step][0]))
    undocumented = []

    def walk(p: argparse.ArgumentParser, prefix: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{prefix}{name} ")
                continue
            if isinstance(action, argparse._HelpAction):
                continue
            if action.help == argparse.SUPPRESS:
                continue  # hidden on purpose
            if not (action.help or "").strip():
                undocumented.append(prefix + ("/".join(action.option_strings) or action.dest))

    walk(parser, "")
    assert undocumented == [], f"options without help text in `spcs-llm {step}`: {undocumented}"


def test_readme_counts_the_failures_diagnose_knows():
    """The README's steps table states how many failures `diagnose` matches; it drifted once."""
    import re
    from pathlib import Path

    from spcs_llm.debug.signatures import SIGNATURES

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    counts = re.findall(r"to (\d+) known failures", readme)
    assert counts == [str(len(SIGNATURES))], counts
