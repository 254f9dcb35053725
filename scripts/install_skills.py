#!/usr/bin/env python3
"""Install the playbooks for an assistant. Same as `spcs-llm install-skills`; see --help."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spcs_llm.cli import run_as_script  # noqa: E402

run_as_script("install-skills")
