#!/usr/bin/env python3
"""Step `select`. Same as `spcs-llm select`; see --help."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spcs_llm.cli import run_as_script  # noqa: E402

run_as_script("select")
