#!/usr/bin/env bash
# The one test command (README): lint, the whole offline test suite, the docs build.
# Uses the project's venv (.venv) when it exists. Live tests in tests/live run only when
# SPCS_LLM_LIVE_CONNECTION names a configured connection (tests/live/conftest.py); else they skip.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] && PY=.venv/bin/python
"$PY" -m ruff check .
"$PY" -m pytest
if [ -f mkdocs.yml ]; then
  site="$(mktemp -d)"
  NO_MKDOCS_2_WARNING=1 "$PY" -m mkdocs build --strict --quiet --site-dir "$site"
  rm -rf "$site"
fi
