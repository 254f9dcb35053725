#!/usr/bin/env python3
"""List live compute pools and GPU instance families against the plan. Same as `spcs-llm pools`; see --help."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spcs_llm.cli import run_as_script  # noqa: E402

run_as_script("pools")
