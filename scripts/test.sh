#!/usr/bin/env bash
# The one test command (README): lint, the whole offline test suite, the docs build.
# Live tests in tests/live run only when a Snowflake connection is configured.
set -euo pipefail
cd "$(dirname "$0")/.."
ruff check .
python -m pytest
if [ -f mkdocs.yml ]; then
  python -m mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
fi
