#!/usr/bin/env python3
"""Rank SPCS instance families for a model and write deployment.yaml. Same as `spcs-llm plan`; see --help."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spcs_llm.cli import run_as_script  # noqa: E402

run_as_script("plan")
