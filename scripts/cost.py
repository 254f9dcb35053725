#!/usr/bin/env python3
"""Credits by pool and service, and what bills now. Same as `spcs-llm cost`; see --help."""
import sys
from pathlib import Path

# Python puts this directory first on sys.path, where step scripts named like stdlib modules
# (select.py) would shadow them; so the directory goes last instead.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]
from spcs_llm.cli import run_as_script  # noqa: E402

run_as_script("cost")
