"""Every step also runs as `python scripts/<step>.py` from a checkout, and a script named like a
standard module (select.py) must not shadow that module for the rest of the pack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from spcs_llm.cli import STEPS

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def test_every_step_has_a_thin_script():
    missing = [step for step in STEPS if not (SCRIPTS / f"{step.replace('-', '_')}.py").exists()]
    assert missing == []


@pytest.mark.parametrize("step", sorted(STEPS))
def test_thin_script_help(step, tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPTS / f"{step.replace('-', '_')}.py"), "--help"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: spcs-llm {step}")


def test_select_script_does_not_shadow_the_select_module(tmp_path):
    code = (f"import runpy, sys; sys.argv = ['x', '--help']\n"
            f"try:\n    runpy.run_path({str(SCRIPTS / 'select.py')!r}, run_name='__main__')\n"
            f"except SystemExit:\n    pass\n"
            f"import select, subprocess; print(hasattr(select, 'poll'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=SCRIPTS)
    assert proc.stdout.strip().endswith("True"), proc.stderr
