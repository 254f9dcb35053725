#!/usr/bin/env python3
"""Build or push the custom vLLM image (docker, snow spcs image-registry). Same as `spcs-llm image`; see --help."""
import sys
from pathlib import Path

# Python puts this folder first on sys.path; move it last so that scripts/select.py cannot shadow
# the standard library's select module.
HERE = Path(__file__).resolve().parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]
from spcs_llm.cli import run_as_script  # noqa: E402

run_as_script("image")
