#!/usr/bin/env python3
"""Render the custom-image spec and SQL from the plan. Same as `spcs-llm render-custom`; see --help."""
import sys
from pathlib import Path

# Python puts this folder first on sys.path; move it last so that scripts/select.py cannot shadow
# the standard library's select module.
HERE = Path(__file__).resolve().parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]
from spcs_llm.cli import run_as_script  # noqa: E402

run_as_script("render-custom")
