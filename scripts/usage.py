#!/usr/bin/env python3
"""SQL, Python and REST snippets for the deployed registry service. Same as `spcs-llm usage`; see --help."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spcs_llm.cli import run_as_script  # noqa: E402

run_as_script("usage")
